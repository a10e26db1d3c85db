"""The goal-conditioned policy learns the logged controller from hindsight goals (a known
proportional law), saves and loads exactly, and refuses broken files."""

import numpy as np
import pytest
import torch

from tests.worldmodels.test_decoder import _world_model
from worldmodels.checkpoint import (
    GOAL_POLICY_DIR,
    encoder_digest,
    load_world_model_goal_policy,
    save_world_model,
)
from worldmodels.errors import CheckpointError
from worldmodels.goal_policy import (
    GoalPolicy,
    PolicyConfig,
    PolicyTrainConfig,
    block_starts,
    load_goal_policy,
    save_goal_policy,
    train_goal_policy,
)
from worldmodels.training_data import EpisodeOrder, last_frames

GAIN, LIMIT = 0.3, 0.4  # the logged controller: a = clip(GAIN * (goal - x), +-LIMIT)


def law(x: np.ndarray, goal: np.ndarray) -> np.ndarray:
    return np.clip(GAIN * (goal - x), -LIMIT, LIMIT)


def reaching_episodes(n_episodes: int, length: int, seed: int = 0):
    """Points in the plane driven by `law` to a goal drawn per episode, where they stay; each
    episode ends at its goal. z = (F, 1, 2) positions; actions (F, 2), zeros at the ends."""
    rng = np.random.default_rng(seed)
    states, actions = [], []
    for _ in range(n_episodes):
        x, goal = rng.uniform(-2, 2, 2), rng.uniform(-2, 2, 2)
        for _ in range(length):
            a = law(x, goal)
            states.append(x)
            actions.append(a)
            x = x + a
        actions[-1] = np.zeros(2)
    order = EpisodeOrder.of_lengths([length] * n_episodes)
    z = torch.as_tensor(np.array(states), dtype=torch.float32)[:, None]
    return z, order, np.array(actions, dtype=np.float32)


@pytest.fixture(scope="module")
def trained():
    torch.set_num_threads(1)
    z, order, actions = reaching_episodes(n_episodes=300, length=40)
    config = PolicyTrainConfig(steps=3000, batch_size=256, lr=2e-3, width=128, depth=2,
                               frameskip=2, log_every=1000)  # fmt: skip
    policy, log = train_goal_policy(z, order, actions, config, progress=False)
    return policy, log


def test_block_starts_are_the_frames_followed_by_a_whole_block():
    order = EpisodeOrder.of_lengths([4, 3])  # frames 0-3 (3 actions), 4-6 (2 actions)
    starts, frames = block_starts(order.next_index, 2)
    assert starts.tolist() == [0, 1, 4]
    assert frames.tolist() == [[0, 1], [1, 2], [4, 5]]
    assert last_frames(order.episode_of).tolist() == [3, 3, 3, 3, 6, 6, 6]


def test_policy_recovers_the_logged_law_in_blocks_of_two(trained):
    policy, log = trained
    rng = np.random.default_rng(1)
    x, goal = rng.uniform(-2, 2, (200, 2)), rng.uniform(-2, 2, (200, 2))
    first = law(x, goal)
    expected = np.concatenate([first, law(x + first, goal)], 1)  # (200, 4): the block
    to_z = lambda a: torch.as_tensor(a, dtype=torch.float32)[:, None]  # noqa: E731
    predicted = policy(to_z(x), to_z(goal)).numpy()
    assert np.abs(predicted - expected).mean() < 0.03  # actions span +-0.4
    assert log[-1]["val_mse"] < 0.01  # of the z-scored actions
    wrong_goal = policy(to_z(x), to_z(-goal)).numpy()  # the goal matters
    assert np.abs(wrong_goal - expected).mean() > 0.2


def test_save_and_load_round_trip(tmp_path, trained):
    policy, _ = trained
    save_goal_policy(policy, tmp_path, {"note": "test"})
    loaded = load_goal_policy(tmp_path)
    z, goal = torch.randn(5, 1, 2), torch.randn(5, 1, 2)
    assert torch.equal(loaded(z, goal), policy(z, goal))
    assert loaded.config == policy.config


def test_broken_files_are_refused(tmp_path):
    policy = GoalPolicy(PolicyConfig(n_tokens=1, token_dim=2, action_dim=2, width=8, depth=1))
    with pytest.raises(FileNotFoundError, match="policy.json"):
        load_goal_policy(tmp_path)
    save_goal_policy(policy, tmp_path)
    (tmp_path / "policy.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(CheckpointError, match="does not load"):
        load_goal_policy(tmp_path)


def test_bad_settings_and_data_name_the_problem():
    with pytest.raises(ValueError, match="frameskip"):
        PolicyTrainConfig(frameskip=0)
    with pytest.raises(ValueError, match="depth"):
        GoalPolicy(PolicyConfig(n_tokens=1, token_dim=2, action_dim=2, depth=0))
    z, order, actions = reaching_episodes(n_episodes=2, length=3)
    with pytest.raises(ValueError, match="no episode is longer"):
        train_goal_policy(z, order, actions, PolicyTrainConfig(frameskip=3), progress=False)
    with pytest.raises(ValueError, match="frames"):
        train_goal_policy(z[:-1], order, actions, PolicyTrainConfig(), progress=False)


def test_world_model_goal_policy_is_tied_to_its_encoder(tmp_path):
    save_world_model(_world_model(), tmp_path)
    assert load_world_model_goal_policy(tmp_path) is None
    policy = GoalPolicy(PolicyConfig(n_tokens=16, token_dim=16, action_dim=2, width=8, depth=1))
    save_goal_policy(
        policy, tmp_path / GOAL_POLICY_DIR, {"encoder_sha256": encoder_digest(tmp_path)}
    )
    assert isinstance(load_world_model_goal_policy(tmp_path), GoalPolicy)
    save_world_model(_world_model(seed=1), tmp_path)  # another encoder in the same place
    with pytest.raises(CheckpointError, match="mode=goal_policy"):
        load_world_model_goal_policy(tmp_path)
