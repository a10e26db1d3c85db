"""``python -m benchmarks.serve_load``: the policy server under load, and its faults.

For each mode (``batched``: replans arriving together from several connections in one
planner call; ``one_per_request``: the same server with ``max_batch_size=1``) the server runs
in this process on loopback and ``n_clients`` client threads, each stepping its own
environment with the first row of each reply, send requests at ``rate_hz`` for
``duration_s`` (a client whose reply comes late sends the next at once). Reported per mode:
requests answered per second, request latency p50/p99, failed or dropped requests, the mean
batch size of the planner's calls, and the process's resident memory after the warm-up and at
the end. During the batched run every case of ``benchmarks.policy_faults`` is sent on a
connection of its own; the table records the error text and the close code and reason.
Writes ``results.json`` and ``serve_load.md`` into the hydra run directory.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import gymnasium as gym
import hydra
import numpy as np
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from websockets.sync.client import connect

from benchmarks.latency import latency_ms
from benchmarks.planning_defaults import user_override_keys
from benchmarks.planning_setup import PlanningSetup, planning_setup
from benchmarks.policy_faults import malformed_requests, refusal
from benchmarks.policy_protocol import GOAL_IMAGE, GOAL_STATE, IMAGE, STATE, pack, unpack
from benchmarks.policy_server import policy_server

logger = logging.getLogger(__name__)


@dataclass
class ClientLog:
    """What one client saw: request latencies (s) after the warm-up, failures, episodes."""

    latencies_s: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    episodes: int = 0


def _request(obs: dict, goal: dict | None, proprio_dim: int) -> dict:
    """The request of an observation (and a goal, to start an episode)."""
    request = {IMAGE: obs["pixels"]}
    if proprio_dim:
        request[STATE] = obs["proprio"].astype(np.float32)
    if goal is not None:
        request[GOAL_IMAGE] = goal["pixels"]
        if proprio_dim:
            request[GOAL_STATE] = goal["proprio"].astype(np.float32)
    return request


def run_client(
    url: str, cfg: DictConfig, index: int, proprio_dim: int, start: float, log: ClientLog
) -> None:
    """One robot: steps its environment with the replies at ``cfg.rate_hz`` until the run
    ends; a new episode (and goal) after each truncation."""
    env = gym.make(cfg.env_id, **OmegaConf.to_container(cfg.env_kwargs))
    seed = cfg.episode_seed + index
    obs, info = env.reset(seed=seed)
    request = _request(obs, info["goal_obs"], proprio_dim)
    period, end = 1.0 / cfg.rate_hz, start + cfg.warmup_s + cfg.duration_s
    try:
        with connect(url, max_size=None, compression=None) as websocket:
            websocket.recv()  # the metadata
            next_send = time.monotonic()
            while time.monotonic() < end:
                sent = time.monotonic()
                websocket.send(pack(request))
                answer = websocket.recv(timeout=120)
                if isinstance(answer, str):
                    log.failures.append(answer)
                    return
                if sent >= start + cfg.warmup_s:
                    log.latencies_s.append(time.monotonic() - sent)
                obs, _, terminated, truncated, info = env.step(unpack(answer)["actions"][0])
                request = _request(obs, None, proprio_dim)
                if terminated or truncated:
                    log.episodes += 1
                    seed += cfg.n_clients
                    obs, info = env.reset(seed=seed)
                    request = _request(obs, info["goal_obs"], proprio_dim)
                next_send = max(next_send + period, time.monotonic() - period)
                time.sleep(max(0.0, next_send - time.monotonic()))
    except Exception as error:  # recorded: a failed or dropped request
        log.failures.append(f"{type(error).__name__}: {error}")
    finally:
        env.close()


def resident_mib() -> float:
    """This process's resident memory in MiB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_faults(url: str, image_shape: tuple[int, int, int], proprio_dim: int) -> list[dict]:
    """Each malformed request on a connection of its own: what came back."""
    rows = []
    for name, (message, expected) in malformed_requests(image_shape, proprio_dim).items():
        frames, code, reason = refusal(url, message)
        text = " | ".join(f for f in frames if isinstance(f, str))
        rows.append(
            {
                "input": name,
                "error": text,
                "close_code": code,
                "reason": reason,
                "as_expected": expected in text and code == 1008,
            }
        )
    return rows


