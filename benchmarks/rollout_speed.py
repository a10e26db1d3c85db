"""World-model rollout throughput: key-value cache versus the uncached window, and FLOP/s.

Rolls `n_candidates` action sequences of `horizon` steps for `batch_size` problems through a
predictor of the configured size (random weights; speed does not depend on them), with
`WorldModel.rollout`'s key-value cache and without it. Reports candidate-steps per second,
the FLOPs of each rollout (counted by `torch.utils.flop_counter.FlopCounterMode`), the
achieved FLOP/s, and the same for a plain square matrix multiply on the same device, the
ceiling. Writes ``rollout_speed.json`` into the hydra run directory.
Run ``python -m benchmarks.rollout_speed``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from benchmarks.speed import flops, timed, world_model_of_size

logger = logging.getLogger(__name__)


@hydra.main(config_path="conf", config_name="rollout_speed", version_base="1.3")
def main(cfg: DictConfig) -> None:
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = torch.device(cfg.device)
    world_model = world_model_of_size(
        cfg.tokens, cfg.token_dim, cfg.action_dim, cfg.num_hist, cfg.predictor, cfg.device
    )
    B, N, H, T = cfg.batch_size, cfg.n_candidates, cfg.horizon, cfg.history
    generator = torch.Generator().manual_seed(0)
    z_hist = torch.randn(B, T, cfg.tokens, cfg.token_dim, generator=generator).to(device)
    actions = torch.randn(B, N, H, cfg.action_dim, generator=generator).to(device)
    past = torch.randn(B, T - 1, cfg.action_dim, generator=generator).to(device) if T > 1 else None
    rows = []
    with torch.no_grad():
        cached = world_model.rollout(z_hist, actions, past, use_cache=True)
        plain = world_model.rollout(z_hist, actions, past, use_cache=False)
        max_difference = (cached - plain).abs().max().item()
        for name, use_cache in (("uncached", False), ("cached", True)):

            def rollout(use_cache: bool = use_cache) -> torch.Tensor:
                return world_model.rollout(z_hist, actions, past, use_cache=use_cache)

            seconds = timed(rollout, cfg.repeats, device)
            count = flops(rollout)
            rows.append(
                {
                    "variant": name,
                    "seconds": seconds,
                    "candidate_steps_per_s": B * N * H / seconds,
                    "flops": count,
                    "flop_per_s": count / seconds,
                }
            )
        size = cfg.matmul_size
        a, b = torch.randn(size, size, device=device), torch.randn(size, size, device=device)
        seconds = timed(lambda: a @ b, cfg.repeats, device)
        ceiling = 2 * size**3 / seconds
    for row in rows:
        row["fraction_of_matmul"] = row["flop_per_s"] / ceiling
        logger.info(
            "%-9s %8.1f ms %10.0f candidate-steps/s %7.2f GFLOP %7.1f GFLOP/s (%.0f%% of matmul)",
            row["variant"],
            1e3 * row["seconds"],
            row["candidate_steps_per_s"],
            row["flops"] / 1e9,
            row["flop_per_s"] / 1e9,
            100 * row["fraction_of_matmul"],
        )
    speedup = rows[0]["seconds"] / rows[1]["seconds"]
    logger.info("cache speed-up %.2fx; max |cached - uncached| %.2e", speedup, max_difference)
    logger.info("matmul %dx%d: %.1f GFLOP/s", cfg.matmul_size, cfg.matmul_size, ceiling / 1e9)
    report = {
        "rows": rows,
        "cache_speedup": speedup,
        "max_abs_difference": max_difference,
        "matmul_flop_per_s": ceiling,
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        "config": OmegaConf.to_container(cfg),
    }
    out = Path(HydraConfig.get().runtime.output_dir) / "rollout_speed.json"
    out.write_text(json.dumps(report, indent=2))
    logger.info("written to %s", out)


if __name__ == "__main__":
    main()
