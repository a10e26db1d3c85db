"""Training windows read lazily from a trajectory dataset, with DINO-WM frame skip.

A window is ``n_frames`` observations taken every ``frameskip`` steps of one episode, each with
the block of ``frameskip`` raw actions that leads from it to the next observation (DINO-WM,
Zhou et al. 2024, ``TrajSlicerDataset``). For a window starting at step ``s`` of an episode with
``T`` actions (``T + 1`` frames), frame ``k`` (``k = 0 .. n_frames - 1``) is::

    pixels[k], proprio[k]  =  observation at step  s + k * frameskip
    actions[k]             =  concat(a[s + k*fs], a[s + k*fs + 1], ..., a[s + (k+1)*fs - 1])
                              (time-major: reshape to (frameskip, A) to get the raw actions)

so ``actions[k]`` is exactly what was executed between frame ``k`` and frame ``k + 1``. The last
frame's block ``actions[n_frames - 1]`` is real too: it leads to step ``s + n_frames * fs``,
which lies in the episode but is not returned (a predictor trained on frames ``0 .. n-2`` to
predict ``1 .. n-1`` simply does not use it). No block is ever padded.

Valid windows never cross episode boundaries: ``s`` runs over every step (stride 1) with
``s + n_frames * frameskip <= T``, i.e. ``T - n_frames * frameskip + 1`` windows per episode
(none if negative). With ``frameskip = 1`` these are the windows of ``n_frames`` consecutive
frames whose next frame is in the same episode.

:func:`window_starts` (which windows exist) and :func:`window_steps` (which steps a window
holds) are the one definition of a window: :class:`TrajectoryWindows` reads windows lazily
from disk with them, and ``worldmodels.training_data`` cuts its in-memory training arrays
with them (there the step ``s + n_frames * frameskip`` is the prediction target).

Episode lengths come from the ``actions`` dataset shapes only (HDF5 metadata, no pixels read).
HDF5 files open lazily in each process (a handle opened before a DataLoader fork is never
used by the worker), and a window reads only its ``n_frames`` pixel chunks.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from envs.dataset import TrajectoryDataset


def episode_lengths(files: Sequence[str | Path]) -> np.ndarray:
    """Number of actions ``T`` of each episode file, from the ``actions`` shape only.

    Returns:
        (E,) int64.
    """
    lengths = []
    for path in files:
        try:
            with h5py.File(path, "r") as f:
                lengths.append(f["actions"].shape[0])
        except (OSError, KeyError) as err:
            raise ValueError(f"could not read episode {path}: {err}") from err
    return np.asarray(lengths, dtype=np.int64)


def window_starts(
    lengths: np.ndarray, n_frames: int, frameskip: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Every window of ``n_frames`` observations ``frameskip`` steps apart, in episode order.

    A window starting at step ``s`` of an episode of ``T`` actions exists when
    ``s + n_frames * frameskip <= T``: its last action block ends inside the episode, so no
    window crosses an episode end.

    Args:
        lengths: (E,) actions ``T`` of each episode.
        n_frames: observations per window.
        frameskip: environment steps between consecutive observations.

    Returns:
        (W,) episode (position in ``lengths``) and (W,) start step of each window, int64.
    """
    if n_frames < 1:
        raise ValueError(f"n_frames must be >= 1, got {n_frames}")
    if frameskip < 1:
        raise ValueError(f"frameskip must be >= 1, got {frameskip}")
    counts = np.maximum(np.asarray(lengths, dtype=np.int64) - n_frames * frameskip + 1, 0)  # (E,)
    episodes = np.repeat(np.arange(len(counts)), counts)  # (W,)
    first = np.concatenate([[0], np.cumsum(counts)])[:-1]  # (E,) first window of each episode
    return episodes, np.arange(int(counts.sum())) - first[episodes]


