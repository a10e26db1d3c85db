"""Cross-entropy method over action sequences."""

from __future__ import annotations

import torch
from torch import Tensor

from planner.base import Planner, PlanRun, per_dimension
from planner.errors import check_integer


class CEM(Planner):
    """Cross-entropy method (Rubinstein 1999) as used for planning in PlaNet (Hafner et al.
    2019), PETS (Chua et al. 2018) and DINO-WM (Zhou et al. 2024).

    Each iteration samples Gaussian action sequences around a per-step mean, clamps them to
    the bounds, keeps the `n_elites` lowest-energy ones and refits the mean and standard
    deviation to them, smoothed with momentum `alpha` (new = alpha * old + (1 - alpha) *
    elite statistic, as in mbrl-lib). The current mean is always one of the candidates, and
    the returned sequence is the best one evaluated over all iterations, not the last mean.
    DINO-WM's setting is n_samples=300, n_elites=30, n_iters=30 (10 for maze and wall).
    """

    def __init__(
        self,
        *,
        horizon: int,
        action_dim: int,
        low: float | Tensor = -1.0,
        high: float | Tensor = 1.0,
        n_samples: int = 300,
        n_elites: int = 30,
        n_iters: int = 30,
        alpha: float = 0.1,
        init_std: float | Tensor | None = None,
        min_std: float | Tensor = 0.0,
        device: str | torch.device = "cpu",
    ) -> None:
        """Checks and stores the parameters.

        Args:
            horizon: H >= 1.
            action_dim: A >= 1.
            low: lower bound, a float or an (A,) tensor.
            high: upper bound, a float or an (A,) tensor.
            n_samples: N >= 1 candidates per problem and iteration, the current mean included.
            n_elites: 1 <= K <= N candidates refitted to.
            n_iters: iterations >= 1.
            alpha: momentum in [0, 1) on the mean and standard deviation; 0 refits fully.
            init_std: initial standard deviation, a float or an (A,) tensor > 0; defaults to
                (high - low) / 2.
            min_std: floor on the standard deviation, a float or an (A,) tensor >= 0.
            device: where candidates live when `plan` gets no `init`.

        Raises:
            ValueError: naming the offending field.
        """
        super().__init__(horizon=horizon, action_dim=action_dim, low=low, high=high, device=device)
        check_integer("n_samples", n_samples)
        if check_integer("n_elites", n_elites) > n_samples:
            raise ValueError(f"n_elites ({n_elites}) must be >= 1 and <= n_samples ({n_samples})")
        check_integer("n_iters", n_iters)
        if not 0.0 <= alpha < 1.0:
            raise ValueError(f"alpha ({alpha}) must be in [0, 1)")
        init_std = (self.high - self.low) / 2 if init_std is None else init_std
        self.init_std = per_dimension(init_std, action_dim, "init_std")
        if not (self.init_std > 0).all():
            raise ValueError(f"init_std ({self.init_std.tolist()}) must be > 0")
        self.min_std = per_dimension(min_std, action_dim, "min_std")
        if not (self.min_std >= 0).all():
            raise ValueError(f"min_std ({self.min_std.tolist()}) must be >= 0")
        self.n_samples = n_samples
        self.n_elites = n_elites
        self.n_iters = n_iters
        self.alpha = alpha

    def _optimize(self, run: PlanRun) -> Tensor:
        """Runs CEM from `run.init`; returns the final mean (B, H, A)."""
        mean = run.init  # (B, H, A)
        B, H, A = mean.shape
        std = self.init_std.to(mean.device).expand(B, H, A)
        min_std = self.min_std.to(mean.device)
        for _ in run.iterations(self.n_iters):
            # Sample: the mean itself plus N - 1 Gaussian sequences around it, clamped.
            shape = (B, self.n_samples - 1, H, A)
            noise = torch.randn(
                shape, generator=run.generator, device=mean.device, dtype=mean.dtype
            )
            samples = mean[:, None] + std[:, None] * noise  # (B, N - 1, H, A)
            candidates = run.clamp(torch.cat([mean[:, None], samples], dim=1))  # (B, N, H, A)

            # Score.
            cost = run.evaluate(candidates)  # (B, N)

            # Select the K lowest-energy candidates.
            _, elites = self.select_elites(candidates, cost)  # (B, K, H, A)

            # Update: refit to the elites, smoothed by momentum.
            mean, std = self.refit(mean, std, elites, min_std)
        return mean

    def select_elites(self, candidates: Tensor, cost: Tensor) -> tuple[Tensor, Tensor]:
        """The `n_elites` lowest-energy candidates, best first.

        Args:
            candidates: (B, N, H, A) action sequences.
            cost: (B, N) their energies.

        Returns:
            Elite costs (B, K) and elite sequences (B, K, H, A).
        """
        _, _, H, A = candidates.shape
        elite_cost, elite_index = cost.topk(self.n_elites, dim=1, largest=False)  # (B, K)
        elites = candidates.gather(1, elite_index[:, :, None, None].expand(-1, -1, H, A))
        return elite_cost, elites

    def refit(
        self, mean: Tensor, std: Tensor, elites: Tensor, min_std: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Refits the sampling distribution to the elites, smoothed by momentum `alpha`.

        Args:
            mean: (B, H, A) current mean.
            std: (B, H, A) current standard deviation.
            elites: (B, K, H, A) selected sequences.
            min_std: (A,) floor on the standard deviation.

        Returns:
            The new mean and standard deviation, (B, H, A) each.
        """
        mean = self.alpha * mean + (1 - self.alpha) * elites.mean(dim=1)
        elite_std = elites.std(dim=1, correction=0)  # (B, H, A)
        return mean, torch.maximum(self.alpha * std + (1 - self.alpha) * elite_std, min_std)
