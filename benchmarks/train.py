"""``wmplan-train``: pretrain an encoder (a ViT, or a keypoint encoder), train a predictor,
train a world model's visualisation decoder, its high-level model over latent macro-actions,
or its temporal-distance head, on a dataset.

A killed run leaves its latest training state in ``out`` (``encoder_training_state``,
``training_state`` (``fine_tune_state`` with ``init_from``), ``decoder_training_state`` or
``temporal_distance_training_state``, ``.safetensors``); the same command
resumes from it and ends with the uninterrupted run's log and weights."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from envs.dataset import TrajectoryDataset
from worldmodels.checkpoint import (
    DECODER_DIR,
    GOAL_POLICY_DIR,
    HIGH_LEVEL_DIR,
    TEMPORAL_DISTANCE_DIR,
    encoder_digest,
    load_world_model,
    save_world_model,
)
from worldmodels.checkpoint_config import check_trained_env, read_world_model_config
from worldmodels.decoder import save_decoder
from worldmodels.distributed import close_distributed, init_distributed, is_main_process
from worldmodels.encoder_loading import load_encoder, save_encoder
from worldmodels.goal_policy import save_goal_policy, train_goal_policy
from worldmodels.pretrain_encoder import pretrain_encoder
from worldmodels.pretrain_keypoints import pretrain_keypoints
from worldmodels.temporal_distance import save_temporal_distance, train_temporal_distance
from worldmodels.train_decoder import train_decoder
from worldmodels.train_predictor import train_predictor
from worldmodels.training_data import (
    FlatEpisodes,
    encode_episodes,
    encode_frames,
    flatten_dataset,
    flatten_episodes,
)
from worldmodels.world_model import WorldModel
from worldmodels.world_model_setup import encoder_provenance, world_model_for_data

logger = logging.getLogger(__name__)

FINE_TUNE_STATE = "fine_tune_state.safetensors"
"""A fine-tune's training state, apart from a new predictor's: neither resumes the other."""


def _data_provenance(dataset: TrajectoryDataset) -> dict:
    """The dataset a model was trained on: its folder and how many of its episodes (its first)."""
    return {"dataset": str(dataset.root), "n_episodes": len(dataset)}


def _pretrain(cfg: DictConfig, dataset: TrajectoryDataset, device: torch.device) -> list[dict]:
    """Pretrains an encoder on the dataset's frames and writes it to ``out``: a ViT
    self-supervised (mode=encoder) or a keypoint encoder by reconstruction (mode=keypoints)."""
    stride = cfg.episode_stride
    if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
        raise ValueError(f"episode_stride must be an integer >= 1, got {stride!r}")
    data = flatten_episodes(dataset.episodes(range(0, len(dataset), stride)))
    torch.manual_seed(cfg.seed)
    checkpoint = Path(cfg.out) / "encoder_training_state.safetensors"
    if cfg.mode == "keypoints":
        proprio_dim = data.proprio.reshape(len(data.proprio), -1).shape[1]  # the agent map's input
        encoder = instantiate(cfg.keypoints, proprio_dim=proprio_dim).to(device)
        config = instantiate(cfg.keypoint_train, seed=cfg.seed)
        log = pretrain_keypoints(encoder, data.pixels, data.proprio, config, checkpoint=checkpoint)
        objective, settings = "keypoints", cfg.keypoint_train
    else:
        encoder = instantiate(cfg.vit).to(device)
        config = instantiate(cfg.pretrain, seed=cfg.seed)
        log = pretrain_encoder(encoder, data.pixels, data.next_index, config, checkpoint=checkpoint)
        objective, settings = config.objective_name, cfg.pretrain
    extra = {
        **_data_provenance(dataset),
        "episode_stride": stride,
        "env_id": dataset.env_id,
        "objective": objective,
        "pretrain": OmegaConf.to_container(settings),
        "log": log,
    }
    save_encoder(encoder, cfg.out, extra)
    checkpoint.unlink(missing_ok=True)
    logger.info("encoder written to %s (final %s)", cfg.out, log[-1])
    return log


def _train(cfg: DictConfig, dataset: TrajectoryDataset, device: torch.device) -> list[dict]:
    """Trains a predictor on the frozen encoder and writes the world model to ``out``; with
    ``init_from``, fine-tunes that world model's predictor on the dataset instead."""
    if cfg.init_from:
        return _fine_tune(cfg, dataset, device)
    encoder = load_encoder(cfg.encoder).to(device)
    provenance = {"encoder": encoder_provenance(cfg.encoder)}
    return _fit(cfg, dataset, encoder, dict(cfg.world_model), Path(cfg.out), provenance)


