"""A dataset's frames as one flat array, read from the episode files as it is sliced.

Training a predictor on a frozen encoder reads every frame once, in order, to encode it: the
frames need not all be in memory at once (Push-T's 6000 episodes of 101 frames are 7.4 GB of
uint8; flattening them into one array held 14 GB at its peak). `EpisodeFrames` stands where an
``(F, H, W, 3)`` uint8 array of all episodes' frames, concatenated in order, would stand, for
readers that take contiguous slices (`worldmodels.training_data.encode_frames`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np

from envs.errors import DatasetError


class EpisodeFrames:
    """The frames of episode files ``files`` (holding ``lengths`` frames each) as one flat
    (F, H, W, 3) uint8 array-like: ``len``, ``shape``, ``dtype`` and contiguous slices.

    The files are expected checked already (`envs.dataset.TrajectoryDataset.episodes` with
    ``pixels=False`` checks every file's shapes without reading its frames).
    """

    def __init__(
        self, files: Sequence[Path], lengths: Sequence[int], frame_shape: tuple[int, ...]
    ) -> None:
        if len(files) != len(lengths) or not files:
            raise ValueError(
                f"need one length per episode file and at least one file, got {len(files)} "
                f"files and {len(lengths)} lengths"
            )
        self.files = list(files)
        self.first = np.r_[0, np.cumsum(lengths)]  # (E + 1,) flat index of each episode's start
        self.shape = (int(self.first[-1]), *frame_shape)
        self.dtype = np.dtype(np.uint8)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index: slice) -> np.ndarray:
        """Frames ``index`` (a slice with step 1) -> (n, H, W, 3) uint8, read from the files."""
        if not isinstance(index, slice):
            raise TypeError(
                "EpisodeFrames reads contiguous slices (frames[i:j]) only, got "
                f"{type(index).__name__}; load the episodes for random access"
            )
        start, stop, step = index.indices(len(self))
        if step != 1:
            raise TypeError(f"EpisodeFrames reads slices with step 1, got step {step}")
        parts = [np.empty((0, *self.shape[1:]), self.dtype)]
        episode = int(np.searchsorted(self.first, start, side="right")) - 1
        while start < stop:
            end = min(stop, int(self.first[episode + 1]))
            offset = int(self.first[episode])
            path = self.files[episode]
            try:
                with h5py.File(path, "r") as f:
                    parts.append(f["pixels"][start - offset : end - offset])
            except (OSError, KeyError) as err:
                raise DatasetError(path, "pixels", f"could not read frames ({err})") from err
            start, episode = end, episode + 1
        return np.concatenate(parts)
