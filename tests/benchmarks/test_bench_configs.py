"""Every planner in the bench config group builds, with the name its file says."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from planner import PLANNERS, make_planner

CONF = Path(__file__).resolve().parents[2] / "benchmarks" / "conf"


def test_there_is_a_config_for_every_registered_planner():
    assert {p.stem for p in (CONF / "planner").glob("*.yaml")} == set(PLANNERS)


@pytest.mark.parametrize("name", sorted(PLANNERS))
def test_bench_planner_config_builds_that_planner(name):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="bench", overrides=[f"planner={name}"])
    planner = make_planner(**OmegaConf.to_container(cfg.planner), action_dim=2)
    assert isinstance(planner, PLANNERS[name]) and planner.horizon == 5
