"""Plans asked for by several controllers at about the same time, made in one batched call."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import torch
from torch import Tensor

from planner.base import Planner
from planner.latent_energy import BoundEnergy
from planner.result import PlanResult


@dataclass
class _Request:
    """One member's pending plan: its energy (B_i problems), warm start (B_i, H, A), carried
    sequences (B_i, M, H, A) or None, sequences scored first (B_i, M', H, A) or None, its
    time budget and iteration cap, and where the worker leaves the answer."""

    member: int
    energy: BoundEnergy
    init: Tensor
    carry: Tensor | None
    candidates: Tensor | None
    time_budget_s: float | None
    max_iters: int | None
    done: threading.Event = field(default_factory=threading.Event)
    result: PlanResult | None = None
    error: BaseException | None = None


class PlanPool:
    """Gathers the plans of several controllers into one call of a batched planner, so N
    robots cost about one plan rather than N (the planner is batched over problems).

    Each controller (an `MPCController` per connection of the policy server) gets a
    `PooledPlanner` from `member()` in place of a planner. Its `plan` call, from the
    controller's thread, waits while the pool's worker thread plans every pending request at
    once: their bound energies (`BoundEnergy.concat`, so one world-model rollout scores all
    problems), warm starts and carried sequences are concatenated along B in the order the
    members joined, planned with the pool's generator, and the result is split back. A batch
    starts once every member has a request pending (or `max_batch_size` are), or `window_s`
    after the first arrived.
    Requests carrying sequences (iCEM's elites) and those without, or with and without
    sequences scored first (the null plan), are planned in separate calls, as their candidate
    counts differ.

    With the same generator seed, members planning in lockstep get exactly the plans one
    controller gets for the stacked batch of their observations.

    Attributes:
        planner: the batched planner.
        n_calls: planner calls made so far.
        n_problems: problems planned so far (n_problems / n_calls is the mean batch size).
    """

    def __init__(
        self,
        planner: Planner,
        *,
        generator: torch.Generator | None = None,
        window_s: float = 0.005,
        max_batch_size: int | None = None,
    ) -> None:
        """Starts the worker thread.

        Args:
            planner: plans B problems in one call.
            generator: draws the samples of every batch; makes the pool deterministic for
                members in lockstep.
            window_s: the longest a request waits for the other members' (seconds, >= 0).
            max_batch_size: the most requests planned in one call (None: all pending); 1
                plans each request alone, in arrival order of members.

        Raises:
            ValueError: on a negative window or a max_batch_size below 1.
        """
        if window_s < 0:
            raise ValueError(f"window_s ({window_s}) must be >= 0")
        if max_batch_size is not None and max_batch_size < 1:
            raise ValueError(f"max_batch_size ({max_batch_size}) must be >= 1 or None")
        self.max_batch_size = max_batch_size
        self.planner = planner
        self.generator = generator
        self.window_s = window_s
        self.n_calls = 0
        self.n_problems = 0
        self._members: set[int] = set()
        self._next_member = 0
        self._pending: dict[int, _Request] = {}
        self._closed = False
        self._condition = threading.Condition()
        self._worker = threading.Thread(target=self._work, name="plan-pool", daemon=True)
        self._worker.start()

    def member(self) -> PooledPlanner:
        """A planner for one more controller; `PooledPlanner.leave` when it is done."""
        with self._condition:
            member = self._next_member
            self._next_member += 1
            self._members.add(member)
        return PooledPlanner(self, member)

    def close(self) -> None:
        """Stops the worker; pending and later requests fail with RuntimeError."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()
        self._worker.join()
        for request in self._pending.values():
            request.error = RuntimeError("the plan pool was closed")
            request.done.set()

    def _leave(self, member: int) -> None:
        with self._condition:
            self._members.discard(member)
            self._condition.notify_all()  # a batch waiting for this member starts now

    def _submit(self, request: _Request) -> PlanResult:
        """Queues a request and waits for its result (raising the planner's error)."""
        with self._condition:
            if self._closed:
                raise RuntimeError("the plan pool was closed")
            self._pending[request.member] = request
            self._condition.notify_all()
        request.done.wait()
        if request.error is not None:
            raise request.error
        return request.result

    def _work(self) -> None:
        """The worker: waits for a batch to form, plans it, repeats until closed."""
        while True:
            with self._condition:
                while not self._pending and not self._closed:
                    self._condition.wait()
                if self._closed:
                    return
                deadline = time.monotonic() + self.window_s
                limit = self.max_batch_size or len(self._members)
                while not self._closed and len(self._pending) < limit:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or self._members <= self._pending.keys():
                        break
                    self._condition.wait(remaining)
                taken = sorted(list(self._pending)[: self.max_batch_size])  # earliest, by join
                batch = [self._pending.pop(member) for member in taken]
            by_counts: dict[tuple[int, int], list[_Request]] = {}
            for request in batch:
                by_counts.setdefault(_counts(request), []).append(request)
            for requests in by_counts.values():
                self._plan(requests)

    def _plan(self, requests: list[_Request]) -> None:
        """Plans requests with equal counts of carried and first-scored sequences in one call
        and hands out the results."""
        try:
            carries = [r.carry for r in requests]
            candidates = [r.candidates for r in requests]
            budgets = [r.time_budget_s for r in requests if r.time_budget_s is not None]
            caps = [r.max_iters for r in requests]
            init = torch.cat([r.init for r in requests])  # (B, H, A)
            result = self.planner.plan(
                BoundEnergy.concat([r.energy for r in requests]),
                batch_size=init.shape[0],
                init=init,
                generator=self.generator,
                time_budget_s=min(budgets) if budgets else None,
                carry=None if carries[0] is None else torch.cat(carries),  # (B, M, H, A)
                candidates=None if candidates[0] is None else torch.cat(candidates),
                max_iters=None if None in caps else max(caps),
            )
            self.n_calls += 1
            self.n_problems += init.shape[0]
            start = 0
            for request in requests:
                size = request.init.shape[0]
                request.result = _part(result, start, start + size)
                start += size
        except Exception as error:  # handed to every waiting member, raised in its thread
            for request in requests:
                request.error = error
        for request in requests:
            request.done.set()


def _counts(request: _Request) -> tuple[int, int]:
    """The sequences a request carries and those it has scored first (0 without)."""
    return tuple(0 if s is None else s.shape[1] for s in (request.carry, request.candidates))


def _part(result: PlanResult, start: int, stop: int) -> PlanResult:
    """Problems start:stop of a batched result; the trace's per-problem best cost is cut the
    same way and `batch_size` records the whole call's B."""
    trace = {
        **result.trace,
        "best_cost": result.trace["best_cost"][:, start:stop],
        "batch_size": result.actions.shape[0],
    }
    elites = None if result.elites is None else result.elites[start:stop]
    return PlanResult(
        actions=result.actions[start:stop],
        cost=result.cost[start:stop],
        trace=trace,
        elites=elites,
    )


class PooledPlanner:
    """Stands in for a `PlanPool`'s planner in one controller: the same horizon, action
    dimension, bounds and default warm start; `plan` waits for the pool's batched call.

    Attributes:
        horizon, action_dim, low, high, uses_carry, needs_grad: the pool planner's.
    """

    def __init__(self, pool: PlanPool, member: int) -> None:
        planner = pool.planner
        self.horizon = planner.horizon
        self.action_dim = planner.action_dim
        self.low = planner.low
        self.high = planner.high
        self.uses_carry = planner.uses_carry
        self.needs_grad = planner.needs_grad
        self.default_init = planner.default_init
        self._pool = pool
        self._member = member

    def plan(
        self,
        energy: BoundEnergy,
        *,
        batch_size: int,
        init: Tensor | None = None,
        generator: torch.Generator | None = None,
        time_budget_s: float | None = None,
        carry: Tensor | None = None,
        candidates: Tensor | None = None,
        max_iters: int | None = None,
    ) -> PlanResult:
        """Plans this member's problems in the pool's next batch.

        Args:
            energy: a `LatentEnergy` bound to B problems (`LatentEnergy.bind`), as
                `MPCController` passes it.
            batch_size: B.
            init: optional (B, H, A) warm start; the default init without.
            generator: ignored: the pool's generator draws for the whole batch.
            time_budget_s: optional deadline; a batch takes its members' smallest.
            carry: optional (B, M, H, A) sequences from this member's previous plan.
            candidates: optional (B, M', H, A) sequences scored before the optimiser starts.
            max_iters: optional cap on the iterations; a batch takes its members' largest
                (none where a member has none), so a warm member never gets fewer than asked.

        Returns:
            This member's part of the batch's `PlanResult`; its trace is the batch's, with
            `best_cost` (n_iters, B) cut to these problems and `batch_size` the call's B.
        """
        if not isinstance(energy, BoundEnergy):
            raise TypeError(f"a pooled plan needs a BoundEnergy, got {type(energy).__name__}")
        if init is None:
            init = self.default_init(batch_size, energy.z_goal.device)
        request = _Request(self._member, energy, init, carry, candidates, time_budget_s, max_iters)
        return self._pool._submit(request)

    def leave(self) -> None:
        """Leaves the pool: batches no longer wait for this member."""
        self._pool._leave(self._member)
