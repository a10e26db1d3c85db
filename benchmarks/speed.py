"""Speed measurement helpers: median wall time, FLOP counts, world models and planning problems
of a given size, collection throughput."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable, Mapping
from typing import Any

import torch
from omegaconf import DictConfig
from torch.utils.flop_counter import FlopCounterMode

from envs.collect import CollectionJob, collect
from worldmodels.predictor import LatentPredictor, PredictorConfig
from worldmodels.vit import DinoVisionTransformer
from worldmodels.world_model import WorldModel


def timed(fn: Callable[[], object], repeats: int, device: torch.device) -> float:
    """Median wall-clock seconds of `fn` over `repeats` calls, after one warm-up call."""
    sync = torch.cuda.synchronize if device.type == "cuda" else lambda: None
    fn()
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def flops(fn: Callable[[], object]) -> int:
    """Floating-point operations of one call of `fn`."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def world_model_of_size(
    tokens: int,
    token_dim: int,
    action_dim: int,
    num_hist: int,
    predictor: Mapping[str, Any],
    device: str,
) -> WorldModel:
    """A random-weight world model whose predictor has the given size, for speed benchmarks.

    Its encoder is a one-block stand-in of the right width (rollouts never call it).

    Args:
        tokens: P, patch tokens per frame; a square number.
        token_dim: D, the encoder's width.
        action_dim: A.
        num_hist: the predictor's context in frames.
        predictor: `PredictorConfig` fields (dim, depth, num_heads, ...).
        device: where to put the model.
    """
    side = int(tokens**0.5)
    if side * side != tokens:
        raise ValueError(f"tokens ({tokens}) must be a square number of patches")
    encoder = DinoVisionTransformer(
        img_size=side * 4, patch_size=4, embed_dim=token_dim, depth=1, num_heads=1
    )
    config = PredictorConfig(
        token_dim=token_dim,
        n_tokens=tokens,
        action_dim=action_dim,
        max_frames=num_hist,
        **predictor,
    )
    model = LatentPredictor(config)
    torch.nn.init.normal_(model.token_out.weight, std=0.02)  # not the identity map
    world_model = WorldModel(
        encoder,
        model,
        image_size=side * 4,
        pool=1,
        num_hist=num_hist,
        action_mean=torch.zeros(action_dim),
        action_std=torch.ones(action_dim),
    )
    return world_model.to(device).eval().requires_grad_(False)


def dinowm_size_problems(
    cfg: DictConfig, batch_size: int, device: str
) -> tuple[WorldModel, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A random-weight world model of DINO-WM's size and random start and goal embeddings.

    The predictor's context holds the `history` observed frames and the predicted ones
    (`num_hist` >= history + horizon - 1), so rollouts go through the key-value cache and
    the history is computed once per problem, not once per candidate.

    Returns:
        The model, a (B, history, P, D) history, a (B, P, D) goal and the
        (B, history - 1, A) actions between the history frames.
    """
    world_model = world_model_of_size(
        cfg.tokens, cfg.token_dim, cfg.action_dim, cfg.num_hist, cfg.predictor, device
    )
    generator = torch.Generator().manual_seed(0)
    shape = (batch_size, cfg.tokens, cfg.token_dim)
    z_hist = torch.randn((batch_size, cfg.history, *shape[1:]), generator=generator)
    z_goal = torch.randn(shape, generator=generator)
    past = torch.randn((batch_size, cfg.history - 1, cfg.action_dim), generator=generator)
    return world_model, z_hist.to(device), z_goal.to(device), past.to(device)


def collection_rate(env_id: str, n_episodes: int, episode_length: int, workers: int) -> dict:
    """Steps and rendered frames per second of one collection run."""
    with tempfile.TemporaryDirectory() as tmp:
        job = CollectionJob(out_dir=tmp, env_id=env_id, episode_length=episode_length)
        start = time.perf_counter()
        collect(job, n_episodes=n_episodes, workers=workers, progress=False)
        seconds = time.perf_counter() - start
    steps = n_episodes * episode_length
    frames = steps + 2 * n_episodes  # step observations, plus start and goal images per reset
    return {"seconds": seconds, "steps_per_s": steps / seconds, "frames_per_s": frames / seconds}
