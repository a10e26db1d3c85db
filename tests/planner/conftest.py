"""Fixtures shared by the controller tests."""

from collections.abc import Callable

import pytest
import torch

from planner import MPCController, PlanResult

PlanLog = list[tuple[torch.Tensor, PlanResult]]


@pytest.fixture
def record_plans(monkeypatch) -> Callable[[MPCController], PlanLog]:
    """A function that makes a controller's planner log (init, result) for every plan call."""

    def record(mpc: MPCController) -> PlanLog:
        calls: PlanLog = []
        plan = mpc.planner.plan

        def recording_plan(energy, **kwargs):
            result = plan(energy, **kwargs)
            calls.append((kwargs["init"].clone(), result))
            return result

        monkeypatch.setattr(mpc.planner, "plan", recording_plan)
        return calls

    return record
