"""``wmplan-collect``: gather episodes from an environment into a trajectory dataset."""

from __future__ import annotations

import logging

import hydra
from omegaconf import DictConfig, OmegaConf

import envs  # noqa: F401  (registers the environments)
from envs.collect import CollectionJob, collect

logger = logging.getLogger(__name__)


@hydra.main(config_path="conf", config_name="collect", version_base="1.3")
def main(cfg: DictConfig) -> None:
    job = CollectionJob(
        out_dir=cfg.out,
        env_id=cfg.env_id,
        episode_length=cfg.episode_length,
        seed=cfg.seed,
        env_kwargs=OmegaConf.to_container(cfg.env_kwargs),
        policy=cfg.policy,
        hold_prob=cfg.hold_prob,
        noise=cfg.noise,
        expert=OmegaConf.to_container(cfg.expert),
    )
    n = collect(job, n_episodes=cfg.n_episodes, workers=cfg.workers, extend=cfg.extend)
    logger.info("dataset %s holds %d episodes", cfg.out, n)


if __name__ == "__main__":
    main()
