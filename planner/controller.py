"""Receding-horizon (model-predictive) control with a world model and a planner."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from torch import Tensor

from planner.base import Planner
from planner.controller_plan import Fallbacks, PolicyPrior, controller_plan
from planner.energy import Cost, GoalDistance
from planner.errors import PlannerArgumentError, check_integer
from planner.latent_energy import LatentEnergy
from planner.observation import encode_observation, observation_pixels
from planner.result import PlanResult
from planner.world_model import PlanningWorldModel


def shift_plan(plan: Tensor, steps: int) -> Tensor:
    """Warm start for the next plan: drops the executed steps and repeats the last action.

    The tail holds the previous plan's last action rather than zeros: it is inside the bounds
    whatever they are, and continuing the last command is the usual guess (TD-MPC2, Hansen et
    al. 2024, and mbrl-lib shift the previous solution the same way).

    Args:
        plan: (..., H, A) the previous plan, or several (e.g. iCEM's elites (B, M, H, A)).
        steps: 0 <= steps <= H actions executed since it was made.

    Returns:
        (..., H, A) the shifted plan.
    """
    tail = plan[..., -1:, :].expand(*plan.shape[:-2], steps, plan.shape[-1])  # (..., steps, A)
    return torch.cat([plan[..., steps:, :], tail], dim=-2)


def block_frameskip(world_model: PlanningWorldModel, planner: Planner) -> int:
    """K, the world model's frame skip, checked against the planner: a plan's row is a block
    of K raw actions, so the planner's action_dim must be a multiple of K >= 1.

    Raises:
        ValueError: naming both values.
    """
    frameskip = world_model.frameskip
    if frameskip < 1 or planner.action_dim % frameskip:
        raise ValueError(
            f"the planner's action_dim ({planner.action_dim}) must be a multiple of the world "
            f"model's frameskip ({frameskip} >= 1): a plan's row is a block of raw actions"
        )
    return frameskip


class MPCController:
    """Plans in the world model's latent space and executes the plan receding-horizon.

    The world model predicts one frame per `frameskip` K environment steps, under a block of K
    raw actions (time-major, DINO-WM's frame skip); plans are (B, H, K * A), one block per row,
    and the planner is built with ``action_dim = K * A``. `reset(goal_obs)` encodes the goal
    once. `act(obs)` returns one raw action (A,) per environment step: at a block boundary
    (every K calls) it encodes the observation once, keeps the last `history` encodings, and
    every `replan_every` blocks plans again with the energy
    `cost(world_model.rollout(z_hist, actions), z_goal, actions)` (`LatentEnergy`, optionally
    compiled and in bf16), warm-started from the previous plan shifted by the blocks executed
    since (`shift_plan`); for a planner that carries sequences across plans (iCEM's elites,
    `Planner.uses_carry`) those are shifted the same way and passed as `carry`. It then returns
    the block's K actions, one per call. With K = 1 a block is one action.

    Attributes:
        frameskip: K, environment steps per world-model frame (the world model's).
        last_result: the latest `PlanResult`, None before the first plan.
        surprise: (B,) the world model's error predicting the latest block boundary's encoding
            from the previous history and the block returned since (mean squared, as
            `GoalDistance`); None until the second block after `reset`. A spike flags an event
            the model cannot explain (a collision, a teleport, a fault), in the spirit of
            V-JEPA's intuitive-physics probe.
        plan_times_s: wall-clock seconds of each plan, kept across `reset` calls.
    """

    def __init__(
        self,
        world_model: PlanningWorldModel,
        planner: Planner,
        replan_every: int = 1,
        cost: Cost | None = None,
        history: int = 1,
        generator: torch.Generator | None = None,
        time_budget_s: float | None = None,
        compile: bool = False,
        bf16: bool = False,
        null_candidate: bool = False,
        warm_iters: int | None = None,
        null_margin: float = 0.0,
        policy_prior: PolicyPrior | None = None,
        policy_margin: float = 0.0,
    ) -> None:
        """Stores the parts.

        Args:
            world_model: encodes observations (with their proprioception when its
                `proprio_dim` > 0) and rolls out candidate action sequences; any
                `PlanningWorldModel`.
            planner: optimises the action sequences of blocks, (H, K * A) with K the world
                model's `frameskip`; planning runs on the world model's device.
            replan_every: plan every this many blocks (K `act` calls each),
                1 <= replan_every <= horizon.
            cost: maps (z_pred, z_goal, actions) to (B, N); defaults to `GoalDistance("all")`.
                DINO-WM scores the final step only ("last"); under receding horizon that
                leaves the executed first action unconstrained and the agent wanders, so the
                default averages the goal distance over every predicted step.
            history: encodings of past block-boundary observations given to the world model,
                T >= 1, with the T - 1 blocks returned between them. Until that many were
                seen, the first one is repeated to fill them, with zero blocks between.
            generator: random generator for the planner (on the world model's device); makes
                the controller deterministic.
            time_budget_s: optional time budget per plan, passed to `planner.plan`.
            compile: `torch.compile` the energy once, reused by every plan (`LatentEnergy`).
            bf16: run the world model's rollout under bfloat16 autocast (`LatentEnergy`).
            null_candidate: score the null plan (the middle of the action bounds at every
                step: no command for symmetric bounds) in every plan besides the planner's own
                candidates, as pytorch_mppi's ``sample_null_action``. The plan returned is the
                best sequence scored, so an agent at its goal can stay still when no sampled
                plan beats doing nothing; wide sampling rarely draws that plan by chance.
            warm_iters: optional cap on the planner's iterations for a warm-started plan
                (every plan of an episode but the first); the first plan runs the planner's
                full count. A shifted plan starts near the last optimum, so fewer iterations
                may do; on the point maze at B = 1 they cost success (docs/serving.md).
            null_margin: with `null_candidate`, the null plan is executed unless the best plan's
                energy is below the null plan's by more than this fraction of it (0 <= m < 1):
                a conservative controller that does not move for a small predicted gain, the
                size of gain a model's error makes up (0: the best scored plan, as before).
            policy_prior: with the world model's goal-conditioned policy (its ``goal_policy``,
                `worldmodels.goal_policy`), the policy's plan rolled through the model
                (`planner.policy_prior`) is scored in every plan besides the planner's own
                candidates ("candidate"), and also replaces the shifted previous plan as the
                planner's starting estimate ("warm_start"), or is executed without a search
                ("only": the policy as a baseline, the planner giving only the horizon and
                bounds); None: no policy.
            policy_margin: with policy_prior "candidate" or "warm_start", the policy's plan is
                executed unless the best plan's energy is below its energy by more than this
                fraction of it (0 <= m < 1), as `null_margin` for the null plan: the search
                overrides the proposal only for a gain larger than the model's error makes up
                (0: the best scored plan). Checked before the null plan's margin.

        Raises:
            ValueError: naming the offending field.
        """
        if check_integer("replan_every", replan_every) > planner.horizon:
            raise PlannerArgumentError(
                f"replan_every ({replan_every}) must be >= 1 and <= the planner's horizon "
                f"({planner.horizon})"
            )
        check_integer("history", history)
        if warm_iters is not None:
            check_integer("warm_iters", warm_iters)
        fallbacks = Fallbacks(
            null_candidate, float(null_margin), policy_prior, float(policy_margin)
        )
        fallbacks.check_world_model(world_model)
        frameskip = block_frameskip(world_model, planner)
        self.world_model = world_model
        self.frameskip = frameskip
        self.planner = planner
        self.replan_every = replan_every
        self.cost: Cost = GoalDistance("all") if cost is None else cost
        self.energy = LatentEnergy(world_model, self.cost, compile=compile, bf16=bf16)
        self.history = history
        self.generator = generator
        self.time_budget_s = time_budget_s
        self.fallbacks = fallbacks
        self.warm_iters = warm_iters
        self.last_result: PlanResult | None = None
        self.plan_times_s: list[float] = []
        self._z_goal: Tensor | None = None  # (B, P, D)
        self._goal_shape: tuple[int, ...] = ()  # as given to reset
        self._z_hist: Tensor | None = None  # (B, T, P, D)
        self._past_actions: Tensor | None = None  # (B, T-1, K*A) between the history frames
        self._block: Tensor | None = None  # (B, K, A) the block being executed
        self._block_step = 0  # its actions returned so far
        self.surprise: Tensor | None = None
        self._plan: Tensor | None = None  # (B, H, K*A)
        self._executed = 0  # blocks of the current plan started so far

    def reset(self, goal_obs: Any) -> None:
        """Encodes the goal and forgets the previous episode's plan and history.

        Args:
            goal_obs: a mapping with "pixels" (and "proprio" for a world model that takes
                it), or the pixels: (H, W, 3) or (B, H, W, 3) uint8.
        """
        pixels = observation_pixels(goal_obs, self.world_model.device)
        self._goal_shape = tuple(pixels.shape)
        self._z_goal = encode_observation(self.world_model, pixels, goal_obs)[:, -1]  # (B, P, D)
        self._z_hist = None
        self._past_actions = None
        self._block = None
        self._block_step = 0
        self.surprise = None
        self._plan = None
        self._executed = 0

    @property
    def goal_latent(self) -> Tensor | None:
        """(B, P, D) the embedding the energy measures against; None before `reset`."""
        return self._z_goal

    def set_goal_latent(self, z_goal: Tensor) -> None:
        """Replaces the goal embedding mid-episode (a subgoal), keeping the history and the
        plan the next plan warm-starts from.

        Args:
            z_goal: (B, P, D), the shape of the goal embedding `reset` made.

        Raises:
            ValueError: before `reset`, or for another shape.
        """
        if self._z_goal is None:
            raise ValueError("set_goal_latent was called before reset; call reset(goal_obs)")
        if z_goal.shape != self._z_goal.shape:
            raise ValueError(
                f"goal embedding must have shape {tuple(self._z_goal.shape)}, "
                f"got {tuple(z_goal.shape)}"
            )
        self._z_goal = z_goal.to(self._z_goal)

    def act(self, obs: Any) -> np.ndarray:
        """Returns the next raw action, encoding and planning first at a block boundary.

        Args:
            obs: a mapping with "pixels" (and "proprio" for a world model that takes it), or
                the pixels: (H, W, 3) or (B, H, W, 3) uint8, of the same shape as the goal
                given to `reset`. Within a block only its shape is checked.

        Returns:
            (A,) for a single observation or (B, A) for a batch, float32, inside the bounds.

        Raises:
            ValueError: before `reset`, or when the image shape differs from the goal's.
        """
        if self._z_goal is None:
            raise ValueError("act was called before reset; call reset(goal_obs) first")
        pixels = observation_pixels(obs, self.world_model.device)
        batched = pixels if pixels.ndim == 4 else pixels[None]  # (B, H, W, 3)
        goal_batched = self._goal_shape if len(self._goal_shape) == 4 else (1, *self._goal_shape)
        if batched.shape != goal_batched:
            raise ValueError(
                f"goal image has shape {self._goal_shape}, "
                f"observation image has shape {tuple(pixels.shape)}"
            )
        if self._block is None or self._block_step == self.frameskip:
            self._start_block(pixels, obs)
        action = self._block[:, self._block_step].cpu().numpy().astype(np.float32)  # (B, A)
        self._block_step += 1
        return action if pixels.ndim == 4 else action[0]

    def remaining_actions(self) -> np.ndarray:
        """The raw actions the current plan still holds, from the one `act` returned last.

        Returns:
            (B, R, A) float32: R = K * (blocks of the plan from the current one) - (actions of
            the current block returned before the last).

        Raises:
            ValueError: before the first `act` of an episode.
        """
        if self._block is None:
            raise ValueError("remaining_actions needs an act after reset")
        blocks = self._plan[:, self._executed - 1 :].detach()  # (B, h, K*A) from the current
        raw = blocks.unflatten(2, (self.frameskip, -1)).flatten(1, 2)  # (B, h*K, A)
        return raw[:, self._block_step - 1 :].cpu().numpy().astype(np.float32)

    def _start_block(self, pixels: Tensor, obs: Any) -> None:
        """At a block boundary: encodes the observation, updates the history (and surprise),
        replans when it is time to, and takes the plan's next block.

        Args:
            pixels: (H, W, 3) or (B, H, W, 3) uint8, the image of `obs`.
            obs: the observation, for its proprioception if the world model takes it.
        """
        z = encode_observation(self.world_model, pixels, obs)  # (B, 1, P, D)
        if self._z_hist is None:
            self._z_hist = z.repeat(1, self.history, 1, 1)  # (B, T, P, D)
            block_dim = self.planner.action_dim
            self._past_actions = z.new_zeros(z.shape[0], self.history - 1, block_dim)
        else:
            last_block = self._block.flatten(1)  # (B, K*A)
            self.surprise = self._prediction_error(z[:, 0], last_block)
            self._z_hist = torch.cat([self._z_hist, z], dim=1)[:, -self.history :]
            actions = torch.cat([self._past_actions, last_block[:, None]], dim=1)
            self._past_actions = actions[:, 1:]  # the T - 1 latest
        if self._plan is None or self._executed == self.replan_every:
            self._replan()
        block = self._plan[:, self._executed].detach()  # (B, K*A)
        self._block = block.unflatten(1, (self.frameskip, -1))  # (B, K, A)
        self._block_step = 0
        self._executed += 1

    def _prediction_error(self, z: Tensor, block: Tensor) -> Tensor:
        """Error (B,) of the one-frame prediction of the observed encoding z (B, P, D) under
        the block (B, K*A) executed since the latest history frame."""
        with torch.no_grad():
            pred = self.world_model.rollout(self._z_hist, block[:, None, None], self._past_actions)
        return (pred[:, 0, 0] - z).square().mean(dim=(1, 2))

    def _replan(self) -> None:
        """Plans from the current history and goal, warm-started from the previous plan."""
        world_model, z_goal = self.world_model, self._z_goal
        energy = self.energy.bind(self._z_hist, z_goal, self._past_actions)
        batch_size = z_goal.shape[0]
        if self._plan is None or self.last_result is None:
            init, carry = self.planner.default_init(batch_size, world_model.device), None
            max_iters = None
        else:
            init = shift_plan(self._plan, self._executed)
            elites = self.last_result.elites  # (B, M, H, A) or None
            carry = None if elites is None else shift_plan(elites, self._executed)
            max_iters = self.warm_iters
        start = time.perf_counter()
        result = controller_plan(
            self.planner,
            energy,
            init,
            self.fallbacks,
            world_model=world_model,
            z_hist=self._z_hist,
            z_goal=z_goal,
            past_actions=self._past_actions,
            generator=self.generator,
            time_budget_s=self.time_budget_s,
            carry=carry,
            max_iters=max_iters,
        )
        self.plan_times_s.append(time.perf_counter() - start)
        self.last_result = result
        self._plan = result.actions
        self._executed = 0
