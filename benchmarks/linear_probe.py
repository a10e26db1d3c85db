"""Linear probe of the true state from frozen encoders, on held-out episodes.

For each configured encoder, extracts patch tokens of every frame of the dataset's first
`n_train_episodes` and last `n_test_episodes` episodes, fits ridge regression to the probed
entries of the proprio or of the recorded task states (`target`: ``states`` holds what the
proprio lacks, e.g. Push-T's block pose or the cube's position; `envs.dataset`)
(`worldmodels.linear_probe`) and reports held-out R^2 and RMSE, and how well
latent distance ranks pairs of held-out frames by true distance
(`worldmodels.distance_probe`), which is what the planning energy relies on. `random: true`
probes an encoder of the same architecture with random weights, the baseline an in-domain
pretrained encoder must beat. Writes ``linear_probe.json`` into the hydra run directory.
Run ``python -m benchmarks.linear_probe``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import hydra
import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from benchmarks.encoder_specs import build_encoder
from envs.dataset import TrajectoryDataset
from worldmodels.distance_probe import distance_rank_correlation
from worldmodels.linear_probe import linear_probe, patch_features, split_episodes

logger = logging.getLogger(__name__)


def frames_and_states(
    dataset: TrajectoryDataset, indices: list[int], target: str, dims: list[int]
) -> tuple[np.ndarray, torch.Tensor]:
    """All frames (F, H, W, 3) of the episodes and their probed entries (F, S) of `target`
    (``proprio`` or ``states``).

    Raises:
        ValueError: `target` is neither, or an episode records no task states.
    """
    if target not in ("proprio", "states"):
        raise ValueError(f"target must be 'proprio' or 'states', got {target!r}")
    episodes = dataset.episodes(list(indices))
    missing = [i for i, e in zip(indices, episodes, strict=True) if getattr(e, target) is None]
    if missing:
        raise ValueError(
            f"target=states, but episodes {missing[:5]} of {dataset.root} record no task "
            "states (collect them with wmplan-collect, which records them, or probe "
            "target=proprio)"
        )
    pixels = np.concatenate([e.pixels for e in episodes])
    states = np.concatenate([getattr(e, target)[:, dims] for e in episodes])
    return pixels, torch.from_numpy(states).float()


@hydra.main(config_path="conf", config_name="linear_probe", version_base="1.3")
def main(cfg: DictConfig) -> None:
    dataset = TrajectoryDataset(cfg.dataset, cfg.env_id)
    n_train, n_test = cfg.n_train_episodes, cfg.n_test_episodes
    if n_train + n_test > len(dataset):
        raise ValueError(
            f"n_train_episodes + n_test_episodes ({n_train + n_test}) exceed the dataset's "
            f"{len(dataset)} episodes"
        )
    dims = list(cfg.state_dims)
    train, test = split_episodes(len(dataset), n_train, n_test, cfg.shuffle_seed)
    train_pixels, train_states = frames_and_states(dataset, train, cfg.target, dims)
    test_pixels, test_states = frames_and_states(dataset, test, cfg.target, dims)
    rows = []
    for label, spec in cfg.encoders.items():
        encoder = build_encoder(spec, cfg.env_id, cfg.seed).to(cfg.device)
        options = {"image_size": spec.get("image_size"), "reduce": cfg.reduce}
        test_features = patch_features(encoder, test_pixels, **options)
        train_features = patch_features(encoder, train_pixels, **options)
        result = linear_probe(train_features, train_states, test_features, test_states)
        rank_correlation = distance_rank_correlation(test_features, test_states, seed=cfg.seed)
        rows.append(
            {
                "encoder": label,
                "reduce": cfg.reduce,
                "r2": result.r2.tolist(),
                "rmse": result.rmse.tolist(),
                "ridge": result.ridge,
                "distance_rank_correlation": rank_correlation,
            }
        )
        logger.info(
            "%-12s R^2 %s  RMSE %s  distance rank correlation %.3f (held-out, %d frames)",
            label,
            np.round(result.r2.numpy(), 3).tolist(),
            np.round(result.rmse.numpy(), 3).tolist(),
            rank_correlation,
            len(test_states),
        )
    out = Path(HydraConfig.get().runtime.output_dir) / "linear_probe.json"
    report = {"rows": rows, "state_std": test_states.std(dim=0).tolist()}
    out.write_text(json.dumps(report | {"config": OmegaConf.to_container(cfg)}, indent=2))
    logger.info("written to %s", out)


if __name__ == "__main__":
    main()
