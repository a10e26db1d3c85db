"""Speed measurement helpers: median wall time, FLOP counts, world models of a given size."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

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
