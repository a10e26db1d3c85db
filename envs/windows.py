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
frames whose next frame is in the same episode, as in ``worldmodels.training_data``.

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
        if n_frames < 1:
            raise ValueError(f"n_frames must be >= 1, got {n_frames}")
        if frameskip < 1:
            raise ValueError(f"frameskip must be >= 1, got {frameskip}")
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
        counts = np.maximum(self.lengths - n_frames * frameskip + 1, 0)  # (E,) windows each
        self._first = np.concatenate([[0], np.cumsum(counts)])  # (E+1,) first window of each
        self._handles: OrderedDict[int, h5py.File] = OrderedDict()
        self._pid = os.getpid()

    def __len__(self) -> int:
        return int(self._first[-1])

    def locate(self, index: int) -> tuple[int, int]:
        """Episode (position in ``self.files``) and start step of window ``index``."""
        if not -len(self) <= index < len(self):
            raise IndexError(f"window {index} out of range for {len(self)} windows")
        index %= len(self)
        episode = int(np.searchsorted(self._first, index, side="right")) - 1
        return episode, index - int(self._first[episode])

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        episode, start = self.locate(index)
        n, fs = self.n_frames, self.frameskip
        f = self._file(episode)
        frames = slice(start, start + (n - 1) * fs + 1, fs)
        actions = f["actions"][start : start + n * fs]  # (n * fs, A)
        return {
            "pixels": f["pixels"][frames],  # (n, H, W, 3)
            "proprio": f["proprio"][frames].astype(np.float32),  # (n, p)
            "actions": actions.reshape(n, -1).astype(np.float32),  # (n, fs * A)
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
