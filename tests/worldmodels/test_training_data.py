"""Flattening episodes and cutting training windows."""

import numpy as np

from envs.dataset import Episode
from worldmodels.training_data import flatten_episodes


def _episode(n_actions: int, value: int) -> Episode:
    return Episode(
        pixels=np.full((n_actions + 1, 2, 2, 3), value, dtype=np.uint8),
        proprio=np.zeros((n_actions + 1, 4), dtype=np.float32),
        actions=np.arange(n_actions * 2, dtype=np.float32).reshape(n_actions, 2) + value,
    )


def test_flatten_and_windows_never_cross_episodes():
    flat = flatten_episodes([_episode(3, 0), _episode(2, 10)])
    assert flat.pixels.shape == (7, 2, 2, 3)
    assert flat.next_index.tolist() == [1, 2, 3, -1, 5, 6, -1]
    assert flat.episode_of.tolist() == [0, 0, 0, 0, 1, 1, 1]
    np.testing.assert_array_equal(flat.actions[3], [0, 0])  # no action after the last frame
    np.testing.assert_array_equal(flat.actions[4], [10, 11])
    # windows of 2 frames plus their target frame: starts 0, 1 in episode 0 and 4 in episode 1
    assert flat.windows(2).tolist() == [0, 1, 4]
    assert flat.windows(3).tolist() == [0]
