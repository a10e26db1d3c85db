"""Gradient-based planners: gradient descent and Adam on the action sequence."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor

from planner.base import Planner, PlanRun, per_dimension
from planner.errors import EnergyError, check_integer, check_step_size


def action_gradient(cost: Tensor, actions: Tensor) -> Tensor:
    """Gradient of the summed cost with respect to the actions only.

    The energy's own parameters get no `.grad`. Non-finite costs (already +inf from
    `PlanRun.evaluate`) and non-finite gradient entries contribute 0.

    Args:
        cost: (B, N) costs computed from `actions`.
        actions: (B, N, H, A) leaf tensor with `requires_grad`.

    Returns:
        (B, N, H, A) finite gradient; candidates are independent, so each gets its own.

    Raises:
        EnergyError: the cost does not depend differentiably on the actions (computed under
            ``no_grad``, detached, through numpy, or not from the actions at all).
    """
    grad = None
    if cost.requires_grad:
        finite_cost = torch.where(torch.isfinite(cost), cost, torch.zeros_like(cost))
        (grad,) = torch.autograd.grad(finite_cost.sum(), actions, allow_unused=True)
    if grad is None:
        raise EnergyError(
            "gradient planners (gd, adam, gradcem) need an energy differentiable with respect "
            "to the actions: the cost it returned has no gradient path to them (is it computed "
            "under torch.no_grad, detached, or through numpy?); use cem, icem or mppi instead"
        )
    return grad.nan_to_num(nan=0.0, posinf=0.0, neginf=0.0)


class GradientDescent(Planner):
    """Projected gradient descent on the action sequence, as in the gradient-based planners
    compared in DINO-WM (Zhou et al. 2024) and Bharadhwaj et al. 2020.

    `n_restarts` sequences are optimised together as the N candidates of one energy call:
    the starting estimate (warm start or the middle of the bounds) and n_restarts - 1 drawn
    uniformly inside the bounds. Each iteration takes one optimiser step on every sequence,
    adds optional Gaussian noise of standard deviation `noise_std`, projects onto the bounds
    and scores the result. The energy is differentiated with respect to the actions only.
    The best sequence evaluated over all restarts and iterations is returned.
    """

    needs_grad: ClassVar[bool] = True
    optimizer_class: ClassVar[type[torch.optim.Optimizer]] = torch.optim.SGD
    """The step rule, built as `optimizer_class([actions], lr=lr)`."""

    def __init__(
        self,
        *,
        horizon: int,
        action_dim: int,
        low: float | Tensor = -1.0,
        high: float | Tensor = 1.0,
        n_restarts: int = 8,
        n_iters: int = 50,
        lr: float = 0.1,
        noise_std: float | Tensor = 0.0,
        device: str | torch.device = "cpu",
    ) -> None:
        """Checks and stores the parameters.

        Args:
            horizon: H >= 1.
            action_dim: A >= 1.
            low: lower bound, a float or an (A,) tensor.
            high: upper bound, a float or an (A,) tensor.
            n_restarts: N >= 1 sequences optimised together, the starting estimate included.
            n_iters: optimiser steps >= 1 (the energy is called n_iters + 1 times).
            lr: step size > 0.
            noise_std: standard deviation of the Gaussian noise added after each step, a float
                or an (A,) tensor >= 0; 0 adds none.
            device: where candidates live when `plan` gets no `init`.

        Raises:
            ValueError: naming the offending field.
        """
        super().__init__(horizon=horizon, action_dim=action_dim, low=low, high=high, device=device)
        check_integer("n_restarts", n_restarts)
        check_integer("n_iters", n_iters)
        check_step_size("lr", lr)
        self.noise_std = per_dimension(noise_std, action_dim, "noise_std")
        if not (self.noise_std >= 0).all():
            raise ValueError(f"noise_std ({self.noise_std.tolist()}) must be >= 0")
        self.n_restarts = n_restarts
        self.n_iters = n_iters
        self.lr = lr

    def _optimize(self, run: PlanRun) -> Tensor:
        """Runs the optimiser from `run.init` and random restarts; returns restart 0 (B, H, A)."""
        B, H, A = run.init.shape
        device = run.init.device
        noise_std = self.noise_std.to(device)
        shape = (B, self.n_restarts - 1, H, A)
        uniform = torch.rand(shape, generator=run.generator, device=device)
        restarts = run.low + (run.high - run.low) * uniform  # (B, N - 1, H, A)
        actions = torch.cat([run.init[:, None], restarts], dim=1).requires_grad_()  # (B, N, H, A)
        optimizer = self.optimizer_class([actions], lr=self.lr)
        if (self.noise_std > 0).any():

            def perturb(step: Tensor) -> Tensor:
                return step + noise_std * torch.randn(
                    step.shape, generator=run.generator, device=device
                )
        else:

            def perturb(step: Tensor) -> Tensor:
                return step

        cost = run.evaluate(actions)  # (B, N)
        for _ in run.iterations(self.n_iters):
            # Step on every sequence, perturb and project onto the bounds.
            actions.grad = action_gradient(cost, actions)
            optimizer.step()
            with torch.no_grad():
                actions.copy_(run.clamp(perturb(actions)))

            # Score; the best so far is kept by `run`.
            cost = run.evaluate(actions)
        return actions[:, 0].detach()


class Adam(GradientDescent):
    """Projected Adam (Kingma and Ba 2015) on the action sequence; otherwise as
    `GradientDescent`. Adam's per-entry step normalisation keeps the restarts independent."""

    optimizer_class: ClassVar[type[torch.optim.Optimizer]] = torch.optim.Adam
