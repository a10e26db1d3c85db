"""Training losses of the latent dynamics predictor: teacher forcing and the multi-step loss.

Teacher forcing (DINO-WM, Zhou et al. 2024) predicts every frame of a window from the true
frames before it. The multi-step loss adds an open-loop term: from the window's first frame
the predictor is rolled out ``k`` steps feeding back its own predictions, as planning does,
and the errors of the steps 2..k (those whose input holds a fed-back prediction) are
averaged with weights ``decay ** t`` and added with a weight to the teacher-forced term.
This is V-JEPA 2-AC's teacher-forcing + rollout loss (Assran et al. 2025, "V-JEPA 2",
section 3: the rollout starts from the first frame) with MSE in place of their L1 and
TD-MPC2's per-step decay ``rho ** t`` (Hansen et al. 2024); gradients flow through the
fed-back predictions (no detach). With ``k = 1`` it is teacher forcing exactly.

A proprioceptive token (the last token of a frame, its first ``p`` entries the z-scored
proprio vector, the rest zero) is 1 of P tokens and p of its D entries, so the plain MSE
gives it a weight of about ``p / (P D)``, and its fit varies from one training to the next
although planning energies lean on it. ``proprio_weight`` adds its own MSE (over its ``p``
entries) with that weight to every frame's error, as DINO-WM's separate proprio loss does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class Windows:
    """A batch of training windows: inputs (B, T, P, D), actions (B, T, A), targets (B, T, P, D).

    ``A`` is ``frameskip`` times the environment's action dim (a block of actions per frame),
    z-scored by the world model; ``targets[:, t]`` is the frame after ``inputs[:, t]``.
    """

    inputs: torch.Tensor
    actions: torch.Tensor
    targets: torch.Tensor

    def head(self, n_frames: int) -> Windows:
        """The windows' first ``n_frames`` frames."""
        return Windows(
            self.inputs[:, :n_frames], self.actions[:, :n_frames], self.targets[:, :n_frames]
        )


PredictorLoss = Callable[[nn.Module, Windows], torch.Tensor]
"""(predictor, possibly DDP-wrapped; a batch of windows) -> scalar loss."""


