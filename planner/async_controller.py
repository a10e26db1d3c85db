"""Receding-horizon control beside a real-time loop: planning in a thread, acting on time."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from planner.base import Planner
from planner.controller import block_frameskip, shift_plan
from planner.controller_plan import Fallbacks, PolicyPrior, controller_plan
from planner.energy import Cost, GoalDistance
from planner.errors import check_integer
from planner.latent_energy import LatentEnergy
from planner.observation import encode_observation, observation_pixels
from planner.world_model import PlanningWorldModel


@dataclass(frozen=True)
class _Plan:
    """A finished plan for the steps from loop step `step` (its observation's) on: actions
    (B, d + H, K*A) blocks, the d committed ones then the planner's H; elites
    (B, M, H, K*A) or None, the planner's carried sequences for those H blocks."""

    step: int
    actions: Tensor
    elites: Tensor | None
    committed: int


class AsyncController:
    """Plans beside the control loop, so that each tick returns on time.

    `act(obs)` hands the observation to a planning thread and returns at once with the action
    of the newest finished plan for the current step: a plan made from the observation of
    step s holds, in its row r, the block for steps s + K * r ... (K the world model's frame
    skip), so at step t it returns row (t - s) // K, action (t - s) % K, the plan shifted by
    the steps since it was made. The thread always plans from the newest observation it was
    handed, warm-started from the previous plan shifted by the blocks since (`shift_plan`;
    iCEM's elites likewise), with the energy of `MPCController` (one frame of history), and
    the planner's `time_budget_s` makes each plan anytime. Until the episode's first plan is
    done `act` waits for it at most `deadline_s`. A tick is a deadline miss when it returned
    after `deadline_s`, or had no plan row for its step (before the first plan, or the newest
    plan is older than its horizon): it then returns the middle of the bounds, or holds the
    plan's last action.

    Attributes:
        frameskip: K, environment steps per world-model frame.
        ticks: `act` calls so far (across episodes).
        deadline_misses: ticks that missed (as above).
        plan_ages: for each tick, the steps since its plan's observation (-1 without plan).
        plan_times_s: wall-clock seconds of each finished plan.
    """

    def __init__(
        self,
        world_model: PlanningWorldModel,
        planner: Planner,
        *,
        deadline_s: float,
        cost: Cost | None = None,
        generator: torch.Generator | None = None,
        time_budget_s: float | None = None,
        compile: bool = False,
        bf16: bool = False,
        warm_iters: int | None = None,
        null_candidate: bool = False,
        null_margin: float = 0.0,
        policy_prior: PolicyPrior | None = None,
        policy_margin: float = 0.0,
    ) -> None:
        """Stores the parts and starts the planning thread.

        Args:
            world_model: encodes observations and rolls out candidates (`PlanningWorldModel`).
            planner: optimises blocks (H, K * A), K the world model's frame skip.
            deadline_s: the longest `act` may take, > 0 (the loop's period, or less).
            cost: maps (z_pred, z_goal, actions) to (B, N); `GoalDistance("all")` by default.
            generator: random generator for the planner (on the world model's device).
            time_budget_s: optional time budget per plan, passed to `planner.plan`.
            compile: `torch.compile` the energy once (`LatentEnergy`).
            bf16: bfloat16 autocast of the rollout (`LatentEnergy`).
            warm_iters: optional cap on the planner's iterations for a plan warm-started from
                the previous one (`MPCController`'s ``warm_iters``).
            null_candidate, null_margin: score the null plan among the candidates, and execute
                it unless the best plan gains more than this fraction of its energy
                (`MPCController`'s, for the blocks after the committed ones).
            policy_prior, policy_margin: the world model's goal policy's plan, rolled out from
                where the committed blocks lead, scored, searched around or executed, and its
                margin (`MPCController`'s).

        Raises:
            ValueError: naming the offending field.
        """
        if deadline_s <= 0:
            raise ValueError(f"deadline_s ({deadline_s}) must be > 0")
        if warm_iters is not None:
            check_integer("warm_iters", warm_iters)
        fallbacks = Fallbacks(
            null_candidate, float(null_margin), policy_prior, float(policy_margin)
        )
        fallbacks.check_world_model(world_model)
        self.world_model = world_model
        self.planner = planner
        self.frameskip = block_frameskip(world_model, planner)
        self.deadline_s = deadline_s
        self.energy = LatentEnergy(
            world_model, GoalDistance("all") if cost is None else cost, compile=compile, bf16=bf16
        )
        self.generator = generator
        self.time_budget_s = time_budget_s
        self.warm_iters = warm_iters
        self.fallbacks = fallbacks
        self.ticks = 0
        self.deadline_misses = 0
        self.plan_ages: list[int] = []
        self.plan_times_s: list[float] = []
        self._condition = threading.Condition()
        self._episode = 0
        self._step = 0  # act calls in this episode
        self._z_goal: Tensor | None = None  # (B, P, D)
        self._goal_shape: tuple[int, ...] = ()
        self._pending: tuple[int, int, Tensor, Any] | None = None  # episode, step, pixels, obs
        self._plan: _Plan | None = None
        self._delay_blocks = 0  # blocks the loop ran between the last plan's observation and it
        self._error: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._plan_loop, name="async-plan", daemon=True)
        self._thread.start()

    def reset(self, goal_obs: Any) -> None:
        """Starts an episode: encodes the goal; plans of the previous episode are dropped.

        Args:
            goal_obs: a mapping with "pixels" (and "proprio" for a model that takes it), or
                the pixels: (H, W, 3) or (B, H, W, 3) uint8.
        """
        pixels = observation_pixels(goal_obs, self.world_model.device)
        z_goal = encode_observation(self.world_model, pixels, goal_obs)[:, -1]  # (B, P, D)
        with self._condition:
            self._episode += 1
            self._step = 0
            self._z_goal = z_goal
            self._goal_shape = tuple(pixels.shape)
            self._pending = None
            self._plan = None

    def act(self, obs: Any) -> np.ndarray:
        """Returns the action for this step within `deadline_s`, and has the observation
        planned from.

        Args:
            obs: like the goal given to `reset` (same image shape).

        Returns:
            (A,) or (B, A) float32 inside the bounds.

        Raises:
            ValueError: before `reset`, or when the image shape differs from the goal's.
            RuntimeError: when planning failed (with the planner's error as its cause).
        """
        start = time.monotonic()
        # a copy: the caller may reuse its array
        pixels = observation_pixels(obs, self.world_model.device).clone()
        if self._z_goal is None:
            raise ValueError("act was called before reset; call reset(goal_obs) first")
        if tuple(pixels.shape) != self._goal_shape:
            raise ValueError(
                f"goal image has shape {self._goal_shape}, "
                f"observation image has shape {tuple(pixels.shape)}"
            )
        with self._condition:
            if self._error is not None:
                raise RuntimeError("planning failed") from self._error
            step, episode = self._step, self._episode
            self._step += 1
            self._pending = (episode, step, pixels, obs)
            self._condition.notify_all()
            self._condition.wait_for(
                lambda: self._plan is not None or self._error is not None,
                timeout=max(0.0, self.deadline_s - (time.monotonic() - start)),
            )
            plan = self._plan
        action, age = self._action(plan, step)
        late = time.monotonic() - start > self.deadline_s
        self.ticks += 1
        rows = 0 if plan is None else plan.actions.shape[1]
        self.deadline_misses += int(late or not 0 <= age < rows * self.frameskip)
        self.plan_ages.append(age)
        return action if pixels.ndim == 4 else action[0]

    def _action(self, plan: _Plan | None, step: int) -> tuple[np.ndarray, int]:
        """The raw action (B, A) of `plan` for `step`, and the plan's age in steps (-1 without
        a plan: then the middle of the bounds; past its horizon: its last action)."""
        K = self.frameskip
        if plan is None:
            batch_size = self._z_goal.shape[0]
            blocks = self.planner.default_init(batch_size, self.world_model.device)[:, :1]
            return blocks.unflatten(2, (K, -1))[:, 0, 0].cpu().numpy(), -1
        age = step - plan.step
        row = min(age // K, plan.actions.shape[1] - 1)
        index = K - 1 if age // K > row else age % K
        block = plan.actions[:, row].unflatten(1, (K, -1))  # (B, K, A)
        return block[:, index].cpu().numpy().astype(np.float32), age

    def close(self) -> None:
        """Stops the planning thread (after the plan in progress)."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()
        self._thread.join()

    def _plan_loop(self) -> None:
        """The planning thread: plans from the newest observation until closed."""
        while True:
            with self._condition:
                self._condition.wait_for(lambda: self._pending is not None or self._closed)
                if self._closed:
                    return
                episode, step, pixels, obs = self._pending
                self._pending = None
                z_goal, previous, delay = self._z_goal, self._plan, self._delay_blocks
            try:
                plan = self._make_plan(step, pixels, obs, z_goal, previous, delay)
            except Exception as error:  # raised by the next act
                with self._condition:
                    self._error = error
                    self._condition.notify_all()
                return
            with self._condition:
                if episode == self._episode:
                    self._plan = plan
                    self._delay_blocks = -(-(self._step - step) // self.frameskip)  # ceil
                    self._condition.notify_all()

    def _make_plan(
        self,
        step: int,
        pixels: Tensor,
        obs: Any,
        z_goal: Tensor,
        previous: _Plan | None,
        delay: int,
    ) -> _Plan:
        """Plans from the observation of `step`, for the steps after the blocks the loop will
        have run meanwhile.

        Those `delay` blocks are committed: they are the previous plan's for these steps. The
        world model predicts where they lead and the planner plans from there (latency
        compensation), warm-started from the rest of the previous plan; the result is the
        committed blocks followed by the new plan, so row r is for the steps from
        `step` + K * r on as always. With a frame skip K > 1 and a `step` inside one of the
        previous plan's blocks, the blocks are taken whole (an approximation).

        Args:
            step: the loop step of the observation.
            pixels: (H, W, 3) or (B, H, W, 3) uint8 of `obs`.
            obs: the observation, for its proprioception.
            z_goal: (B, P, D) the episode's goal.
            previous: the newest finished plan of the episode, or None.
            delay: blocks the loop ran while the previous plan was made, the estimate for
                this one; 0 without a previous plan.
        """
        z = encode_observation(self.world_model, pixels, obs)  # (B, 1, P, D)
        batch_size, horizon = z.shape[0], self.planner.horizon
        past_actions = z.new_zeros(batch_size, 0, self.planner.action_dim)  # (B, 0, K*A)
        committed = z.new_zeros(batch_size, 0, self.planner.action_dim)  # (B, d, K*A)
        init, carry = self.planner.default_init(batch_size, self.world_model.device), None
        if previous is not None:
            blocks = min((step - previous.step) // self.frameskip, previous.actions.shape[1])
            ahead = shift_plan(previous.actions, blocks)  # (B, R, K*A) from `step` on
            committed = ahead[:, : min(delay, horizon)]
            init = shift_plan(ahead, committed.shape[1])[:, :horizon]  # (B, H, K*A)
            if previous.elites is not None:
                since = blocks + committed.shape[1] - previous.committed  # from its H blocks' start
                carry = shift_plan(previous.elites, min(max(since, 0), horizon))
            if committed.shape[1]:
                with torch.no_grad():
                    z = self.world_model.rollout(z, committed[:, None], past_actions)[:, 0, -1:]
        energy = self.energy.bind(z, z_goal, past_actions)
        start = time.perf_counter()
        result = controller_plan(
            self.planner,
            energy,
            init,
            self.fallbacks,
            world_model=self.world_model,
            z_hist=z,
            z_goal=z_goal,
            past_actions=past_actions,
            generator=self.generator,
            time_budget_s=self.time_budget_s,
            carry=carry,
            max_iters=None if previous is None else self.warm_iters,
        )
        self.plan_times_s.append(time.perf_counter() - start)
        actions = torch.cat([committed, result.actions.detach()], dim=1)  # (B, d + H, K*A)
        return _Plan(step, actions, result.elites, committed.shape[1])