def _fine_tune(cfg: DictConfig, dataset: TrajectoryDataset, device: torch.device) -> list[dict]:
    """Trains the predictor of the world model in ``init_from`` further on the dataset (e.g. new
    episodes from the planner itself) and writes the result to ``out``: the model's encoder,
    architecture, action and proprio statistics and frame skip are kept, so ``predictor`` and
    ``world_model`` settings do not apply and ``train.frameskip`` must be the model's."""
    source = Path(cfg.init_from)
    if source.resolve() == Path(cfg.out).resolve():
        raise ValueError(
            f"init_from and out are both {source}: write the fine-tuned model elsewhere"
        )
    world_model = load_world_model(source, device=device)
    check_trained_env(source, dataset.env_id, f"init_from={source}")
    if cfg.train.frameskip != world_model.frameskip:
        raise ValueError(
            f"train.frameskip={cfg.train.frameskip} differs from the frame skip of "
            f"init_from={source} ({world_model.frameskip}); fine-tuning keeps the model's"
        )
    world_model.predictor.requires_grad_(True)
    provenance = {
        "init_from": str(source),
        "encoder_sha256": encoder_digest(source),
        "init_from_provenance": read_world_model_config(source).get("extra", {}),
    }  # the chain back to the first model
    data = flatten_dataset(dataset)  # frames read as they are encoded
    return _train_and_save(cfg, dataset, data, world_model, Path(cfg.out), provenance,
                           state_file=FINE_TUNE_STATE)  # fmt: skip


def _train_high_level(
    cfg: DictConfig, dataset: TrajectoryDataset, device: torch.device
) -> list[dict]:
    """Trains the high-level model (latent macro-actions, ``train.frameskip`` steps per frame)
    of the world model in ``out`` on its frozen encoder; writes it to ``out/high_level``."""
    if not cfg.predictor.get("latent_action_dim"):
        raise ValueError(
            "mode=high_level needs predictor.latent_action_dim > 0 (the latent macro-action's "
            f"dim, e.g. 4), got {cfg.predictor.get('latent_action_dim')!r}"
        )
    low = load_world_model(cfg.out, device=device)
    settings = {"pool": low.pool, "num_hist": low.num_hist, "proprio": low.proprio_dim > 0,
                "proprio_scale": low.proprio_scale}  # fmt: skip
    if low.proprio_dim:  # the low level's statistics: one latent space for both levels
        settings["proprio_statistics"] = (low.proprio_mean.cpu(), low.proprio_std.cpu())
    provenance = {"low_level": str(cfg.out), "encoder_sha256": encoder_digest(Path(cfg.out))}
    return _fit(cfg, dataset, low.encoder, settings, Path(cfg.out) / HIGH_LEVEL_DIR, provenance)


def _fit(
    cfg: DictConfig,
    dataset: TrajectoryDataset,
    encoder: torch.nn.Module,
    settings: dict,
    out: Path,
    provenance: dict,
) -> list[dict]:
    """Trains a new predictor on ``encoder`` with ``cfg.predictor`` and ``cfg.train`` and the
    world model's ``settings`` (`world_model_for_data` keywords), and writes it to ``out``."""
    data = flatten_dataset(dataset)  # frames read as they are encoded
    torch.manual_seed(cfg.seed)
    world_model = world_model_for_data(
        encoder,
        data,
        instantiate(cfg.predictor, _partial_=True),
        frameskip=cfg.train.frameskip,
        **settings,
    )
    return _train_and_save(cfg, dataset, data, world_model, out, provenance)


def _train_and_save(
    cfg: DictConfig,
    dataset: TrajectoryDataset,
    data: FlatEpisodes,
    world_model: WorldModel,
    out: Path,
    provenance: dict,
    state_file: str = "training_state.safetensors",
) -> list[dict]:
    """Trains ``world_model``'s predictor on ``data`` with ``cfg.train`` (resuming from
    ``out/state_file``) and writes the world model to ``out``."""
    config = instantiate(cfg.train, seed=cfg.seed)
    checkpoint = out / state_file
    log = train_predictor(world_model, data, config, checkpoint=checkpoint)
    if not is_main_process():
        return log  # process 0 writes the model
    extra = {
        **_data_provenance(dataset),
        "env_id": dataset.env_id,
        "env_kwargs": dataset.meta["env_kwargs"],
        "train": OmegaConf.to_container(cfg.train),
        "log": log,
        **provenance,
    }
    save_world_model(world_model, out, extra)
    checkpoint.unlink(missing_ok=True)
    logger.info("world model written to %s (final %s)", out, json.dumps(log[-1]))
    return log


