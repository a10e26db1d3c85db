"""TrajectoryWindows: which frames and action blocks a window holds, lazily and in workers."""

import pickle

import numpy as np
import pytest
import torch

from envs.dataset import Episode, TrajectoryDataset, TrajectoryWriter, write_episode
from envs.windows import TrajectoryWindows, episode_lengths, window_starts, window_steps

LENGTHS = (7, 3, 10)  # actions per episode; frames are one more


def _episode(ep: int, length: int) -> Episode:
    """Pixel value and proprio encode (episode, step); action j of step t is 100*ep + t + j/10."""
    steps = np.arange(length + 1)
    pixels = np.broadcast_to((10 * ep + steps)[:, None, None, None], (length + 1, 4, 4, 3))
    proprio = np.stack([np.full(length + 1, ep), steps], axis=1).astype(np.float32)
    actions = (100 * ep + steps[:-1, None] + np.array([0.0, 0.1])).astype(np.float32)
    return Episode(pixels.astype(np.uint8), proprio, actions)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("windows")
    TrajectoryWriter(root, env_id="test/Steps-v0", env_kwargs={})
    for ep, length in enumerate(LENGTHS):
        write_episode(root / f"episode_{ep:06d}.h5", _episode(ep, length))
    return root


def _expected(n_frames: int, frameskip: int) -> list[tuple[int, int]]:
    span = n_frames * frameskip
    return [(ep, s) for ep, T in enumerate(LENGTHS) for s in range(T - span + 1)]


@pytest.mark.parametrize(("n_frames", "frameskip"), [(1, 1), (3, 1), (2, 3), (3, 3), (4, 3)])
def test_window_starts_are_every_window_inside_an_episode(n_frames, frameskip):
    episodes, starts = window_starts(np.array(LENGTHS), n_frames, frameskip)
    assert list(zip(episodes.tolist(), starts.tolist(), strict=True)) == _expected(
        n_frames, frameskip
    )


def test_window_steps_hold_frames_fs_apart_and_their_action_blocks():
    observations, actions = window_steps(np.array([0, 5]), n_frames=2, frameskip=3)
    np.testing.assert_array_equal(observations, [[0, 3, 6], [5, 8, 11]])
    np.testing.assert_array_equal(actions, [[[0, 1, 2], [3, 4, 5]], [[5, 6, 7], [8, 9, 10]]])


def test_episode_lengths_from_action_shapes(root):
    np.testing.assert_array_equal(episode_lengths(TrajectoryDataset(root).files), LENGTHS)


@pytest.mark.parametrize(("n_frames", "frameskip"), [(1, 1), (3, 1), (2, 3), (3, 3)])
def test_windows_hold_the_documented_steps(root, n_frames, frameskip):
    windows = TrajectoryWindows(root, n_frames, frameskip)
    expected = _expected(n_frames, frameskip)
    assert len(windows) == len(expected)
    for index, (ep, start) in enumerate(expected):
        item = windows[index]
        steps = start + frameskip * np.arange(n_frames)  # (n,)
        assert item["pixels"].shape == (n_frames, 4, 4, 3) and item["pixels"].dtype == np.uint8
        np.testing.assert_array_equal(item["pixels"][:, 0, 0, 0], 10 * ep + steps)
        np.testing.assert_array_equal(item["proprio"], np.stack([np.full(n_frames, ep), steps], 1))
        # block k: raw actions of steps s+k*fs .. s+(k+1)*fs-1, time-major, (A,) each
        raw = 100 * ep + steps[:, None] + np.arange(frameskip)  # (n, fs)
        blocks = np.stack([raw, raw + 0.1], axis=-1).reshape(n_frames, 2 * frameskip)
        assert item["actions"].dtype == np.float32
        np.testing.assert_allclose(item["actions"], blocks, rtol=0, atol=1e-4)
    windows.close()


def test_windows_stay_inside_episodes(root):
    # frameskip 3, 3 frames: a window spans 9 actions, so only the 10-action episode has any
    windows = TrajectoryWindows(root, n_frames=3, frameskip=3)
    assert [windows.locate(i) for i in range(len(windows))] == [(2, 0), (2, 1)]
    # the last window's final block ends on the episode's last action, leading to its last frame
    np.testing.assert_allclose(windows[-1]["actions"][-1], [207, 207.1, 208, 208.1, 209, 209.1])
    with pytest.raises(IndexError):
        windows[len(windows)]
    assert len(TrajectoryWindows(root, n_frames=4, frameskip=3)) == 0


def test_episode_subset(root):
    windows = TrajectoryWindows(TrajectoryDataset(root), n_frames=2, episodes=[1])
    assert len(windows) == 2 and windows[1]["pixels"][0, 0, 0, 0] == 11


def test_data_loader_workers_give_the_same_items(root):
    windows = TrajectoryWindows(root, n_frames=2, frameskip=2, max_open_files=1)
    windows[0]  # a handle opened in the parent before the workers fork
    loader = torch.utils.data.DataLoader(
        windows, batch_size=3, num_workers=2, multiprocessing_context="fork"
    )
    batches = list(loader)
    for key in ("pixels", "proprio", "actions"):
        got = torch.cat([b[key] for b in batches]).numpy()
        np.testing.assert_array_equal(got, np.stack([windows[i][key] for i in range(len(windows))]))


def test_pickled_copy_opens_its_own_files(root):
    # spawn/forkserver workers receive a pickled copy: open h5py handles must not travel
    windows = TrajectoryWindows(root, n_frames=2)
    expected = windows[3]
    copy = pickle.loads(pickle.dumps(windows))
    assert not copy._handles
    for key, value in expected.items():
        np.testing.assert_array_equal(copy[3][key], value)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"n_frames": 0}, "n_frames"), ({"n_frames": 1, "frameskip": 0}, "frameskip")],
)
def test_bad_arguments_are_named(root, kwargs, name):
    with pytest.raises(ValueError, match=name):
        TrajectoryWindows(root, **kwargs)
    with pytest.raises(ValueError, match=name):
        window_starts(np.array(LENGTHS), **{"frameskip": 1, **kwargs})
