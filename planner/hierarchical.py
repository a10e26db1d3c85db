"""Planning at two time scales: a high level sets subgoals, the low level reaches them.

LeCun's hierarchical JEPA ("A Path Towards Autonomous Machine Intelligence", 2022) plans at
several time scales; HWM (Hierarchical World Models, arXiv 2604.03208) measures it on far-goal
mazes and Push-T. The high level is a world model whose frame is k environment steps and whose
action is a latent macro-action in ``[-1, 1]^d`` (``PredictorConfig.latent_action_dim``: an MLP
encodes the k raw actions of a segment when training). It plans a sequence of macro-actions
towards the goal embedding with any planner of the engine; the state it predicts after the
first macro-action (``subgoal_step``: after the first s of them) becomes the goal of the low
level, an `MPCController` on the regular world model, until the high level plans again. Both
models share the frozen encoder, so the subgoal lives in the low level's latent space.

The planner searches either the box ``[-1, 1]^d`` of latent macro-actions or (``latent=False``)
blocks of k raw actions that the model's macro-action encoder maps to latent ones. The encoder
covers only part of the box (on the large maze some dimensions span [-0.4, 0.7]), and a
planner free in the box finds macro-actions that the model predicts to jump to the goal;
planning raw blocks keeps every candidate one the model was trained on.

The high level replans every ``replan_every`` environment steps (k by default), warm-started
from its previous plan shifted by one coarse step when a whole coarse step has passed. A
subgoal that the high level predicts no closer to the goal than the current state (in its own
cost's goal distance) is not used: the low level then aims at the goal itself, which is what
it does near the end.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from planner.base import Planner
from planner.controller import MPCController, shift_plan
from planner.energy import Cost, GoalDistance
from planner.errors import PlannerArgumentError, check_integer
from planner.latent_energy import LatentEnergy
from planner.observation import encode_observation, observation_pixels
from planner.result import PlanResult


@dataclass(frozen=True)
class MacroActionDynamics:
    """A high-level world model as latent dynamics over its macro-actions (`LatentDynamics`).

    Attributes:
        world_model: a world model with latent actions (``latent_action_dim`` d > 0) whose
            ``rollout`` takes ``latent_actions=True`` (``worldmodels.WorldModel``).
        latent: the planner's actions are latent macro-actions (d,); False: raw blocks of k
            environment actions (k * A,), which the model's macro-action encoder maps to
            latent ones, so that every candidate is a macro-action the model was trained on.
    """

    world_model: Any
    latent: bool = True

    @property
    def device(self) -> torch.device:
        return self.world_model.device

    @property
    def temporal_distance(self) -> Any:
        """The high-level model's temporal-distance head, for `TemporalDistance` costs."""
        return self.world_model.temporal_distance

    def rollout(
        self, z_hist: Tensor, actions: Tensor, past_actions: Tensor | None = None
    ) -> Tensor:
        """(B, T, P, D) history, (B, N, H, d) latent macro-actions (or (B, N, H, k * A) raw
        blocks) -> (B, N, H, P, D)."""
        return self.world_model.rollout(z_hist, actions, past_actions, latent_actions=self.latent)


