"""``wmplan-recipe``: build a world model for one environment from nothing, in one folder.

``wmplan-recipe env=wall`` collects the data, pretrains the encoder, trains the predictor and
the decoder, writes the model's planning defaults and runs the benchmark, each stage as the
command a user would type (logged in ``<out>/logs``). Killed at any point, the same command
continues where it stopped: finished stages are skipped, a half-done one resumes from its own
checkpoint. ``stages=[collect,encoder]`` runs a subset; ``scale=0.01`` a quick small run.
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from benchmarks.recipe_stages import Runtime, recipe_stages
from benchmarks.stages import run_chain

logger = logging.getLogger(__name__)


@hydra.main(config_path="conf/recipe", config_name="recipe", version_base="1.3")
def main(cfg: DictConfig) -> dict[str, str]:
    out = Path(cfg.out).resolve()
    env = OmegaConf.to_container(cfg.env, resolve=True)
    run = Runtime(device=cfg.device, threads=cfg.threads, workers=cfg.workers)
    stages = recipe_stages(env, out, scale=cfg.scale, run=run)
    names = list(cfg.stages) if cfg.stages is not None else None
    outcome = run_chain(stages, out, names=names, progress=cfg.progress)
    logger.info("recipe %s in %s: %s", cfg.env.name, out, outcome)
    return outcome


if __name__ == "__main__":
    main()
