"""The temporal-distance head (HILP) learns steps along the logged way, not the straight line;
it saves, loads and resumes exactly; the energy term reads it from the world model."""

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from planner.errors import EnergyError
from planner.temporal_distance import TemporalDistance
from worldmodels.errors import CheckpointError
from worldmodels.temporal_distance import (
    TemporalDistanceHead,
    TemporalDistanceTrainConfig,
    load_temporal_distance,
    save_temporal_distance,
    train_temporal_distance,
)
from worldmodels.training_data import FlatEpisodes
from worldmodels.training_state import load_training_state


def u_path(s: np.ndarray) -> np.ndarray:
    """Arc length s in [0, 6] -> (x, y) on a U: down the left arm, across, up the right arm."""
    s = np.asarray(s, dtype=np.float64)
    x = np.clip(s - 2.0, 0.0, 2.0)
    y = np.where(s < 2.0, 2.0 - s, np.where(s > 4.0, s - 4.0, 0.0))
    return np.stack([x, y], axis=-1)


def u_walks(n_episodes: int, length: int, seed: int = 0) -> tuple[torch.Tensor, FlatEpisodes]:
    """Walks of 0.25 a step along the U's arc, keeping their direction with probability 0.9
    (turning at the tips); z = (F, 1, 2) positions (one token)."""
    rng = np.random.default_rng(seed)
    arcs = []
    for _ in range(n_episodes):
        s, direction = [rng.uniform(0, 6)], rng.choice([-1.0, 1.0])
        for _ in range(length - 1):
            direction = -direction if rng.random() < 0.1 else direction
            if not 0.0 <= s[-1] + 0.25 * direction <= 6.0:
                direction = -direction
            s.append(s[-1] + 0.25 * direction)
        arcs.append(s)
    arc = np.concatenate(arcs)
    n = len(arc)
    episode_of = np.repeat(np.arange(n_episodes), length)
    next_index = np.arange(1, n + 1)
    next_index[length - 1 :: length] = -1
    data = FlatEpisodes(
        pixels=np.zeros((n, 1, 1, 3), np.uint8),
        proprio=np.zeros((n, 0), np.float32),
        actions=np.zeros((n, 1), np.float32),
        next_index=next_index,
        episode_of=episode_of,
    )
    return torch.as_tensor(u_path(arc), dtype=torch.float32)[:, None], data


def _z(s: float) -> torch.Tensor:
    return torch.as_tensor(u_path([s]), dtype=torch.float32)[:, None]  # (1, 1, 2)


SMALL = {
    "batch_size": 256,
    "lr": 1e-3,
    "width": 64,
    "dim": 8,
    "gamma": 0.95,
    "target_ema": 0.02,
    "log_every": 500,
}


@pytest.fixture(scope="module")
def u_head():
    torch.set_num_threads(1)
    z, data = u_walks(n_episodes=200, length=40)
    config = TemporalDistanceTrainConfig(steps=3000, **SMALL)
    head, log = train_temporal_distance(z, data, config, progress=False)
    return head, log


def test_distance_follows_the_way_round_not_the_straight_line(u_head):
    """The U's tips are 2 apart in the plane but 24 steps apart along it; its corners are 2
    apart in the plane and 8 steps along it: the head must rank the tips farther."""
    head, _ = u_head
    with torch.no_grad():
        tips = head.distance(_z(0.0), _z(6.0)).item()
        corners = head.distance(_z(2.0), _z(4.0)).item()
        arcs = np.linspace(0.0, 6.0, 13)
        pairs = [(a, b) for a in arcs for b in arcs if a < b]
        learned = [head.distance(_z(a), _z(b)).item() for a, b in pairs]
    assert tips > 1.5 * corners
    steps_apart = [b - a for a, b in pairs]
    assert spearmanr(learned, steps_apart)[0] > 0.9


def test_log_rows_hold_the_step_and_random_pair_distances(u_head):
    _, log = u_head
    assert [row["step"] for row in log] == [500, 1000, 1500, 2000, 2500, 3000]
    assert log[-1]["random_pair_distance"] > 3 * log[-1]["step_distance"]


