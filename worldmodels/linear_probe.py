"""Linear probe of the true state from frozen encoder features.

The standard test of what a frozen representation holds (Alain and Bengio 2016, "Understanding
intermediate layers using linear classifier probes"; DINOv2 and V-JEPA report linear probes):
ridge regression from an image's features to the simulator's state, fitted on training
episodes, scored on held-out ones. Features are the encoder's normalised patch tokens,
flattened (spatial layout kept, as the world model's predictor sees them) or averaged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from worldmodels.frames import frames_to_images
from worldmodels.vit import DinoVisionTransformer, imagenet_normalize

RIDGES = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)
"""Ridge strengths tried, relative to the mean feature variance (features are standardised)."""


@dataclass
class ProbeResult:
    """Held-out scores of a linear probe.

    Attributes:
        r2: (S,) coefficient of determination per state dimension (1 is perfect, 0 is no
            better than predicting the mean).
        rmse: (S,) root mean squared error per state dimension, in the state's units.
        ridge: the ridge strength chosen on the validation split.
    """

    r2: Tensor
    rmse: Tensor
    ridge: float


@torch.no_grad()
def patch_features(
    encoder: DinoVisionTransformer,
    pixels: np.ndarray,
    batch: int = 256,
    image_size: int | None = None,
    reduce: Literal["flatten", "mean"] = "flatten",
) -> Tensor:
    """Normalised patch tokens of frames, flattened or averaged.

    Args:
        encoder: a frozen DINOv2-architecture ViT.
        pixels: (F, H, W, 3) uint8 frames.
        batch: frames per forward pass.
        image_size: resize frames to this side first (bilinear, antialiased), e.g. 224 for
            an official DINOv2 checkpoint; None keeps them as they are.
        reduce: "flatten" keeps every token, so where things are stays readable; "mean"
            averages them into one vector, so only what the features encode is probed.

    Returns:
        (F, n_patches * embed_dim) or (F, embed_dim) float32 features on the CPU.

    Raises:
        ValueError: naming the unknown ``reduce`` or the pixels' dtype and shape.
    """
    if reduce not in ("flatten", "mean"):
        raise ValueError(f"reduce must be 'flatten' or 'mean', got {reduce!r}")
    if pixels.ndim != 4 or pixels.shape[-1] != 3 or pixels.dtype != np.uint8:
        raise ValueError(
            f"pixels must be (F, H, W, 3) uint8, got {pixels.dtype} of shape {pixels.shape}"
        )
    device = next(encoder.parameters()).device
    chunks = []
    for i in range(0, len(pixels), batch):
        images = frames_to_images(pixels[i : i + batch], device)
        if image_size is not None:
            images = F.interpolate(images, size=image_size, mode="bilinear", antialias=True)
        tokens = encoder.forward_features(imagenet_normalize(images))
        patches = tokens["x_norm_patchtokens"]  # (b, n_patches, embed_dim)
        reduced = patches.flatten(1) if reduce == "flatten" else patches.mean(dim=1)
        chunks.append(reduced.float().cpu())
    return torch.cat(chunks)


def _fit(x: Tensor, y: Tensor, ridge: float) -> Tensor:
    """Ridge weights (F + 1, S) for standardised features x (N, F) and targets y (N, S)."""
    x1 = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], dim=1)  # bias column
    gram = x1.T @ x1
    penalty = ridge * len(x) * torch.eye(gram.shape[0], dtype=x.dtype)
    penalty[-1, -1] = 0.0  # the bias is not shrunk
    return torch.linalg.solve(gram + penalty, x1.T @ y)


def _predict(x: Tensor, weights: Tensor) -> Tensor:
    return x @ weights[:-1] + weights[-1]


def _scores(pred: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """R^2 (S,) and RMSE (S,)."""
    residual = (pred - y).square().mean(dim=0)
    return 1 - residual / y.var(dim=0, correction=0), residual.sqrt()


@dataclass(frozen=True)
class RidgeMap:
    """A fitted linear probe: standardise the features, then apply ridge weights.

    Attributes:
        mean: (F,) feature means of the training rows.
        std: (F,) their standard deviations (at least 1e-6).
        weights: (F + 1, S) ridge weights, the bias last.
        ridge: the ridge strength chosen on the validation split.
    """

    mean: Tensor
    std: Tensor
    weights: Tensor
    ridge: float

    def __call__(self, features: Tensor) -> Tensor:
        """(M, F) features -> (M, S) predicted states (float64)."""
        return _predict((features.double() - self.mean) / self.std, self.weights)


def fit_ridge(
    features: Tensor,
    states: Tensor,
    ridges: tuple[float, ...] = RIDGES,
    validation_fraction: float = 0.2,
) -> RidgeMap:
    """Fits ridge regression from features (N, F) to states (N, S).

    The ridge strength is chosen on the last `validation_fraction` of the rows (pass them in
    episode order so validation frames come from other episodes), then the probe is refitted
    on all rows.

    Raises:
        ValueError: on mismatched rows or too few of them.
    """
    if features.shape[0] != states.shape[0]:
        raise ValueError(
            f"features {tuple(features.shape)} and states {tuple(states.shape)} must have the "
            "same number of rows"
        )
    n_val = int(len(features) * validation_fraction)
    if n_val < 2 or len(features) - n_val < 2:
        raise ValueError(f"need more training rows than {len(features)}")
    x, y = features.double(), states.double()
    mean, std = x.mean(dim=0), x.std(dim=0).clamp(min=1e-6)
    x = (x - mean) / std

    def validation_error(ridge: float) -> float:
        weights = _fit(x[:-n_val], y[:-n_val], ridge)
        return float((_predict(x[-n_val:], weights) - y[-n_val:]).square().mean())

    ridge = min(ridges, key=validation_error)
    return RidgeMap(mean, std, _fit(x, y, ridge), ridge)


def linear_probe(
    train_features: Tensor,
    train_states: Tensor,
    test_features: Tensor,
    test_states: Tensor,
    ridges: tuple[float, ...] = RIDGES,
    validation_fraction: float = 0.2,
) -> ProbeResult:
    """Fits ridge regression from features to states (`fit_ridge`) and scores it on held-out
    data.

    Args:
        train_features: (N, F) features of training frames, in episode order.
        train_states: (N, S) their true states.
        test_features: (M, F) features of held-out frames.
        test_states: (M, S) their true states.
        ridges: strengths to try, relative to the (unit) feature variance.
        validation_fraction: share of the training rows used to choose the ridge.

    Returns:
        The held-out `ProbeResult`.

    Raises:
        ValueError: on mismatched shapes or too few rows.
    """
    if train_features.shape[0] != train_states.shape[0] or test_features.shape[0] != len(
        test_states
    ):
        raise ValueError(
            "features and states must have the same number of rows, got train features "
            f"{tuple(train_features.shape)} and states {tuple(train_states.shape)}, test "
            f"features {tuple(test_features.shape)} and states {tuple(test_states.shape)}"
        )
    probe = fit_ridge(train_features, train_states, ridges, validation_fraction)
    r2, rmse = _scores(probe(test_features), test_states.double())
    return ProbeResult(r2=r2.float(), rmse=rmse.float(), ridge=probe.ridge)


def split_episodes(
    n_episodes: int, n_train: int, n_test: int, seed: int | None
) -> tuple[list[int], list[int]]:
    """Training and held-out episode indices: the first n_train and the last n_test, or with
    a seed, the first and last of a seeded permutation (so both sets mix every source of a
    dataset whose episodes are stored source by source)."""
    order = (
        np.arange(n_episodes)
        if seed is None
        else np.random.default_rng(seed).permutation(n_episodes)
    )
    return order[:n_train].tolist(), order[n_episodes - n_test :].tolist()
