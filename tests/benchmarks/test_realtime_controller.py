"""The real-time loop's asynchronous controller refuses settings it cannot honour."""

from types import SimpleNamespace

import pytest

from benchmarks.realtime_loop import make_controller


def test_async_refuses_a_goal_policy_prior():
    options = {"history": 1, "replan_every": 1, "policy_prior": "warm_start"}
    setup = SimpleNamespace(controller_options=options)
    cfg = SimpleNamespace(device="cpu", seed=0)
    with pytest.raises(ValueError, match="controller.policy_prior=null"):
        make_controller("async", setup, cfg, period_s=0.1)
