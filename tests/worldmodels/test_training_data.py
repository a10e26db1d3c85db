"""Flattening episodes and cutting training windows."""

import numpy as np
import pytest
import torch

from envs.dataset import Episode, TrajectoryDataset, TrajectoryWriter, write_episode
from envs.windows import TrajectoryWindows
from worldmodels.training_data import encode_episodes, encode_frames, flatten_episodes


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


@pytest.mark.parametrize(("n_frames", "frameskip"), [(1, 1), (2, 1), (1, 2), (2, 2), (1, 3)])
def test_training_windows_are_the_lazy_readers_windows(tmp_path, n_frames, frameskip):
    # one definition of a window: the in-memory arrays and the on-disk reader agree
    episodes = [_episode(5, 0), _episode(2, 10), _episode(7, 20)]
    TrajectoryWriter(tmp_path, env_id="test/Steps-v0", env_kwargs={})
    for i, episode in enumerate(episodes):
        write_episode(tmp_path / f"episode_{i:06d}.h5", episode)
    flat = flatten_episodes(TrajectoryDataset(tmp_path).episodes())
    lazy = TrajectoryWindows(tmp_path, n_frames, frameskip)
    starts = flat.windows(n_frames, frameskip)
    assert len(starts) == len(lazy) > 0
    first_frame = np.r_[0, np.cumsum([len(e.pixels) for e in episodes])]
    for index, start in enumerate(starts):
        episode, step = lazy.locate(index)
        assert start == first_frame[episode] + step
        item = lazy[index]
        frames = start + frameskip * np.arange(n_frames)
        np.testing.assert_array_equal(item["pixels"], flat.pixels[frames])
        blocks = flat.actions[frames[:, None] + np.arange(frameskip)].reshape(n_frames, -1)
        np.testing.assert_array_equal(item["actions"], blocks)
    lazy.close()


class FrameStub:
    """Encodes a frame as two tokens: its mean pixel value and its first proprio value."""

    def encode(self, pixels, proprio):
        tokens = torch.stack([pixels.float().mean(dim=(-3, -2, -1)), proprio[..., 0]], dim=-1)
        return tokens[..., None]  # (B, T, 2, 1)


@pytest.mark.parametrize("batch", [1, 3, 512])
def test_encode_episodes_streams_what_flattening_and_encoding_give(batch):
    episodes = [_episode(3, 0), _episode(2, 10), _episode(4, 20)]
    for i, episode in enumerate(episodes):
        episode.proprio[:, 0] = np.arange(len(episode.proprio)) + 100 * i
    flat = flatten_episodes(episodes)
    z, order = encode_episodes(FrameStub(), iter(episodes), batch=batch)
    torch.testing.assert_close(z, encode_frames(FrameStub(), flat), rtol=0, atol=0)
    assert z[:, 0, 0].tolist() == [0.0] * 4 + [10.0] * 3 + [20.0] * 5
    np.testing.assert_array_equal(order.next_index, flat.next_index)
    np.testing.assert_array_equal(order.episode_of, flat.episode_of)
    with pytest.raises(ValueError, match="no episodes to encode"):
        encode_episodes(FrameStub(), iter([]))
