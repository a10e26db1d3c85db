"""Pendulum swing-up in torch, the problem our MPPI and pytorch_mppi's are compared on.

Gymnasium's Pendulum-v1 dynamics (torque saturated at +-2, speed clipped at +-8 rad/s) and
running cost, plus a weighted terminal cost on the last state, batched over any leading
dimensions; with the energy our planner takes and the terminal cost in pytorch_mppi's
convention (see ``benchmarks.peer_mppi``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class Pendulum:
    """Pendulum swing-up (Gymnasium's Pendulum-v1 dynamics and cost), batched over leading
    dimensions. State (..., 2) = (angle from upright, angular speed); action (..., 1) = torque.
    """

    dt: float = 0.05
    gravity: float = 10.0
    mass: float = 1.0
    length: float = 1.0
    max_speed: float = 8.0
    max_torque: float = 2.0
    terminal_weight: float = 5.0

    state_dim = 2
    action_dim = 1

    def step(self, state: Tensor, action: Tensor) -> Tensor:
        """Next state (..., 2) after applying the saturated torque action (..., 1) for dt."""
        angle, speed = state[..., 0], state[..., 1]
        torque = action[..., 0].clamp(-self.max_torque, self.max_torque)
        acceleration = (
            3 * self.gravity / (2 * self.length) * torch.sin(angle)
            + 3 / (self.mass * self.length**2) * torque
        )
        speed = (speed + acceleration * self.dt).clamp(-self.max_speed, self.max_speed)
        return torch.stack([angle + speed * self.dt, speed], dim=-1)

    def running_cost(self, state: Tensor, action: Tensor) -> Tensor:
        """Cost (...) of reaching state (..., 2) with action (..., 1)."""
        torque = action[..., 0].clamp(-self.max_torque, self.max_torque)
        return self._state_cost(state) + 0.001 * torque.square()

    def terminal_cost(self, state: Tensor) -> Tensor:
        """Cost (...) of the last state (..., 2)."""
        return self.terminal_weight * self._state_cost(state)

    def sequence_cost(self, start: Tensor, actions: Tensor) -> Tensor:
        """Total cost (...) of action sequences (..., H, 1) applied from start (2,)."""
        state = start.expand(*actions.shape[:-2], self.state_dim)
        cost = torch.zeros(actions.shape[:-2], dtype=actions.dtype, device=actions.device)
        for t in range(actions.shape[-2]):
            action = actions[..., t, :]
            state = self.step(state, action)
            cost = cost + self.running_cost(state, action)
        return cost + self.terminal_cost(state)

    @staticmethod
    def _state_cost(state: Tensor) -> Tensor:
        angle = torch.remainder(state[..., 0] + math.pi, 2 * math.pi) - math.pi
        return angle.square() + 0.1 * state[..., 1].square()


def sequence_energy(problem: Pendulum, start: Tensor) -> Callable[[Tensor], Tensor]:
    """Our planner's energy: actions (B, N, H, A) -> total cost (B, N) from `start` (S,)."""

    def energy(actions: Tensor) -> Tensor:
        return problem.sequence_cost(start, actions)

    return energy


def terminal_state_cost(problem: Pendulum) -> Callable[[Tensor, Tensor], Tensor]:
    """The terminal cost in pytorch_mppi's convention: states (M, K, T, S), actions
    (M, K, T, A) -> (M, K), scoring the last state."""

    def cost(states: Tensor, actions: Tensor) -> Tensor:
        return problem.terminal_cost(states[..., -1, :])

    return cost
