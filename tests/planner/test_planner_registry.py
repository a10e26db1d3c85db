"""Building planners by name and checking their parameters."""

import pytest
import torch

from planner import CEM, PLANNERS, make_planner

BASE = dict(horizon=5, action_dim=2)


def test_make_planner_builds_cem_with_defaults():
    planner = make_planner("cem", **BASE)
    assert isinstance(planner, CEM) and PLANNERS["cem"] is CEM
    assert torch.equal(planner.init_std, torch.ones(2))  # (high - low) / 2
    assert not planner.needs_grad


def test_unknown_name_lists_known_planners():
    with pytest.raises(ValueError, match="unknown planner 'nope'.*cem"):
        make_planner("nope", **BASE)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        (dict(n_samples=20, n_elites=50), r"n_elites \(50\) must be .*<= n_samples \(20\)"),
        (dict(n_elites=0), "n_elites"),
        (dict(n_samples=0), "n_samples"),
        (dict(n_iters=0), "n_iters"),
        (dict(alpha=1.0), "alpha"),
        (dict(init_std=0.0), "init_std"),
        (dict(min_std=-0.1), "min_std"),
        (dict(horizon=0), "horizon"),
        (dict(action_dim=0), "action_dim"),
        (dict(low=1.0, high=1.0), "low"),
        (dict(low=torch.tensor([-1.0, 2.0])), "low"),
        (dict(low=torch.zeros(3)), r"low must be a float or a tensor of shape \(action_dim,\)"),
        (dict(high=float("inf")), "high must be finite"),
    ],
)
def test_bad_parameters_name_the_field(params, field):
    with pytest.raises(ValueError, match=field):
        make_planner("cem", **{**BASE, **params})
