"""The value every planner returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import Tensor


@dataclass
class PlanResult:
    """Best action sequences found by one `Planner.plan` call.

    Attributes:
        actions: (B, H, A) best sequence found for each problem, inside the planner's bounds.
        cost: (B,) energy of `actions`; +inf for a problem whose every candidate had a
            non-finite energy (its `actions` are then the planner's final estimate).
        trace: diagnostics; see `Planner.plan` for the keys.
        elites: (B, M, H, A) sequences a population planner hands to its next plan (iCEM's
            kept elites), to be shifted and passed back as `carry`; None for other planners.
    """

    actions: Tensor
    cost: Tensor
    trace: dict[str, Any] = field(default_factory=dict)
    elites: Tensor | None = None
