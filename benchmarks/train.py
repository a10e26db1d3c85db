"""``wmplan-train``: pretrain an encoder, train a predictor, or train a world model's
visualisation decoder, on a dataset."""

from __future__ import annotations

import csv
import json
import logging
import os
from pathlib import Path

import hydra
import numpy as np
import torch
import torch.distributed as dist
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from envs.dataset import TrajectoryDataset
from worldmodels.checkpoint import (
    DECODER_DIR,
    encoder_digest,
    load_world_model,
    save_world_model,
)
from worldmodels.decoder import save_decoder
from worldmodels.encoder_loading import ENCODER_CONFIG_FILE, load_encoder, save_encoder
from worldmodels.predictor import LatentPredictor
from worldmodels.pretrain_encoder import pretrain_encoder
from worldmodels.train_decoder import train_decoder
from worldmodels.train_predictor import train_predictor
from worldmodels.training_data import flatten_episodes
from worldmodels.world_model import WorldModel

logger = logging.getLogger(__name__)


def _pretrain(cfg: DictConfig, dataset: TrajectoryDataset, device: torch.device) -> list[dict]:
    if dist.is_initialized():
        raise ValueError("mode=encoder trains in one process; launch it without torchrun")
    data = flatten_episodes(dataset.episodes())
    torch.manual_seed(cfg.seed)
    encoder = instantiate(cfg.vit).to(device)
    config = instantiate(cfg.pretrain, seed=cfg.seed)
    log = pretrain_encoder(encoder, data.pixels, data.next_index, config)
    extra = {
        "dataset": str(dataset.root),
        "env_id": dataset.env_id,
        "objective": config.objective_name,
        "pretrain": OmegaConf.to_container(cfg.pretrain),
        "log": log,
    }
    save_encoder(encoder, cfg.out, extra)
    logger.info("encoder written to %s (final %s)", cfg.out, log[-1])
    return log


def _encoder_provenance(encoder: Path) -> dict:
    """The ``extra`` metadata (pretraining config and log) of a save_encoder directory."""
    config = encoder / ENCODER_CONFIG_FILE
    if not config.is_file():  # a named encoder such as dinov2_vits14
        return {"name": str(encoder)}
    return {"path": str(encoder), **json.loads(config.read_text()).get("extra", {})}


def _train(cfg: DictConfig, dataset: TrajectoryDataset, device: torch.device) -> list[dict]:
    data = flatten_episodes(dataset.episodes())
    encoder = load_encoder(cfg.encoder).to(device)
    image_size = int(data.pixels.shape[1])
    grid = encoder.patch_grid(image_size, image_size)
    pool = cfg.world_model.pool
    acts = data.actions[data.next_index >= 0]
    proprio = data.proprio if cfg.world_model.proprio else None
    torch.manual_seed(cfg.seed)
    predictor = LatentPredictor(
        instantiate(
            cfg.predictor,
            token_dim=encoder.embed_dim,
            n_tokens=(grid[0] // pool) * (grid[1] // pool),
            action_dim=acts.shape[1],
            proprio_dim=0 if proprio is None else proprio.shape[1],
        )
    )
    proprio_statistics = {}
    if proprio is not None:
        proprio_statistics = {
            "proprio_mean": torch.from_numpy(proprio.mean(0)),
            "proprio_std": torch.from_numpy(np.maximum(proprio.std(0), 1e-6)),
            "proprio_scale": cfg.world_model.proprio_scale,
        }
    world_model = WorldModel(
        encoder=encoder,
        predictor=predictor,
        image_size=image_size,
        pool=pool,
        num_hist=cfg.world_model.num_hist,
        action_mean=torch.from_numpy(acts.mean(0)),
        action_std=torch.from_numpy(np.maximum(acts.std(0), 1e-6)),
        **proprio_statistics,
    ).to(device)
    # A killed run leaves its latest training state here; the same command resumes from it.
    checkpoint = Path(cfg.out) / "training_state.safetensors"
    config = instantiate(cfg.train, seed=cfg.seed)
    log = train_predictor(world_model, data, config, checkpoint=checkpoint)
    if dist.is_initialized() and dist.get_rank() > 0:
        return log  # process 0 writes the model
    extra = {
        "dataset": str(dataset.root),
        "env_id": dataset.env_id,
        "env_kwargs": dataset.meta["env_kwargs"],
        "train": OmegaConf.to_container(cfg.train),
        "log": log,
    }
    save_world_model(world_model, cfg.out, extra)
    checkpoint.unlink(missing_ok=True)
    logger.info("world model written to %s (final %s)", cfg.out, json.dumps(log[-1]))
    return log


def _train_decoder(cfg: DictConfig, dataset: TrajectoryDataset, device: torch.device) -> list[dict]:
    """Trains the decoder of the world model in ``out`` and writes it to ``out/decoder``."""
    if dist.is_initialized():
        raise ValueError("mode=decoder trains in one process; launch it without torchrun")
    world_model = load_world_model(cfg.out, device=device)
    data = flatten_episodes(dataset.episodes())
    checkpoint = Path(cfg.out) / "decoder_training_state.safetensors"
    config = instantiate(cfg.decoder, seed=cfg.seed)
    decoder, log = train_decoder(world_model, data, config, checkpoint=checkpoint)
    extra = {
        "dataset": str(dataset.root),
        "encoder_sha256": encoder_digest(Path(cfg.out)),
        "train": OmegaConf.to_container(cfg.decoder),
        "log": log,
    }
    save_decoder(decoder, Path(cfg.out) / DECODER_DIR, extra)
    checkpoint.unlink(missing_ok=True)
    logger.info("decoder written to %s (final %s)", Path(cfg.out) / DECODER_DIR, log[-1])
    return log


@hydra.main(config_path="conf", config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> None:
    modes = {"encoder": _pretrain, "predictor": _train, "decoder": _train_decoder}
    if cfg.mode not in modes:
        raise ValueError(f"mode must be one of {sorted(modes)}, got {cfg.mode!r}")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    dataset = TrajectoryDataset(cfg.dataset, env_id=cfg.env_id)
    Path(cfg.out).parent.mkdir(parents=True, exist_ok=True)
    device = _init_distributed(torch.device(cfg.device))
    try:
        log = modes[cfg.mode](cfg, dataset, device)
        if not dist.is_initialized() or dist.get_rank() == 0:
            write_csv(Path(HydraConfig.get().runtime.output_dir) / "train_log.csv", log)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def _init_distributed(device: torch.device) -> torch.device:
    """Join the process group when launched by ``torchrun`` (WORLD_SIZE > 1).

    NCCL on CUDA (one GPU per process, by LOCAL_RANK), gloo on CPU. Returns the
    device this process trains on.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return device


def write_csv(path: Path, rows: list[dict]) -> None:
    """Writes log rows as a CSV (one column per key seen), for spreadsheets and plotting."""
    fields = list(dict.fromkeys(key for row in rows for key in row))
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()
