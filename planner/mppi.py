"""Model predictive path integral control (MPPI) over action sequences."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from planner.base import Planner, PlanRun, per_dimension
from planner.errors import check_integer


def smoothing_matrix(horizon: int, smoothing: float) -> Tensor:
    """Exponential smoothing along the horizon as an (H, H) lower-triangular matrix.

    `matrix @ u` gives y_0 = u_0 and y_t = smoothing * y_{t-1} + (1 - smoothing) * u_t, so a
    constant sequence is left unchanged and smoothing = 0 is the identity.

    Args:
        horizon: H.
        smoothing: in [0, 1).

    Returns:
        (H, H) float32 tensor.
    """
    steps = torch.arange(horizon)
    lag = (steps[:, None] - steps[None, :]).clamp(min=0)  # (H, H): t - s
    matrix = (1 - smoothing) * torch.tensor(smoothing) ** lag
    matrix[:, 0] = torch.tensor(smoothing) ** steps  # y_0 = u_0 carries the rest of the weight
    return torch.tril(matrix)


class MPPI(Planner):
    """MPPI, Williams et al. 2017, "Information theoretic MPC for model-based reinforcement
    learning".

    Each iteration perturbs the current mean sequence with Gaussian noise of standard deviation
    `noise_std`, clamps the candidates to the bounds and scores them; the mean then moves by
    the average of the perturbations actually scored (candidate - mean, after clamping, as in
    pytorch_mppi) weighted by exp(-(cost - min cost) / temperature),
    optionally smoothed along the horizon (`smoothing`, exponential; the paper smooths the
    control sequence with a Savitzky-Golay filter), and is clamped back into the bounds.
    Candidates with a non-finite energy get weight 0; a problem without any finite one keeps
    its mean. The mean itself is a candidate every iteration, and the best sequence evaluated
    over all iterations is returned. In MPC the controller's warm start plays the role of the
    paper's shifted control sequence; run a single iteration per step for the paper's setting.
    """

    def __init__(
        self,
        *,
        horizon: int,
        action_dim: int,
        low: float | Tensor = -1.0,
        high: float | Tensor = 1.0,
        n_samples: int = 300,
        n_iters: int = 10,
        noise_std: float | Tensor | None = None,
        temperature: float = 0.1,
        smoothing: float = 0.0,
        device: str | torch.device = "cpu",
    ) -> None:
        """Checks and stores the parameters.

        Args:
            horizon: H >= 1.
            action_dim: A >= 1.
            low: lower bound, a float or an (A,) tensor.
            high: upper bound, a float or an (A,) tensor.
            n_samples: N >= 1 candidates per problem and iteration, the current mean included.
            n_iters: iterations >= 1.
            noise_std: standard deviation of the perturbations, a float or an (A,) tensor > 0;
                defaults to (high - low) / 4.
            temperature: lambda > 0 of the exponential weights, in units of the energy.
            smoothing: in [0, 1), exponential smoothing of the update along the horizon;
                0 does not smooth.
            device: where candidates live when `plan` gets no `init`.

        Raises:
            ValueError: naming the offending field.
        """
        super().__init__(horizon=horizon, action_dim=action_dim, low=low, high=high, device=device)
        check_integer("n_samples", n_samples)
        check_integer("n_iters", n_iters)
        noise_std = (self.high - self.low) / 4 if noise_std is None else noise_std
        self.noise_std = per_dimension(noise_std, action_dim, "noise_std")
        if not (self.noise_std > 0).all():
            raise ValueError(f"noise_std ({self.noise_std.tolist()}) must be > 0")
        if not (math.isfinite(temperature) and temperature > 0):
            raise ValueError(f"temperature ({temperature}) must be finite and > 0")
        if not 0.0 <= smoothing < 1.0:
            raise ValueError(f"smoothing ({smoothing}) must be in [0, 1)")
        self.n_samples = n_samples
        self.n_iters = n_iters
        self.temperature = temperature
        self.smoothing = smoothing
        self._smooth = smoothing_matrix(horizon, smoothing) if smoothing > 0 else None

    def _optimize(self, run: PlanRun) -> Tensor:
        """Runs MPPI from `run.init`; returns the final mean (B, H, A)."""
        mean = run.init  # (B, H, A)
        B, H, A = mean.shape
        noise_std = self.noise_std.to(mean.device)
        smooth = None if self._smooth is None else self._smooth.to(mean.device)  # (H, H)
        for _ in run.iterations(self.n_iters):
            # Sample: zero noise (the mean itself) plus N - 1 Gaussian perturbations.
            noise = torch.randn(
                (B, self.n_samples - 1, H, A), generator=run.generator, device=mean.device
            )
            noise = torch.cat([noise.new_zeros(B, 1, H, A), noise_std * noise], dim=1)
            candidates = run.clamp(mean[:, None] + noise)  # (B, N, H, A)
            perturbation = candidates - mean[:, None]  # the noise as scored, after clamping

            # Score.
            cost = run.evaluate(candidates)  # (B, N), +inf where not finite

            # Weight: softmax of -cost / temperature; a problem without finite costs gets 0s.
            finite = torch.isfinite(cost)
            best = cost.min(dim=1, keepdim=True).values  # (B, 1)
            logits = torch.where(finite, (best - cost) / self.temperature, -torch.inf)
            weights = torch.softmax(logits, dim=1).nan_to_num(0.0)  # (B, N)

            # Update: weighted perturbation, smoothed along the horizon, projected.
            update = torch.einsum("bn,bnha->bha", weights, perturbation)  # (B, H, A)
            if smooth is not None:
                update = torch.einsum("th,bha->bta", smooth, update)
            mean = run.clamp(mean + update)
        return mean