def window_steps(
    starts: np.ndarray, n_frames: int, frameskip: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """The steps a window holds, from its start step (in an episode or in flat arrays).

    Args:
        starts: (W,) start steps ``s``.
        n_frames: observations per window ``n``.
        frameskip: environment steps between observations ``fs``.

    Returns:
        observations (W, n + 1) at ``s + k * fs`` for ``k = 0 .. n`` (the last one is the step
        the final action block leads to), and actions (W, n, fs): block ``k`` holds the steps
        ``s + k * fs .. s + (k + 1) * fs - 1``.
    """
    starts = np.asarray(starts, dtype=np.int64)[:, None]  # (W, 1)
    observations = starts + frameskip * np.arange(n_frames + 1)  # (W, n + 1)
    actions = observations[:, :-1, None] + np.arange(frameskip)  # (W, n, fs)
    return observations, actions


class TrajectoryWindows:
    """Map-style dataset of frame-skipped windows, for ``torch.utils.data.DataLoader``.

    Items are dicts of numpy arrays (the default collate stacks them into tensors)::

        pixels   (n_frames, H, W, 3)          uint8
        proprio  (n_frames, p)                float32
        actions  (n_frames, frameskip * A)    float32

    See the module docstring for which steps and actions a window holds.

    Args:
        root_or_dataset: dataset directory or an open ``TrajectoryDataset``.
        n_frames: observations per window.
        frameskip: environment steps between consecutive observations.
        episodes: indices of the episodes to draw windows from (all by default), e.g. a
            train/validation split.
        max_open_files: HDF5 files kept open per process (least recently used are closed).
    """

    def __init__(
        self,
        root_or_dataset: str | Path | TrajectoryDataset,
        n_frames: int,
        frameskip: int = 1,
        episodes: Sequence[int] | None = None,
        max_open_files: int = 32,
    ) -> None:
        if max_open_files < 1:
            raise ValueError(f"max_open_files must be >= 1, got {max_open_files}")
        dataset = (
            root_or_dataset
            if isinstance(root_or_dataset, TrajectoryDataset)
            else TrajectoryDataset(root_or_dataset)
        )
        episodes = range(len(dataset)) if episodes is None else episodes
        self.files = [dataset.files[i] for i in episodes]
        self.n_frames = n_frames
        self.frameskip = frameskip
        self.max_open_files = max_open_files
        self.lengths = episode_lengths(self.files)  # (E,) actions per episode
        self._episodes, self._starts = window_starts(self.lengths, n_frames, frameskip)  # (W,)
        self._handles: OrderedDict[int, h5py.File] = OrderedDict()
        self._pid = os.getpid()

    def __len__(self) -> int:
        return len(self._starts)

    def locate(self, index: int) -> tuple[int, int]:
        """Episode (position in ``self.files``) and start step of window ``index``."""
        if not -len(self) <= index < len(self):
            raise IndexError(f"window {index} out of range for {len(self)} windows")
        index %= len(self)
        return int(self._episodes[index]), int(self._starts[index])

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        episode, start = self.locate(index)
        observations, actions = window_steps(np.array([start]), self.n_frames, self.frameskip)
        frames = observations[0, :-1]  # (n,) increasing, as h5py's point selection needs
        steps = actions[0].ravel()  # (n * fs,) consecutive
        f = self._file(episode)
        return {
            "pixels": f["pixels"][frames],  # (n, H, W, 3)
            "proprio": f["proprio"][frames].astype(np.float32),  # (n, p)
            "actions": f["actions"][steps[0] : steps[-1] + 1]  # (n * fs, A)
            .reshape(self.n_frames, -1)
            .astype(np.float32),  # (n, fs * A)
        }

    def _file(self, episode: int) -> h5py.File:
        if os.getpid() != self._pid:  # forked: the parent's handles are not ours to use
            self._handles = OrderedDict()
            self._pid = os.getpid()
        if episode in self._handles:
            self._handles.move_to_end(episode)
            return self._handles[episode]
        if len(self._handles) >= self.max_open_files:
            self._handles.popitem(last=False)[1].close()
        self._handles[episode] = h5py.File(self.files[episode], "r")
        return self._handles[episode]

    def close(self) -> None:
        """Close the files this process opened."""
        if os.getpid() == self._pid:
            for handle in self._handles.values():
                handle.close()
        self._handles = OrderedDict()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_handles"] = OrderedDict()  # h5py handles never travel to another process
        return state
