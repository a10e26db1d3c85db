"""Peak memory of the frozen encoder's pass over a dataset: ``python -m benchmarks.encode_memory``.

Predictor training on a frozen encoder encodes every frame once. Loaded as one array, the frames
of Push-T's 6000 episodes are 7.4 GB of uint8 and their flattening peaked at 14 GB; read from
the episode files as they are encoded (`worldmodels.training_data.flatten_dataset`), they are
never all in memory. Each way runs in a fresh process (spawned), which reports its peak resident
memory (``ru_maxrss``) and seconds; the two latents must be equal bit for bit. Writes
``encode_memory.json`` into the hydra run directory.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import resource
import time
from pathlib import Path

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from envs.dataset import TrajectoryDataset
from worldmodels.checkpoint import load_world_model
from worldmodels.training_data import encode_frames, flatten_dataset, flatten_episodes

logger = logging.getLogger(__name__)
WAYS = ("in_memory", "from_disk")


def _encode(way: str, cfg: dict) -> dict[str, float | str]:
    """In a fresh process: encode the dataset one ``way``; its peak memory, seconds, digest."""
    torch.set_num_threads(cfg["threads"])
    start = time.perf_counter()
    dataset = TrajectoryDataset(cfg["dataset"], env_id=cfg["env_id"], n_episodes=cfg["n_episodes"])
    world_model = load_world_model(cfg["world_model"])
    data = flatten_episodes(dataset.episodes()) if way == "in_memory" else flatten_dataset(dataset)
    z = encode_frames(world_model, data)  # (F, P, D)
    return {
        "seconds": time.perf_counter() - start,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,  # KB on Linux
        "frames": len(z),
        "latents_sha256": hashlib.sha256(z.numpy().tobytes()).hexdigest(),
    }


@hydra.main(config_path="conf", config_name="encode_memory", version_base="1.3")
def main(cfg: DictConfig) -> dict:
    settings = {k: cfg[k] for k in ("dataset", "env_id", "n_episodes", "world_model", "threads")}
    results = {}
    for way in WAYS:  # a fresh interpreter each: its peak memory is its own
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            results[way] = pool.apply(_encode, (way, settings))
    if results["in_memory"]["latents_sha256"] != results["from_disk"]["latents_sha256"]:
        raise RuntimeError(f"the two ways encoded different latents: {results}")
    memory, disk = results["in_memory"], results["from_disk"]
    summary = {
        "frames": disk["frames"],
        "memory_ratio": memory["peak_rss_gb"] / disk["peak_rss_gb"],
        "time_ratio": disk["seconds"] / memory["seconds"],
    }
    logger.info(
        "%d frames: peak memory %.2f GB in memory, %.2f GB from disk (%.1fx less); "
        "%.0f s and %.0f s (from disk / in memory %.2fx); latents equal",
        summary["frames"], memory["peak_rss_gb"], disk["peak_rss_gb"], summary["memory_ratio"],
        memory["seconds"], disk["seconds"], summary["time_ratio"],
    )  # fmt: skip
    out = Path(HydraConfig.get().runtime.output_dir) / "encode_memory.json"
    report = {"config": settings, "results": results, "summary": summary}
    out.write_text(json.dumps(report, indent=2, default=str))
    return report


if __name__ == "__main__":
    main()