class HierarchicalController:
    """Subgoals from a high-level plan over macro-actions, reached by an `MPCController`.

    Attributes:
        low: the low-level controller; its goal is the current subgoal.
        subgoal: (B, P, D) the latest subgoal (the goal itself where none helps); None
            before the first plan of an episode.
        last_result: the latest high-level `PlanResult`.
        subgoals: every subgoal of the episode, (B, P, D) each, with the environment step at
            which it was set (for pictures and probes).
        plan_times_s: wall-clock seconds of each high-level plan, kept across `reset` calls.
    """

    def __init__(
        self,
        low: MPCController,
        high_model: Any,
        high_planner: Planner,
        cost: Cost | None = None,
        replan_every: int | None = None,
        subgoal_step: int = 1,
        generator: torch.Generator | None = None,
        latent: bool = True,
    ) -> None:
        """Stores the parts.

        Args:
            low: the low-level controller, on a world model with the high level's encoder.
            high_model: the high-level world model (latent macro-actions; ``frameskip`` k
                environment steps per coarse step), e.g. ``worldmodels.load_high_level(path)``.
            high_planner: plans (H, d) macro-action sequences in ``[-1, 1]^d`` (``latent``),
                or (H, k * A) sequences of raw action blocks within the environment's bounds.
            cost: the high level's energy (z_pred, z_goal, actions) -> (B, N); default
                ``GoalDistance("last")``: only where the coarse plan ends counts.
            replan_every: environment steps between high-level plans; default k.
            subgoal_step: the coarse step whose predicted state is the subgoal, 1 <= s <= H.
            generator: random generator of the high-level planner.
            latent: plan latent macro-actions directly; False: raw blocks, encoded by the
                model's macro-action encoder (`MacroActionDynamics`).

        Raises:
            PlannerArgumentError: for a planner of another action dim, or out-of-range steps.
        """
        d = high_model.latent_action_dim if latent else high_model.action_dim
        if high_planner.action_dim != d:
            kind = "latent macro-actions" if latent else "raw action blocks"
            raise PlannerArgumentError(
                f"the high-level planner plans actions of dim {high_planner.action_dim}; the "
                f"high-level model's {kind} have dim {d}"
            )
        if check_integer("subgoal_step", subgoal_step) > high_planner.horizon:
            raise PlannerArgumentError(
                f"subgoal_step ({subgoal_step}) must be <= the high-level horizon "
                f"({high_planner.horizon})"
            )
        self.low = low
        self.high_model = high_model
        self.high_planner = high_planner
        self.energy = LatentEnergy(
            MacroActionDynamics(high_model, latent), GoalDistance("last") if cost is None else cost
        )
        self.cost: Cost = self.energy.cost  # bound to the high-level model (for_world_model)
        self.coarse_steps = high_model.frameskip
        self.replan_every = check_integer(
            "replan_every", self.coarse_steps if replan_every is None else replan_every
        )
        self.subgoal_step = subgoal_step
        self.generator = generator
        self.plan_times_s: list[float] = []
        self._start_episode()

    @property
    def frameskip(self) -> int:
        """The low level's frame skip (environment steps per low-level block)."""
        return self.low.frameskip

    def _start_episode(self) -> None:
        self.subgoal: Tensor | None = None
        self.subgoals: list[tuple[int, Tensor]] = []
        self.last_result: PlanResult | None = None
        self._z_goal: Tensor | None = None
        self._plan: Tensor | None = None  # (B, H, d)
        self._steps = 0  # environment steps since reset
        self._planned_at = 0

    def reset(self, goal_obs: Any) -> None:
        """Encodes the goal (through the low level) and forgets the episode's plans."""
        self.low.reset(goal_obs)
        self._start_episode()
        self._z_goal = self.low.goal_latent

    def act(self, obs: Any) -> np.ndarray:
        """The next raw action; plans the high level first when it is time to.

        Args:
            obs: as `MPCController.act` takes it.

        Returns:
            (A,) or (B, A) float32, from the low level.
        """
        if self._z_goal is None:
            raise ValueError("act was called before reset; call reset(goal_obs) first")
        if self._steps % self.replan_every == 0:
            self._plan_subgoal(obs)
        self._steps += 1
        return self.low.act(obs)

    def _plan_subgoal(self, obs: Any) -> None:
        """Plans macro-actions from the observation and hands the low level its subgoal."""
        world_model = self.low.world_model
        pixels = observation_pixels(obs, world_model.device)
        z = encode_observation(world_model, pixels, obs)  # (B, 1, P, D)
        batch_size = z.shape[0]
        if self._plan is None:
            init = self.high_planner.default_init(batch_size, world_model.device)
        else:  # warm start: the previous plan without the coarse steps since
            init = shift_plan(self._plan, (self._steps - self._planned_at) // self.coarse_steps)
        begin = time.perf_counter()
        result = self.high_planner.plan(
            self.energy.bind(z, self._z_goal),
            batch_size=batch_size,
            init=init,
            generator=self.generator,
        )
        self.plan_times_s.append(time.perf_counter() - begin)
        self.last_result, self._plan, self._planned_at = result, result.actions, self._steps
        with torch.no_grad():
            states = self.energy.world_model.rollout(z, result.actions[:, None])[:, 0]
            subgoal = states[:, self.subgoal_step - 1]  # (B, P, D)
            goal = self._z_goal
            closer = self._goal_distance(subgoal, goal) < self._goal_distance(z[:, 0], goal)
        subgoal = torch.where(closer[:, None, None], subgoal, goal)
        self.subgoal = subgoal
        self.subgoals.append((self._steps, subgoal.detach().cpu()))
        self.low.set_goal_latent(subgoal)

    def _goal_distance(self, z: Tensor, goal: Tensor) -> Tensor:
        """(B, P, D) states -> (B,) the high level's cost of being at them (one-step plans)."""
        actions = z.new_zeros(z.shape[0], 1, 1, self.high_planner.action_dim)
        return self.cost(z[:, None, None], goal, actions)[:, 0]
