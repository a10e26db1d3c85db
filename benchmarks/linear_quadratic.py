"""Finite-horizon linear-quadratic control: a planning energy whose optimum is closed form."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch
from torch import Tensor


@dataclass(frozen=True)
class LinearQuadratic:
    """Finite-horizon linear-quadratic control as an energy over action sequences.

    Dynamics x_{t+1} = transition @ x_t + control @ u_t from a given x_0; cost
    J(u) = sum_{t=1}^{H-1} x_t' Q x_t + x_H' Q_f x_H + sum_{t=0}^{H-1} u_t' R u_t (x_0 is fixed
    and not counted). Stacking the rollout as x = F x_0 + G u makes J a strictly convex
    quadratic in u, so the unconstrained optimum solves (G' Qbar G + Rbar) u = -G' Qbar F x_0.
    Everything is computed in float64.

    Attributes:
        transition: (S, S) state transition matrix.
        control: (S, A) control matrix.
        state_weight: (S, S) Q, positive semi-definite.
        terminal_weight: (S, S) Q_f, positive semi-definite.
        action_weight: (A, A) R, positive definite.
        horizon: H.
    """

    transition: Tensor
    control: Tensor
    state_weight: Tensor
    terminal_weight: Tensor
    action_weight: Tensor
    horizon: int

    @classmethod
    def double_integrator(
        cls,
        *,
        horizon: int,
        dt: float,
        position_weight: float,
        velocity_weight: float,
        action_weight: float,
        terminal_factor: float,
    ) -> LinearQuadratic:
        """A point mass in the plane, state (px, py, vx, vy), action the acceleration (ax, ay).

        Args:
            horizon: H, steps.
            dt: time step.
            position_weight: Q's weight on squared position.
            velocity_weight: Q's weight on squared velocity.
            action_weight: R's weight on squared acceleration.
            terminal_factor: Q_f = terminal_factor * Q.
        """
        eye, zero = torch.eye(2, dtype=torch.float64), torch.zeros(2, 2, dtype=torch.float64)
        transition = torch.cat([torch.cat([eye, dt * eye], 1), torch.cat([zero, eye], 1)])
        control = torch.cat([0.5 * dt**2 * eye, dt * eye])  # (4, 2)
        weights = [position_weight] * 2 + [velocity_weight] * 2
        state_weight = torch.diag(torch.tensor(weights, dtype=torch.float64))
        return cls(
            transition=transition,
            control=control,
            state_weight=state_weight,
            terminal_weight=terminal_factor * state_weight,
            action_weight=action_weight * eye,
            horizon=horizon,
        )

    @property
    def action_dim(self) -> int:
        return self.control.shape[1]

    @cached_property
    def stacked(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The rollout and cost as matrices over stacked states x = (x_1..x_H), u = (u_0..u_{H-1}).

        Returns:
            F (H*S, S), G (H*S, H*A) with x = F x_0 + G u, and the block-diagonal weights
            Qbar (H*S, H*S), Rbar (H*A, H*A).
        """
        H, (S, A) = self.horizon, self.control.shape
        powers = [torch.eye(S, dtype=torch.float64)]
        for _ in range(H):
            powers.append(self.transition @ powers[-1])
        initial = torch.cat(powers[1:])  # (H*S, S)
        response = torch.zeros(H * S, H * A, dtype=torch.float64)
        for t in range(H):  # x_{t+1} gets transition^(t-s) @ control @ u_s for s <= t
            for s in range(t + 1):
                response[t * S : (t + 1) * S, s * A : (s + 1) * A] = powers[t - s] @ self.control
        state_weights = [self.state_weight] * (H - 1) + [self.terminal_weight]
        return (
            initial,
            response,
            torch.block_diag(*state_weights),
            torch.block_diag(*[self.action_weight] * H),
        )

    def cost(self, x0: Tensor, actions: Tensor) -> Tensor:
        """J for every candidate.

        Args:
            x0: (B, S) initial states.
            actions: (B, N, H, A) candidate sequences; differentiable.

        Returns:
            (B, N) float64 costs.
        """
        B, N, H, A = actions.shape
        initial, response, state_weights, action_weights = self.stacked
        u = actions.to(torch.float64).reshape(B, N, H * A)
        x = (x0.to(torch.float64) @ initial.T)[:, None] + u @ response.T  # (B, N, H*S)
        return ((x @ state_weights) * x).sum(-1) + ((u @ action_weights) * u).sum(-1)

    def optimum(self, x0: Tensor) -> Tensor:
        """The unconstrained minimiser of J.

        Args:
            x0: (B, S) initial states.

        Returns:
            (B, H, A) float64 optimal action sequences.
        """
        initial, response, state_weights, action_weights = self.stacked
        hessian = response.T @ state_weights @ response + action_weights  # (H*A, H*A)
        linear = response.T @ state_weights @ initial @ x0.to(torch.float64).T  # (H*A, B)
        return -torch.linalg.solve(hessian, linear).T.reshape(-1, self.horizon, self.action_dim)
