"""On-disk trajectory datasets: one HDF5 file per finished episode.

Layout of a dataset directory ``root/``::

    root/meta.json                 {"format": "wmplan-trajectories", "version": 1,
                                    "env_id": ..., "env_kwargs": {...}}
    root/episode_000000.h5         one finished episode, written atomically
    root/episode_000001.h5
    ...

Each episode file holds, for an episode of ``T`` actions:

    pixels   (T+1, H, W, 3) uint8    observation images, chunked per frame
    proprio  (T+1, p)       float32  proprioception
    actions  (T, A)         float32  action taken after observation t

An episode is written to ``episode_XXXXXX.h5.tmp`` and renamed into place only
once complete, so a process killed at any moment leaves every finished episode
readable and no partial file under an episode name. Readers ignore ``*.tmp``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

FORMAT = "wmplan-trajectories"
VERSION = 1


@dataclass(frozen=True)
class Episode:
    """One episode in memory: pixels (T+1, H, W, 3) uint8, proprio (T+1, p), actions (T, A)."""

    pixels: np.ndarray
    proprio: np.ndarray
    actions: np.ndarray

    def __len__(self) -> int:
        return len(self.actions)


class TrajectoryWriter:
    """Appends episodes to a dataset directory, one atomic file per episode.

    Usable from a live control loop::

        writer = TrajectoryWriter("data/maze", env_id="wmplan/PointMaze-v0", env_kwargs={})
        writer.append(obs, action)      # the observation, then the action taken
        ...
        writer.end_episode(final_obs)   # the observation after the last action
    """

    def __init__(self, root: str | Path, env_id: str, env_kwargs: dict[str, Any]) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        meta_path = self.root / "meta.json"
        meta = {"format": FORMAT, "version": VERSION, "env_id": env_id, "env_kwargs": env_kwargs}
        if meta_path.exists():
            existing = read_meta(self.root)
            if (existing["env_id"], existing["env_kwargs"]) != (env_id, env_kwargs):
                raise ValueError(
                    f"dataset {self.root} holds {existing['env_id']} {existing['env_kwargs']}; "
                    f"cannot append episodes of {env_id} {env_kwargs}"
                )
        else:
            _atomic_write_text(meta_path, json.dumps(meta, indent=2))
        existing = episode_files(self.root)
        self._next_index = episode_index(existing[-1]) + 1 if existing else 0
        self._steps: list[tuple[dict[str, np.ndarray], np.ndarray]] = []

    def append(self, obs: dict[str, np.ndarray], action: np.ndarray) -> None:
        """Record observation ``obs`` and the action taken from it."""
        self._steps.append((obs, np.asarray(action, dtype=np.float32)))

    def end_episode(self, final_obs: dict[str, np.ndarray]) -> Path:
        """Write the episode (all appended steps plus ``final_obs``); returns its path."""
        if not self._steps:
            raise ValueError("end_episode called with no appended steps")
        observations = [obs for obs, _ in self._steps] + [final_obs]
        episode = Episode(
            pixels=np.stack([o["pixels"] for o in observations]).astype(np.uint8),
            proprio=np.stack([o["proprio"] for o in observations]).astype(np.float32),
            actions=np.stack([a for _, a in self._steps]),
        )
        self._steps = []
        path = episode_path(self.root, self._next_index)
        write_episode(path, episode)
        self._next_index += 1
        return path


def write_episode(path: Path, episode: Episode) -> None:
    """Write one episode file atomically (temporary file, fsync, rename)."""
    tmp = path.with_suffix(".h5.tmp")
    frame_chunk = (1, *episode.pixels.shape[1:])
    with h5py.File(tmp, "w") as f:
        f.create_dataset("pixels", data=episode.pixels, chunks=frame_chunk, compression="lzf")
        f.create_dataset("proprio", data=episode.proprio)
        f.create_dataset("actions", data=episode.actions)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def episode_files(root: str | Path) -> list[Path]:
    """Finished episode files of a dataset, in order of their index."""
    return sorted(Path(root).glob("episode_*.h5"), key=episode_index)


def episode_path(root: str | Path, index: int) -> Path:
    """The file of episode ``index`` in dataset ``root``."""
    return Path(root) / f"episode_{index:06d}.h5"


def episode_index(path: Path) -> int:
    """The index in an episode file's name ``episode_XXXXXX.h5``."""
    return int(path.name.removeprefix("episode_").removesuffix(".h5"))


def read_meta(root: str | Path) -> dict[str, Any]:
    """Read and check a dataset's ``meta.json``."""
    path = Path(root) / "meta.json"
    if not path.is_file():
        raise FileNotFoundError(f"{root} is not a wmplan dataset: {path} is missing")
    meta = json.loads(path.read_text())
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise ValueError(
            f"{path}: expected format {FORMAT!r} version {VERSION}, "
            f"got {meta.get('format')!r} version {meta.get('version')}"
        )
    return meta


def read_episode(path: str | Path) -> Episode:
    """Read one episode file; raises ValueError naming the file if it is malformed."""
    try:
        with h5py.File(path, "r") as f:
            episode = Episode(f["pixels"][()], f["proprio"][()], f["actions"][()])
    except (OSError, KeyError) as err:
        raise ValueError(f"could not read episode {path}: {err}") from err
    if len(episode.pixels) != len(episode.actions) + 1 != len(episode.proprio):
        raise ValueError(
            f"episode {path}: {len(episode.pixels)} frames, {len(episode.proprio)} proprio rows "
            f"and {len(episode.actions)} actions (expected T+1, T+1, T)"
        )
    return episode


class TrajectoryDataset:
    """Read access to a dataset directory, with a check of the environment it came from.

    Args:
        root: dataset directory.
        env_id: if given, the dataset must have been collected on this environment.
    """

    def __init__(self, root: str | Path, env_id: str | None = None) -> None:
        self.root = Path(root)
        self.meta = read_meta(self.root)
        if env_id is not None and self.meta["env_id"] != env_id:
            raise ValueError(
                f"dataset {self.root} was collected on {self.meta['env_id']}, expected {env_id}"
            )
        self.files = episode_files(self.root)
        if not self.files:
            raise ValueError(f"dataset {self.root} has no finished episodes")

    @property
    def env_id(self) -> str:
        return self.meta["env_id"]

    def __len__(self) -> int:
        return len(self.files)

    def episode(self, index: int) -> Episode:
        return read_episode(self.files[index])

    def episodes(self, indices: Sequence[int] | None = None) -> list[Episode]:
        """Load the given episodes (all by default) into memory."""
        indices = range(len(self)) if indices is None else indices
        return [self.episode(i) for i in indices]