@dataclass(frozen=True)
class LatentError:
    """Squared error of predicted frames, the proprio token's entries weighted on top.

    Attributes:
        proprio_dim: p, entries of the last token holding proprioception (0: none).
        proprio_weight: weight of the MSE over those entries, added to the MSE over all.
    """

    proprio_dim: int = 0
    proprio_weight: float = 0.0

    def __post_init__(self) -> None:
        if self.proprio_dim < 0:
            raise ValueError(f"LatentError.proprio_dim must be >= 0, got {self.proprio_dim}")
        if self.proprio_weight < 0:
            raise ValueError(f"LatentError.proprio_weight must be >= 0, got {self.proprio_weight}")
        if self.proprio_weight > 0 and self.proprio_dim == 0:
            raise ValueError("LatentError.proprio_weight > 0 needs a proprio token (proprio_dim)")

    def per_frame(self, predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """(B, T, P, D) predictions and targets -> (T,) errors, averaged over the batch."""
        square = (predictions.float() - targets).square()  # (B, T, P, D)
        errors = square.mean(dim=(0, 2, 3))
        if self.proprio_weight > 0:
            proprio = square[:, :, -1, : self.proprio_dim].mean(dim=(0, 2))  # (T,)
            errors = errors + self.proprio_weight * proprio
        return errors

    def __call__(self, predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Scalar error over all frames; the plain MSE without a proprio weight."""
        return self.per_frame(predictions, targets).mean()


def teacher_forced_loss(
    predictor: nn.Module, windows: Windows, error: LatentError = LatentError()
) -> torch.Tensor:
    """DINO-WM's loss: error of the one-step predictions of every frame given the true past."""
    return error(predictor(windows.inputs, windows.actions), windows.targets)


def open_loop_rollout(
    predictor: nn.Module,
    z_hist: torch.Tensor,
    past_actions: torch.Tensor,
    actions: torch.Tensor,
    num_hist: int,
) -> torch.Tensor:
    """Rolls the predictor out open loop, as ``WorldModel.rollout`` does for planning.

    Each step predicts from the latest ``num_hist`` frames (history, then predictions) and
    their actions; the prediction joins the context. The predictor is called through its
    ``forward`` (so a DDP wrapper synchronises the gradients), which with the frame-causal
    mask gives what the planner's key-value-cached path gives.

    Args:
        predictor: (B, T, P, D), (B, T, A) -> (B, T, P, D), possibly DDP-wrapped.
        z_hist: (B, T, P, D) history, last entry the current frame.
        past_actions: (B, T-1, A) normalised actions between the history frames.
        actions: (B, H, A) normalised actions, the first taken from the current frame.
        num_hist: longest context, in frames.

    Returns:
        (B, H, P, D) predicted frames after each action.
    """
    context_z, context_a = z_hist, past_actions
    predictions = []
    for h in range(actions.shape[1]):
        window_z = context_z[:, -num_hist:]  # (B, <= num_hist, P, D)
        window_a = torch.cat([context_a, actions[:, h : h + 1]], dim=1)[:, -num_hist:]
        z_next = predictor(window_z, window_a)[:, -1]  # (B, P, D)
        predictions.append(z_next)
        context_z, context_a = torch.cat([window_z, z_next[:, None]], dim=1), window_a
    return torch.stack(predictions, dim=1)


@dataclass(frozen=True)
class MultiStepLoss:
    """Teacher forcing on ``n_frames`` frames plus a ``steps``-step open-loop term.

    ``loss = teacher_forced + weight * sum_t decay**t e_t / sum_t decay**t`` over the
    open-loop steps ``t = 2 .. steps`` (counted so that ``e_2`` has weight 1), ``e_t`` the
    MSE of the rollout's t-th prediction from the window's first frame with the context of
    ``num_hist`` frames planning uses. The rollout's first step is the teacher-forced
    prediction of frame 1 (the same function of frame 0, by the frame-causal mask), so it
    is computed once. Windows must hold ``max(n_frames, steps)`` frames.

    Attributes:
        n_frames: frames of the teacher-forced term.
        steps: open-loop steps k; 1 gives teacher forcing exactly.
        num_hist: context frames of the rollout (the world model's).
        weight: weight of the open-loop term.
        decay: per-step factor rho of the open-loop errors (1: plain mean).
        error: the error of a predicted frame (MSE, the proprio token weighted on top).
    """

    n_frames: int
    steps: int = 1
    num_hist: int = 1
    weight: float = 1.0
    decay: float = 1.0
    error: LatentError = LatentError()

    def __post_init__(self) -> None:
        for name in ("n_frames", "steps", "num_hist"):
            if getattr(self, name) < 1:
                raise ValueError(f"MultiStepLoss.{name} must be >= 1, got {getattr(self, name)}")
        if self.weight < 0:
            raise ValueError(f"MultiStepLoss.weight must be >= 0, got {self.weight}")
        if self.decay <= 0:
            raise ValueError(f"MultiStepLoss.decay must be > 0, got {self.decay}")

    @property
    def window_frames(self) -> int:
        """Frames a training window needs."""
        return max(self.n_frames, self.steps)

    def __call__(self, predictor: nn.Module, windows: Windows) -> torch.Tensor:
        """The loss of a batch of windows of at least :attr:`window_frames` frames."""
        if windows.inputs.shape[1] < self.window_frames:
            raise ValueError(
                f"MultiStepLoss needs windows of {self.window_frames} frames, "
                f"got {windows.inputs.shape[1]}"
            )
        if self.steps == 1:
            return teacher_forced_loss(predictor, windows.head(self.n_frames), self.error)
        k = self.steps
        first = windows.head(self.n_frames)
        predictions = predictor(first.inputs, first.actions)  # (B, n, P, D)
        teacher_forced = self.error(predictions, first.targets)
        z_hist = torch.stack([windows.inputs[:, 0], predictions[:, 0]], dim=1)  # (B, 2, P, D)
        rollout = open_loop_rollout(
            predictor, z_hist, windows.actions[:, :1], windows.actions[:, 1:k], self.num_hist
        )  # (B, k-1, P, D): steps 2..k
        errors = self.error.per_frame(rollout, windows.targets[:, 1:k])  # (k-1,)
        weights = self.decay ** torch.arange(k - 1, dtype=errors.dtype, device=errors.device)
        return teacher_forced + self.weight * (weights * errors).sum() / weights.sum()