def test_save_and_load_round_trip(tmp_path, u_head):
    head, _ = u_head
    save_temporal_distance(head, tmp_path / "td", {"note": "test"})
    loaded = load_temporal_distance(tmp_path / "td")
    assert loaded.config == head.config
    for key, value in head.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    (tmp_path / "td" / "head.json").write_text("{}")
    with pytest.raises(CheckpointError, match="head"):
        load_temporal_distance(tmp_path / "td")
    with pytest.raises(FileNotFoundError, match="head file not found"):
        load_temporal_distance(tmp_path / "nothing")


def test_a_killed_run_resumes_to_the_same_weights(tmp_path, monkeypatch):
    z, data = u_walks(n_episodes=10, length=12)
    config = TemporalDistanceTrainConfig(steps=8, checkpoint_every=3, **{**SMALL, "log_every": 2})
    reference, reference_log = train_temporal_distance(z, data, config, progress=False)

    checkpoint = tmp_path / "state.safetensors"
    real_distance, calls = TemporalDistanceHead.distance, []

    def dying_distance(self, a, b):  # 2 calls a step, 2 more at each log row
        calls.append(1)
        if len(calls) == 2 * 5 + 2 * 2 + 1:
            raise KeyboardInterrupt  # stands in for SIGKILL in step 6
        return real_distance(self, a, b)

    monkeypatch.setattr(TemporalDistanceHead, "distance", dying_distance)
    with pytest.raises(KeyboardInterrupt):
        train_temporal_distance(z, data, config, progress=False, checkpoint=checkpoint)
    monkeypatch.setattr(TemporalDistanceHead, "distance", real_distance)
    head = TemporalDistanceHead(reference.config)
    target = TemporalDistanceHead(reference.config).requires_grad_(False)
    model = torch.nn.ModuleDict({"head": head, "target": target})
    saved = load_training_state(checkpoint, model, torch.optim.AdamW(head.parameters()))
    assert saved.step == 3
    resumed, log = train_temporal_distance(z, data, config, progress=False, checkpoint=checkpoint)
    assert log == reference_log
    for key, value in reference.state_dict().items():
        assert torch.equal(resumed.state_dict()[key], value), key


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="gamma"):
        TemporalDistanceTrainConfig(gamma=1.0)
    with pytest.raises(ValueError, match="expectile"):
        TemporalDistanceTrainConfig(expectile=0.3)
    with pytest.raises(ValueError, match="p_current and p_future"):
        TemporalDistanceTrainConfig(p_current=0.6, p_future=0.6)


class _Model:
    def __init__(self, head):
        self.temporal_distance = head


def test_the_energy_term_is_the_heads_distance_to_the_goal(u_head):
    head, _ = u_head
    z_pred = torch.cat([_z(s) for s in (1.0, 3.0, 5.0, 6.0)]).reshape(1, 2, 2, 1, 2)
    goal = _z(6.0)  # (1, 1, 2) = (B, P, D)
    last = TemporalDistance("last").for_world_model(_Model(head))
    every = TemporalDistance("all").for_world_model(_Model(head))
    with torch.no_grad():
        d = head.distance(z_pred, goal[:, None, None])  # (1, 2, 2)
        # Equal to float32 precision: the head's MLP runs on batches of other shapes here, and
        # at the goal the distance is a norm of two embeddings that cancel (about 1e-6, not 0).
        torch.testing.assert_close(last(z_pred, goal, None), d[:, :, -1])
        torch.testing.assert_close(every(z_pred, goal, None), d.mean(dim=2))
        assert d[0, 1, 1] < d[0, 0, 1] < d[0, 0, 0]  # at the goal < halfway round < the far arm
    with pytest.raises(EnergyError, match="mode=temporal_distance"):
        TemporalDistance().for_world_model(_Model(None))
    with pytest.raises(EnergyError, match="not bound"):
        TemporalDistance()(z_pred, goal, None)