def run_mode(
    setup: PlanningSetup, cfg: DictConfig, max_batch_size: int | None, faults: bool
) -> dict:
    """One load run against a fresh server; returns its figures (and the fault table)."""
    server = policy_server(setup, cfg, max_batch_size=max_batch_size)
    logs = [ClientLog() for _ in range(cfg.n_clients)]
    with server.running(cfg.host, 0) as port:
        url = f"ws://{cfg.host}:{port}"
        start = time.monotonic()
        threads = [
            threading.Thread(
                target=run_client,
                args=(url, cfg, i, setup.world_model.proprio_dim, start, logs[i]),
            )
            for i in range(cfg.n_clients)
        ]
        for thread in threads:
            thread.start()
        time.sleep(cfg.warmup_s)
        memory_start = resident_mib()
        calls_start, problems_start = server.pool.n_calls, server.pool.n_problems
        fault_rows = (
            run_faults(url, setup.image_shape, setup.world_model.proprio_dim) if faults else []
        )
        for thread in threads:
            thread.join()
        calls = server.pool.n_calls - calls_start
        problems = server.pool.n_problems - problems_start
        memory_end = resident_mib()
    server.close()
    latencies = np.array([s for log in logs for s in log.latencies_s])
    return {
        "requests": len(latencies),
        "throughput_per_s": len(latencies) / cfg.duration_s,
        "latency": latency_ms(latencies),
        "failures": [f for log in logs for f in log.failures],
        "episodes": sum(log.episodes for log in logs),
        "planner_calls": calls,
        "mean_batch_size": problems / max(calls, 1),
        "memory_mib_after_warmup": memory_start,
        "memory_mib_at_end": memory_end,
        "faults": fault_rows,
    }


def report(results: dict, cfg: DictConfig) -> str:
    """The figures and the fault table as markdown."""
    lines = [
        f"{cfg.n_clients} clients x {cfg.duration_s} s at {cfg.rate_hz} Hz, {cfg.env_id}, "
        f"planner {cfg.planner.name}",
        "",
        "| mode | requests/s | p50 ms | p99 ms | failed | mean batch | RSS MiB start -> end |",
        "|---|---|---|---|---|---|---|",
    ]
    for mode, r in results["modes"].items():
        lines.append(
            f"| {mode} | {r['throughput_per_s']:.2f} | {r['latency']['p50_ms']:.0f} | "
            f"{r['latency']['p99_ms']:.0f} | {len(r['failures'])} | {r['mean_batch_size']:.2f} | "
            f"{r['memory_mib_after_warmup']:.0f} -> {r['memory_mib_at_end']:.0f} |"
        )
    if "throughput_ratio" in results:
        lines += [
            "",
            f"throughput batched / one plan per request: {results['throughput_ratio']:.2f}",
        ]
    faults = [row for r in results["modes"].values() for row in r["faults"]]
    if faults:
        lines += ["", "| malformed input | error text | close | as expected |", "|---|---|---|---|"]
        for row in faults:
            lines.append(
                f"| {row['input']} | {row['error']} | {row['close_code']} {row['reason']} | "
                f"{row['as_expected']} |"
            )
    return "\n".join(lines)


@hydra.main(config_path="conf", config_name="serve_load", version_base="1.3")
def main(cfg: DictConfig) -> dict:
    setup = planning_setup(cfg, user_override_keys(HydraConfig.get().overrides.task))
    cfg = setup.cfg
    batch_sizes = {"batched": None, "one_per_request": 1}
    modes = {
        mode: run_mode(setup, cfg, batch_sizes[mode], cfg.faults and mode == "batched")
        for mode in cfg.modes
    }
    results = {"modes": modes, "config": OmegaConf.to_container(cfg, resolve=True)}
    if {"batched", "one_per_request"} <= modes.keys():
        one = modes["one_per_request"]["throughput_per_s"]
        results["throughput_ratio"] = modes["batched"]["throughput_per_s"] / max(one, 1e-9)
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    (out_dir / "results.json").write_text(json.dumps(results, indent=2))
    table = report(results, cfg)
    (out_dir / "serve_load.md").write_text(table + "\n")
    print(table)
    print(f"results in {out_dir}")
    return results


if __name__ == "__main__":
    main()
