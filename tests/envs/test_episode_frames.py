"""EpisodeFrames: a dataset's frames read from the files as sliced equal the concatenated
episodes' frames; flatten_dataset equals flattening the loaded episodes."""

from __future__ import annotations

import numpy as np
import pytest

from envs.dataset import Episode, TrajectoryDataset, TrajectoryWriter, write_episode
from envs.episode_frames import EpisodeFrames
from worldmodels.training_data import flatten_dataset, flatten_episodes


def _dataset(root, lengths=(4, 1, 6)) -> list[Episode]:
    rng = np.random.default_rng(0)
    TrajectoryWriter(root, env_id="test/Frames-v0", env_kwargs={})
    episodes = []
    for i, n in enumerate(lengths):
        episode = Episode(
            pixels=rng.integers(0, 256, (n + 1, 3, 3, 3), dtype=np.uint8),
            proprio=rng.normal(size=(n + 1, 2)).astype(np.float32),
            actions=rng.normal(size=(n, 2)).astype(np.float32),
        )
        write_episode(root / f"episode_{i:06d}.h5", episode)
        episodes.append(episode)
    return episodes


def test_slices_across_episode_boundaries_are_the_concatenated_frames(tmp_path):
    episodes = _dataset(tmp_path)
    dataset = TrajectoryDataset(tmp_path)
    flat = np.concatenate([e.pixels for e in episodes])  # (14, 3, 3, 3)
    frames = EpisodeFrames(dataset.files, [len(e.pixels) for e in episodes], (3, 3, 3))
    assert len(frames) == 14 and frames.shape == flat.shape and frames.dtype == np.uint8
    for start, stop in [(0, 14), (3, 8), (5, 7), (6, 6), (12, 20), (-3, None)]:
        np.testing.assert_array_equal(frames[start:stop], flat[start:stop])
    with pytest.raises(TypeError, match="contiguous slices"):
        frames[np.array([0, 5])]
    with pytest.raises(TypeError, match="step 1"):
        frames[0:10:2]


def test_flatten_dataset_is_flatten_episodes_with_the_frames_left_on_disk(tmp_path):
    _dataset(tmp_path)
    dataset = TrajectoryDataset(tmp_path)
    lazy, eager = flatten_dataset(dataset), flatten_episodes(dataset.episodes())
    assert isinstance(lazy.pixels, EpisodeFrames)
    np.testing.assert_array_equal(lazy.pixels[:], eager.pixels)
    for field in ("proprio", "actions", "next_index", "episode_of"):
        np.testing.assert_array_equal(getattr(lazy, field), getattr(eager, field))
    without = dataset.episodes(pixels=False)
    assert [e.pixels.shape for e in without] == [(0, 3, 3, 3)] * 3
