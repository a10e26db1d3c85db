"""Trajectory layer shared by all planners: bounds, warm start, energy calls, tracing.

Layered as in mbrl-lib (Pineda et al. 2021, "MBRL-Lib: A Modular Library for Model-based
Reinforcement Learning"): a subclass of `Planner` is only the optimiser's loop
(sample -> score -> select -> update); horizon, bounds, warm start, the time budget,
best-so-far tracking and the checks on the energy live here, written once.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from functools import partial
from typing import ClassVar

import torch
from torch import Tensor

from planner.errors import EnergyError, check_integer
from planner.result import PlanResult

Energy = Callable[[Tensor], Tensor]
"""Maps candidate action sequences (B, N, H, A) to their costs (B, N); lower is better."""


def per_dimension(value: float | Tensor, action_dim: int, name: str) -> Tensor:
    """Turns a float or an (A,) tensor into a finite float32 (A,) tensor on the CPU.

    Args:
        value: a number, or a tensor (or sequence) of shape (A,).
        action_dim: A.
        name: the parameter's name, used in error messages.

    Returns:
        (A,) float32 tensor.

    Raises:
        ValueError: if the shape is neither () nor (A,), or a value is not finite.
    """
    tensor = torch.as_tensor(value, dtype=torch.float32).detach().cpu()
    if tensor.shape not in ((), (action_dim,)):
        raise ValueError(
            f"{name} must be a float or a tensor of shape (action_dim,) = ({action_dim},), "
            f"got shape {tuple(tensor.shape)}"
        )
    if not torch.isfinite(tensor).all():
        raise ValueError(f"{name} must be finite, got {tensor.tolist()}")
    return tensor.expand(action_dim).clone()


def _no_sync() -> None:
    """Stands in for a device synchronisation on devices that run eagerly (CPU)."""


class PlanRun:
    """State of one `Planner.plan` call, handed to the optimiser's loop.

    It owns the only call to the energy (`evaluate`), the iteration loop with its time
    budget and trace (`iterations`), and the best sequence evaluated so far (`result`).

    Attributes:
        init: (B, H, A) starting estimate (warm start or the middle of the bounds), in bounds.
        low: (A,) lower bounds on the device of `init`.
        high: (A,) upper bounds on the device of `init`.
        generator: random generator on the device of `init`; use it for every draw.
        carry: (B, M, H, A) sequences carried over from the previous plan, inside the bounds;
            M = 0 when there are none. Only planners with `uses_carry` read it.
        elites: (B, M, H, A) sequences the planner hands to its next plan (returned as
            `PlanResult.elites`); None unless the planner sets it.
    """

    def __init__(
        self,
        energy: Energy,
        init: Tensor,
        low: Tensor,
        high: Tensor,
        generator: torch.Generator,
        time_budget_s: float | None,
        carry: Tensor,
        max_iters: int | None = None,
    ) -> None:
        self._start = time.perf_counter()
        self._max_iters = max_iters
        self._energy = energy
        self.init = init
        self.carry = carry
        self.elites: Tensor | None = None
        self.low = low
        self.high = high
        self.generator = generator
        self._time_budget_s = float("inf") if time_budget_s is None else time_budget_s
        self._synchronize = (
            partial(torch.cuda.synchronize, init.device) if init.device.type == "cuda" else _no_sync
        )
        batch_size = init.shape[0]
        self._best_actions = init.detach().clone()  # (B, H, A)
        self._best_cost = torch.full((batch_size,), float("inf"), device=init.device)  # (B,)
        self._best_cost_per_iteration: list[Tensor] = []
        self._iteration_time_s: list[float] = []
        self._energy_time_s = 0.0
        self._stopped_early = False

    def clamp(self, actions: Tensor) -> Tensor:
        """Clamps actions (..., A) elementwise into [low, high]."""
        return torch.clamp(actions, min=self.low, max=self.high)

    def evaluate(self, candidates: Tensor) -> Tensor:
        """Scores candidates with the energy and remembers the best one per problem.

        Args:
            candidates: (B, N, H, A) action sequences, already inside the bounds.

        Returns:
            (B, N) float32 costs, with NaN and +-inf replaced by +inf so they rank worst.
            Differentiable with respect to `candidates` where the energy is.

        Raises:
            ValueError: if the energy does not return a tensor of shape (B, N).
        """
        B, N, _, _ = candidates.shape
        self._synchronize()
        start = time.perf_counter()
        cost = self._energy(candidates)
        self._synchronize()
        self._energy_time_s += time.perf_counter() - start
        if not isinstance(cost, Tensor) or cost.shape != (B, N):
            got = tuple(cost.shape) if isinstance(cost, Tensor) else type(cost).__name__
            raise EnergyError(f"energy must return a cost of shape (B, N) = {(B, N)}, got {got}")
        cost = cost.to(torch.float32)
        cost = torch.where(torch.isfinite(cost), cost, torch.full_like(cost, float("inf")))

        # Best so far: strict improvement only, so +inf never replaces the initial estimate.
        round_cost, round_index = cost.detach().min(dim=1)  # (B,), (B,)
        round_actions = candidates.detach()[torch.arange(B, device=cost.device), round_index]
        improved = round_cost < self._best_cost  # (B,)
        self._best_cost = torch.where(improved, round_cost, self._best_cost)
        self._best_actions = torch.where(improved[:, None, None], round_actions, self._best_actions)
        return cost

    def iterations(self, n_iters: int) -> Iterator[int]:
        """Yields iteration indices, recording the trace after each and obeying the budget.

        At least one iteration runs; after each, the loop stops once the time since the start
        of `plan` reaches the time budget. `plan`'s `max_iters` caps n_iters.

        Args:
            n_iters: the most iterations to run.

        Yields:
            0, 1, ... up to min(n_iters, max_iters) - 1.
        """
        if self._max_iters is not None:
            n_iters = min(n_iters, self._max_iters)
        for iteration in range(n_iters):
            start = time.perf_counter()
            yield iteration
            self._synchronize()
            end = time.perf_counter()
            self._iteration_time_s.append(end - start)
            self._best_cost_per_iteration.append(self._best_cost.clone())
            if iteration < n_iters - 1 and end - self._start >= self._time_budget_s:
                self._stopped_early = True
                return

    def result(self, estimate: Tensor) -> PlanResult:
        """Builds the result from the best sequence evaluated.

        Args:
            estimate: (B, H, A) the optimiser's final estimate (e.g. CEM's mean). It is returned
                for problems where no candidate had a finite energy; its non-finite entries are
                replaced by the starting estimate, so the result never holds NaN.

        Returns:
            The `PlanResult`; its trace holds
            `best_cost` ((n_iters, B) CPU tensor: best energy so far after each iteration),
            `iteration_time_s` (list of floats), `energy_time_s` (time inside the energy),
            `total_time_s` (the whole `plan` call), `n_iters` (iterations run) and
            `stopped_early` (whether the time budget cut the iterations short).
        """
        estimate = torch.where(torch.isfinite(estimate), estimate.detach(), self.init)
        unsolved = torch.isinf(self._best_cost)[:, None, None]  # (B, 1, 1)
        actions = self.clamp(torch.where(unsolved, estimate, self._best_actions))
        trace = {
            "best_cost": torch.stack(self._best_cost_per_iteration).cpu(),
            "iteration_time_s": self._iteration_time_s,
            "energy_time_s": self._energy_time_s,
            "n_iters": len(self._iteration_time_s),
            "stopped_early": self._stopped_early,
            "total_time_s": time.perf_counter() - self._start,
        }
        elites = None if self.elites is None else self.clamp(self.elites.detach())
        return PlanResult(actions=actions, cost=self._best_cost, trace=trace, elites=elites)


class Planner(ABC):
    """Optimises action sequences of a fixed horizon inside box bounds.

    Subclasses implement `_optimize`, the optimiser's loop, using the `PlanRun` it is given.

    Attributes:
        needs_grad: whether the planner differentiates the energy; `plan` runs with autograd
            enabled exactly when this is True.
        uses_carry: whether the planner scores sequences carried over from its previous plan
            (`plan(carry=...)`, filled from `PlanResult.elites`).
        horizon: H, steps per action sequence.
        action_dim: A, dimensions per action.
        low: (A,) float32 lower bounds (CPU; moved to the candidates' device in `plan`).
        high: (A,) float32 upper bounds.
        device: device used when `plan` gets no `init`.
    """

    needs_grad: ClassVar[bool] = False
    uses_carry: ClassVar[bool] = False

    def __init__(
        self,
        *,
        horizon: int,
        action_dim: int,
        low: float | Tensor = -1.0,
        high: float | Tensor = 1.0,
        device: str | torch.device = "cpu",
    ) -> None:
        """Checks and stores the trajectory parameters.

        Args:
            horizon: H >= 1.
            action_dim: A >= 1.
            low: lower bound, a float or an (A,) tensor.
            high: upper bound, a float or an (A,) tensor; must exceed `low` elementwise.
            device: where candidates live when `plan` gets no `init`.

        Raises:
            ValueError: naming the offending field.
        """
        check_integer("horizon", horizon)
        check_integer("action_dim", action_dim)
        self.horizon = horizon
        self.action_dim = action_dim
        self.low = per_dimension(low, action_dim, "low")
        self.high = per_dimension(high, action_dim, "high")
        if not (self.low < self.high).all():
            raise ValueError(
                f"low ({self.low.tolist()}) must be < high ({self.high.tolist()}) elementwise"
            )
        self.device = torch.device(device)

    def default_init(self, batch_size: int, device: str | torch.device) -> Tensor:
        """The starting estimate without a warm start: the middle of the bounds.

        Args:
            batch_size: B.
            device: where to put it.

        Returns:
            (B, H, A) float32 tensor.
        """
        middle = (self.low + self.high) / 2  # (A,)
        return middle.to(device).expand(batch_size, self.horizon, self.action_dim).clone()

    def plan(
        self,
        energy: Energy,
        *,
        batch_size: int,
        init: Tensor | None = None,
        generator: torch.Generator | None = None,
        time_budget_s: float | None = None,
        carry: Tensor | None = None,
        candidates: Tensor | None = None,
        max_iters: int | None = None,
    ) -> PlanResult:
        """Minimises the energy over action sequences for B independent problems.

        Args:
            energy: maps candidates (B, N, H, A) to costs (B, N); lower is better. Non-finite
                costs rank worst.
            batch_size: B.
            init: optional (B, H, A) warm start, clamped into the bounds. Planning runs on its
                device; without it, on `self.device`.
            generator: random generator on the planning device; the same seed gives the same
                result. Without it, a fresh generator is seeded from torch's global generator
                (so `torch.manual_seed` makes the call reproducible).
            time_budget_s: optional deadline in seconds for the whole call, checked after
                each iteration; at least one iteration always runs.
            carry: optional (B, M, H, A) sequences from the previous plan (its
                `PlanResult.elites`, shifted like `init`), clamped into the bounds and scored
                among the first candidates; only for planners with `uses_carry`.
            candidates: optional (B, M, H, A) sequences scored once before the optimiser
                starts (for example the null plan, `MPCController`'s ``null_candidate``), clamped
                into the bounds; one of them is returned when nothing the optimiser scores has
                a lower energy.
            max_iters: optional cap >= 1 on the planner's iterations for this call (fewer
                iterations when warm-started: `MPCController`'s ``warm_iters``).

        Returns:
            `PlanResult` with actions (B, H, A) inside the bounds, their cost (B,) and a trace
            (keys documented in `PlanRun.result`).

        Raises:
            ValueError: on a bad argument, or when the energy returns a shape other than (B, N).
        """
        check_integer("batch_size", batch_size)
        if time_budget_s is not None and time_budget_s <= 0:
            raise ValueError(f"time_budget_s ({time_budget_s}) must be > 0")
        if max_iters is not None:
            check_integer("max_iters", max_iters)
        if init is None:
            init = self.default_init(batch_size, self.device)
        expected = (batch_size, self.horizon, self.action_dim)
        if init.shape != expected:
            raise ValueError(
                f"init must have shape (B, H, A) = {expected}, got {tuple(init.shape)}"
            )
        if not torch.isfinite(init).all():
            bad = int((~torch.isfinite(init)).sum())
            raise ValueError(f"init must be finite, got {bad} NaN/inf of {init.numel()} entries")
        device = init.device
        if carry is None:
            carry = init.new_empty(batch_size, 0, self.horizon, self.action_dim)
        elif not self.uses_carry:
            raise ValueError(f"{type(self).__name__} does not use carry; pass carry=None")
        else:
            self._check_sequences("carry", carry, batch_size)
        if candidates is not None:
            self._check_sequences("candidates", candidates, batch_size)
        if generator is None:
            seed = int(torch.randint(0, 2**62, ()))
            generator = torch.Generator(device=device).manual_seed(seed)
        elif generator.device.type != device.type:
            raise ValueError(f"generator is on {generator.device}, but planning runs on {device}")
        low, high = self.low.to(device), self.high.to(device)
        init = torch.clamp(init.detach().to(torch.float32), min=low, max=high)
        carry = torch.clamp(carry.detach().to(device, torch.float32), min=low, max=high)
        run = PlanRun(energy, init, low, high, generator, time_budget_s, carry, max_iters)
        if candidates is not None:
            with torch.no_grad():
                run.evaluate(torch.clamp(candidates.detach().to(device, torch.float32), low, high))
        with torch.set_grad_enabled(self.needs_grad):
            estimate = self._optimize(run)
        return run.result(estimate)

    def _check_sequences(self, name: str, sequences: Tensor, batch_size: int) -> None:
        """Raises a ValueError unless `sequences` is a finite (B, M, H, A) tensor."""
        if sequences.ndim != 4 or sequences.shape[:1] + sequences.shape[2:] != (
            batch_size,
            self.horizon,
            self.action_dim,
        ):
            raise ValueError(
                f"{name} must have shape (B, M, H, A) = ({batch_size}, M, {self.horizon}, "
                f"{self.action_dim}), got {tuple(sequences.shape)}"
            )
        if not torch.isfinite(sequences).all():
            bad = int((~torch.isfinite(sequences)).sum())
            raise ValueError(
                f"{name} must be finite, got {bad} NaN/inf of {sequences.numel()} entries"
            )

    @abstractmethod
    def _optimize(self, run: PlanRun) -> Tensor:
        """Runs the optimiser's iterations.

        Args:
            run: scores candidates (`run.evaluate`), loops (`run.iterations`), clamps and
                holds the start estimate, carried sequences, bounds and generator; a planner
                with `uses_carry` leaves the sequences for its next plan in `run.elites`.

        Returns:
            (B, H, A) the final estimate, returned for problems where no candidate had a
            finite energy.
        """
