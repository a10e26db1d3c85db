"""Cross-entropy method with gradient descent on the elites (CEM-GD)."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor

from planner.base import PlanRun
from planner.cem import CEM
from planner.errors import check_integer, check_step_size
from planner.gradient import action_gradient


class GradCEM(CEM):
    """CEM-GD, Huang et al. 2021, "CEM-GD: Cross-Entropy Method with Gradient Descent Planner
    for Model-Based Reinforcement Learning".

    This follows CEM-GD's idea of refining CEM's top candidates by gradient descent, run inside
    every CEM iteration: sample and score as in `CEM`, take the `n_grad_elites` best candidates
    and give each `n_grad_steps` projected gradient steps of size `lr`, then refit the mean and
    standard deviation to the `n_elites` elites, each refined one replaced by its refinement
    when that lowered its energy. (The paper also shrinks the population after the first MPC
    step, relying on the warm start; the controller's warm start covers that here. GradCEM of
    Bharadhwaj et al. 2020 instead takes gradient steps on every sample.) The energy is
    differentiated with respect to the actions only; the best sequence evaluated, refined ones
    included, is returned.
    """

    needs_grad: ClassVar[bool] = True

    def __init__(
        self,
        *,
        horizon: int,
        action_dim: int,
        low: float | Tensor = -1.0,
        high: float | Tensor = 1.0,
        n_samples: int = 300,
        n_elites: int = 30,
        n_iters: int = 10,
        alpha: float = 0.1,
        n_grad_elites: int = 5,
        n_grad_steps: int = 5,
        lr: float = 0.1,
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
            n_grad_elites: 1 <= G <= K best elites refined by gradient descent.
            n_grad_steps: gradient steps >= 1 per iteration on each refined elite.
            lr: gradient step size > 0.
            init_std: initial standard deviation, a float or an (A,) tensor > 0; defaults to
                (high - low) / 2.
            min_std: floor on the standard deviation, a float or an (A,) tensor >= 0.
            device: where candidates live when `plan` gets no `init`.

        Raises:
            ValueError: naming the offending field.
        """
        super().__init__(
            horizon=horizon,
            action_dim=action_dim,
            low=low,
            high=high,
            n_samples=n_samples,
            n_elites=n_elites,
            n_iters=n_iters,
            alpha=alpha,
            init_std=init_std,
            min_std=min_std,
            device=device,
        )
        if check_integer("n_grad_elites", n_grad_elites) > n_elites:
            raise ValueError(
                f"n_grad_elites ({n_grad_elites}) must be >= 1 and <= n_elites ({n_elites})"
            )
        check_integer("n_grad_steps", n_grad_steps)
        check_step_size("lr", lr)
        self.n_grad_elites = n_grad_elites
        self.n_grad_steps = n_grad_steps
        self.lr = lr

    def _optimize(self, run: PlanRun) -> Tensor:
        """Runs CEM-GD from `run.init`; returns the final mean (B, H, A)."""
        mean = run.init  # (B, H, A)
        B, H, A = mean.shape
        G = self.n_grad_elites
        std = self.init_std.to(mean.device).expand(B, H, A)
        min_std = self.min_std.to(mean.device)
        for _ in run.iterations(self.n_iters):
            # Sample: the mean itself plus N - 1 Gaussian sequences around it, clamped.
            shape = (B, self.n_samples - 1, H, A)
            noise = torch.randn(shape, generator=run.generator, device=mean.device)
            samples = mean[:, None] + std[:, None] * noise  # (B, N - 1, H, A)
            candidates = run.clamp(torch.cat([mean[:, None], samples], dim=1))  # (B, N, H, A)

            # Score, without a graph.
            with torch.no_grad():
                cost = run.evaluate(candidates)  # (B, N)

            # Select the K lowest-energy candidates, sorted best first.
            elite_cost, elites = self.select_elites(candidates, cost)  # (B, K), (B, K, H, A)

            # Refine the G best elites by projected gradient descent.
            refined = elites[:, :G].clone().requires_grad_()  # (B, G, H, A)
            for _ in range(self.n_grad_steps):
                step = self.lr * action_gradient(run.evaluate(refined), refined)
                refined = run.clamp(refined.detach() - step).requires_grad_()
            refined = refined.detach()
            with torch.no_grad():
                refined_cost = run.evaluate(refined)  # (B, G)
            better = (refined_cost < elite_cost[:, :G])[:, :, None, None]  # (B, G, 1, 1)
            elites = torch.cat([torch.where(better, refined, elites[:, :G]), elites[:, G:]], dim=1)

            # Update: refit to the elites, smoothed by momentum.
            mean, std = self.refit(mean, std, elites, min_std)
        return mean