def _train_decoder(cfg: DictConfig, dataset: TrajectoryDataset, device: torch.device) -> list[dict]:
    """Trains the decoder of the world model in ``out`` and writes it to ``out/decoder``."""
    world_model = load_world_model(cfg.out, device=device)
    data = flatten_episodes(dataset.episodes())
    checkpoint = Path(cfg.out) / "decoder_training_state.safetensors"
    config = instantiate(cfg.decoder, seed=cfg.seed)
    decoder, log = train_decoder(world_model, data, config, checkpoint=checkpoint)
    extra = {
        **_data_provenance(dataset),
        "encoder_sha256": encoder_digest(Path(cfg.out)),
        "train": OmegaConf.to_container(cfg.decoder),
        "log": log,
    }
    save_decoder(decoder, Path(cfg.out) / DECODER_DIR, extra)
    checkpoint.unlink(missing_ok=True)
    logger.info("decoder written to %s (final %s)", Path(cfg.out) / DECODER_DIR, log[-1])
    return log


def _train_temporal_distance(
    cfg: DictConfig, dataset: TrajectoryDataset, device: torch.device
) -> list[dict]:
    """Trains the temporal-distance head of the world model in ``out`` on its frozen latent
    states; writes it to ``out/temporal_distance``."""
    world_model = load_world_model(cfg.out, device=device)
    episodes = (dataset.episode(i) for i in range(len(dataset)))  # read one at a time
    z, data = encode_episodes(world_model, episodes)  # (F, P, D), without every frame at once
    out = Path(cfg.out) / TEMPORAL_DISTANCE_DIR
    checkpoint = Path(cfg.out) / "temporal_distance_training_state.safetensors"
    config = instantiate(cfg.temporal_distance, seed=cfg.seed)
    head, log = train_temporal_distance(z, data, config, checkpoint=checkpoint)
    extra = {
        **_data_provenance(dataset),
        "encoder_sha256": encoder_digest(Path(cfg.out)),
        "train": OmegaConf.to_container(cfg.temporal_distance),
        "log": log,
    }
    save_temporal_distance(head, out, extra)
    checkpoint.unlink(missing_ok=True)
    logger.info("temporal-distance head written to %s (final %s)", out, log[-1])
    return log


def _train_goal_policy(
    cfg: DictConfig, dataset: TrajectoryDataset, device: torch.device
) -> list[dict]:
    """Trains the goal-conditioned policy of the world model in ``out`` on its frozen latent
    states, each frame's goal its episode's last (hindsight); writes it to ``out/goal_policy``."""
    world_model = load_world_model(cfg.out, device=device)
    data = flatten_dataset(dataset)  # frames read as they are encoded
    z = encode_frames(world_model, data)  # (F, P, D)
    checkpoint = Path(cfg.out) / "goal_policy_training_state.safetensors"
    config = instantiate(cfg.goal_policy, seed=cfg.seed, frameskip=world_model.frameskip)
    policy, log = train_goal_policy(z, data, data.actions, config, checkpoint=checkpoint)
    extra = {
        **_data_provenance(dataset),
        "encoder_sha256": encoder_digest(Path(cfg.out)),
        "train": OmegaConf.to_container(cfg.goal_policy),
        "log": log,
    }
    save_goal_policy(policy, Path(cfg.out) / GOAL_POLICY_DIR, extra)
    checkpoint.unlink(missing_ok=True)
    logger.info("goal policy written to %s (final %s)", Path(cfg.out) / GOAL_POLICY_DIR, log[-1])
    return log


@hydra.main(config_path="conf", config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> None:
    modes = {
        "encoder": _pretrain,
        "keypoints": _pretrain,
        "predictor": _train,
        "decoder": _train_decoder,
        "high_level": _train_high_level,
        "temporal_distance": _train_temporal_distance,
        "goal_policy": _train_goal_policy,
    }
    if cfg.mode not in modes:
        raise ValueError(f"mode must be one of {sorted(modes)}, got {cfg.mode!r}")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    dataset = TrajectoryDataset(cfg.dataset, env_id=cfg.env_id, n_episodes=cfg.n_episodes)
    Path(cfg.out).parent.mkdir(parents=True, exist_ok=True)
    device = init_distributed(torch.device(cfg.device))
    try:
        log = modes[cfg.mode](cfg, dataset, device)
        if is_main_process():
            write_csv(Path(HydraConfig.get().runtime.output_dir) / "train_log.csv", log)
    finally:
        close_distributed()


def write_csv(path: Path, rows: list[dict]) -> None:
    """Writes log rows as a CSV (one column per key seen), for spreadsheets and plotting."""
    fields = list(dict.fromkeys(key for row in rows for key in row))
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()
