"""The planning energy of a world model, with optional bf16 autocast and torch.compile."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from planner.energy import Cost, for_world_model
from planner.world_model import LatentDynamics


class LatentEnergy:
    """`cost(world_model.rollout(z_hist, actions, past_actions), z_goal, actions)`: how far
    imagined futures land from the goal's embedding (DINO-WM, Zhou et al. 2024), as one
    function of tensors.

    The options are resolved once here, not in the planner's loop:

    - `bf16`: the rollout runs under `torch.autocast` in bfloat16 (on whatever device the
      tensors are on); the predictions are cast back to float32 before the cost, so the
      subtraction from the goal keeps full precision, and costs are float32.
    - `compile`: the whole function goes through `torch.compile`; on CUDA with
      mode "reduce-overhead", which replays it as a CUDA graph (TD-MPC2's speed-up). Sampling
      and the optimiser's update stay eager: they draw from an explicit `torch.Generator`, and
      the energy is where the time goes. The function is compiled once per `LatentEnergy`, so
      a controller reuses it across plans; a new candidate count (iCEM's decaying population)
      compiles once more.

    Args:
        world_model: rolls out (B, T, P, D) histories under (B, N, H, A) actions.
        cost: maps (z_pred, z_goal, actions) to (B, N); bound to ``world_model`` where it
            reads the model (`planner.energy.for_world_model`).
        compile: whether to `torch.compile` the energy.
        bf16: whether to autocast the rollout to bfloat16.
    """

    def __init__(
        self, world_model: LatentDynamics, cost: Cost, *, compile: bool = False, bf16: bool = False
    ) -> None:
        self.world_model = world_model
        self.cost = for_world_model(cost, world_model)
        self.bf16 = bf16
        self.compile = compile
        self.frames_scored = 0  # predicted frames B * N * H of every call: planning compute
        self._score: Callable[[Tensor, Tensor, Tensor, Tensor | None], Tensor] = self._eager
        if compile:
            cuda = torch.device(world_model.device).type == "cuda"
            self._score = torch.compile(self._eager, mode="reduce-overhead" if cuda else None)

    def _eager(
        self, z_hist: Tensor, z_goal: Tensor, actions: Tensor, past_actions: Tensor | None
    ) -> Tensor:
        """The energy without compilation: (B, T, P, D), (B, P, D), (B, N, H, A) -> (B, N)."""
        with torch.autocast(actions.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            z_pred = self.world_model.rollout(z_hist, actions, past_actions)  # (B, N, H, P, D)
        return self.cost(z_pred.float(), z_goal, actions).float()

    def __call__(
        self,
        z_hist: Tensor,
        z_goal: Tensor,
        actions: Tensor,
        past_actions: Tensor | None = None,
    ) -> Tensor:
        """Scores candidate action sequences.

        Args:
            z_hist: (B, T, P, D) embeddings of the last T observations.
            z_goal: (B, P, D) goal embedding.
            actions: (B, N, H, A) candidate action sequences.
            past_actions: optional (B, T-1, A) actions taken between the history frames.

        Returns:
            (B, N) float32 costs. A fresh tensor each call, safe to keep after the next call
            (CUDA-graph replays reuse their output buffers).
        """
        cost = self._score(z_hist, z_goal, actions, past_actions)
        self.frames_scored += actions.shape[0] * actions.shape[1] * actions.shape[2]
        return cost.clone() if self.compile else cost

    def bind(
        self, z_hist: Tensor, z_goal: Tensor, past_actions: Tensor | None = None
    ) -> BoundEnergy:
        """The energy of one planning problem set, as `Planner.plan` takes it.

        Args:
            z_hist: (B, T, P, D) embeddings of the last T observations.
            z_goal: (B, P, D) goal embedding.
            past_actions: optional (B, T-1, A) actions taken between the history frames.

        Returns:
            Callable mapping actions (B, N, H, A) to costs (B, N).
        """
        return BoundEnergy(self, z_hist, z_goal, past_actions)


@dataclass(frozen=True)
class BoundEnergy:
    """A `LatentEnergy` bound to B problems: actions (B, N, H, A) -> costs (B, N).

    Energies of one `LatentEnergy` concatenate along B (`concat`), which is how a `PlanPool`
    plans the problems of several controllers in one call.

    Attributes:
        energy: the energy function.
        z_hist: (B, T, P, D) embeddings of the last T observations.
        z_goal: (B, P, D) goal embedding.
        past_actions: optional (B, T-1, A) actions taken between the history frames.
    """

    energy: LatentEnergy
    z_hist: Tensor
    z_goal: Tensor
    past_actions: Tensor | None = None

    def __call__(self, actions: Tensor) -> Tensor:
        """Scores candidates (B, N, H, A) -> (B, N)."""
        return self.energy(self.z_hist, self.z_goal, actions, self.past_actions)

    @staticmethod
    def concat(energies: Sequence[BoundEnergy]) -> BoundEnergy:
        """The problems of several bound energies as one, in order, with the first's function.

        Raises:
            ValueError: when their functions differ in world model or cost, or only some have
                past actions.
        """
        first = energies[0].energy
        for bound in energies[1:]:
            energy = bound.energy
            if energy.world_model is not first.world_model or energy.cost is not first.cost:
                raise ValueError("bound energies concatenate only with one world model and cost")
        past = [bound.past_actions for bound in energies]
        if any(p is None for p in past) and not all(p is None for p in past):
            raise ValueError("bound energies concatenate only if all or none have past actions")
        return BoundEnergy(
            first,
            torch.cat([bound.z_hist for bound in energies]),  # (sum B, T, P, D)
            torch.cat([bound.z_goal for bound in energies]),  # (sum B, P, D)
            None if past[0] is None else torch.cat(past),  # (sum B, T-1, A)
        )
