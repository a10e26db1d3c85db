"""On-disk trajectory datasets: one HDF5 file per finished episode.

Layout of a dataset directory ``root/``::

    root/meta.json                 {"format": "wmplan-trajectories", "version": 1,
                                    "env_id": ..., "env_kwargs": {...},
                                    "provenance": {...} or null}
    root/episode_000000.h5         one finished episode, written atomically
    root/episode_000001.h5
    ...

Each episode file holds, for an episode of ``T`` actions:

    pixels   (T+1, H, W, 3) uint8    observation images, chunked per frame
    proprio  (T+1, p)       float32  proprioception
    actions  (T, A)         float32  action taken after observation t
    states   (T+1, s)       float32  optional: the task's true state at observation t
                                     (``MujocoTaskEnv.task_state``: block pose, cube
                                     position, ...), for probes; never a model input

An episode is written to ``episode_XXXXXX.h5.tmp`` and renamed into place only
once complete, so a process killed at any moment leaves every finished episode
readable and no partial file under an episode name. Readers ignore ``*.tmp``.

Every episode is checked by :func:`envs.episode_check.check_episode` when it is written
and when it is read; a file that breaks the format raises a :class:`DatasetError` naming
the file and the field. ``provenance`` records what produced the episodes (for
``wmplan-collect``: the policy, seeds, episode length, control period and image size);
appending with another provenance is refused.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from envs.episode_check import StepShapes, check_episode, check_same_shapes
from envs.errors import DatasetError

FORMAT = "wmplan-trajectories"
VERSION = 1
EPISODE_NAME = re.compile(r"episode_(\d{6,})\.h5")


@dataclass(frozen=True)
class Episode:
    """One episode in memory: pixels (T+1, H, W, 3) uint8, proprio (T+1, p), actions (T, A),
    states (T+1, s) or None."""

    pixels: np.ndarray
    proprio: np.ndarray
    actions: np.ndarray
    states: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.actions)


class TrajectoryWriter:
    """Appends episodes to a dataset directory, one atomic file per episode.

    Usable from a live control loop::

        writer = TrajectoryWriter("data/maze", env_id="wmplan/PointMaze-v0", env_kwargs={})
        writer.append(obs, action)      # the observation, then the action taken
        ...
        writer.end_episode(final_obs)   # the observation after the last action

    With ``state=`` on every call (``env.unwrapped.task_state()``), the episode records
    the task's true states too.

    Args:
        root: dataset directory, created if needed.
        env_id, env_kwargs: the environment the episodes come from.
        provenance: JSON-serialisable record of what produces the episodes (policy, seeds,
            ...); None for none. An existing dataset must record the same, or hold it as one
            part of a mix.
        extend: whether episodes of another provenance may follow the existing ones (a policy
            mix). ``meta.json`` then records a list of parts, each with its
            ``first_episode``; a writer whose provenance is one of the parts resumes it.

    Raises:
        DatasetError: the directory holds a dataset of another environment, or of another
            provenance and ``extend`` is false.
    """

    def __init__(
        self,
        root: str | Path,
        env_id: str,
        env_kwargs: dict[str, Any],
        provenance: dict[str, Any] | None = None,
        extend: bool = False,
    ) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        meta_path = self.root / "meta.json"
        meta = {
            "format": FORMAT,
            "version": VERSION,
            "env_id": env_id,
            "env_kwargs": env_kwargs,
            "provenance": provenance,
        }
        files = episode_files(self.root)
        self._next_index = episode_index(files[-1]) + 1 if files else 0
        self._steps: list[tuple[dict[str, np.ndarray], np.ndarray, np.ndarray | None]] = []
        if not meta_path.exists():
            _atomic_write_text(meta_path, json.dumps(meta, indent=2))
            return
        existing = read_meta(self.root)
        for key in ("env_id", "env_kwargs"):
            if existing.get(key) != meta[key]:
                raise DatasetError(
                    meta_path,
                    key,
                    f"the dataset holds episodes of {existing.get(key)}; cannot append episodes "
                    f"of {meta[key]}. Write them to another directory (out=DIR)",
                )
        recorded = existing.get("provenance")
        if recorded == provenance or provenance in _parts(recorded):
            return
        if not extend:
            raise DatasetError(
                meta_path,
                "provenance",
                f"the dataset holds episodes of {recorded}; cannot append episodes of "
                f"{provenance}. Write them to another directory (out=DIR), use the recorded "
                "settings, or extend=true to add them as the next part of a mix",
            )
        parts = (
            recorded if isinstance(recorded, list) else [{"first_episode": 0, **(recorded or {})}]
        )
        meta["provenance"] = [*parts, {"first_episode": self._next_index, **(provenance or {})}]
        _atomic_write_text(meta_path, json.dumps(meta, indent=2))

    def append(
        self, obs: dict[str, np.ndarray], action: np.ndarray, state: np.ndarray | None = None
    ) -> None:
        """Record observation ``obs``, the action taken from it and optionally the task's
        true state (s,) at ``obs``."""
        self._steps.append((obs, np.asarray(action, dtype=np.float32), state))

    def end_episode(
        self, final_obs: dict[str, np.ndarray], final_state: np.ndarray | None = None
    ) -> Path:
        """Write the episode (all appended steps plus ``final_obs``); returns its path.

        Raises:
            ValueError: no step was appended, or states were given for some observations
                but not all.
        """
        if not self._steps:
            raise ValueError("end_episode called with no appended steps")
        observations = [obs for obs, _, _ in self._steps] + [final_obs]
        states = [state for _, _, state in self._steps] + [final_state]
        given = sum(state is not None for state in states)
        if 0 < given < len(states):
            raise ValueError(
                f"states given for {given} of the episode's {len(states)} observations; give "
                "one with every append and with end_episode, or none"
            )
        episode = Episode(
            pixels=np.stack([o["pixels"] for o in observations]),  # checked: uint8
            proprio=np.stack([o["proprio"] for o in observations]).astype(np.float32),
            actions=np.stack([a for _, a, _ in self._steps]),
            states=np.stack(states).astype(np.float32) if given else None,
        )
        self._steps = []
        path = episode_path(self.root, self._next_index)
        write_episode(path, episode)
        self._next_index += 1
        return path


def _parts(provenance: Any) -> list[Any]:
    """The provenances of a mix's parts (without ``first_episode``); none for one collection."""
    if not isinstance(provenance, list):
        return []
    return [{k: v for k, v in part.items() if k != "first_episode"} for part in provenance]


def part_size(root: str | Path, provenance: Any) -> int:
    """Episodes in the dataset ``root`` written under ``provenance``: all of them for a single
    collection of it, its part's for a mix, 0 where it is not recorded."""
    recorded = read_meta(root).get("provenance")
    n_files = len(episode_files(root))
    if not isinstance(recorded, list):
        return n_files if recorded == provenance else 0
    ends = [part["first_episode"] for part in recorded[1:]] + [n_files]
    for part, stripped, end in zip(recorded, _parts(recorded), ends, strict=True):
        if stripped == provenance:
            return end - part["first_episode"]
    return 0


def write_episode(path: Path, episode: Episode) -> None:
    """Write one episode file atomically (temporary file, fsync, rename).

    Raises:
        DatasetError: the episode breaks the format (nothing is written).
    """
    check_episode(
        path,
        episode.pixels.shape,
        episode.pixels.dtype,
        episode.proprio,
        episode.actions,
        episode.states,
    )
    tmp = path.with_suffix(".h5.tmp")
    frame_chunk = (1, *episode.pixels.shape[1:])
    with h5py.File(tmp, "w") as f:
        f.create_dataset("pixels", data=episode.pixels, chunks=frame_chunk, compression="lzf")
        f.create_dataset("proprio", data=episode.proprio)
        f.create_dataset("actions", data=episode.actions)
        if episode.states is not None:
            f.create_dataset("states", data=episode.states)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def episode_files(root: str | Path) -> list[Path]:
    """Finished episode files of a dataset, in order of their index.

    Raises:
        DatasetError: a file ``episode_*.h5`` is not named ``episode_NNNNNN.h5``.
    """
    files = sorted(Path(root).glob("episode_*.h5"))
    for path in files:
        if not EPISODE_NAME.fullmatch(path.name):
            raise DatasetError(
                path,
                "file name",
                "expected episode_NNNNNN.h5 (a number of at least 6 digits); "
                "rename or move the file",
            )
    return sorted(files, key=episode_index)


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
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DatasetError(path, "file", f"not valid JSON ({err})") from err
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("version") != VERSION:
        found = (meta.get("format"), meta.get("version")) if isinstance(meta, dict) else meta
        raise DatasetError(path, "format", f"expected {FORMAT!r} version {VERSION}, got {found}")
    if not isinstance(meta.get("env_id"), str) or not isinstance(meta.get("env_kwargs"), dict):
        raise DatasetError(
            path,
            "env_id/env_kwargs",
            "expected a string and a mapping, got "
            f"{meta.get('env_id')!r} and {meta.get('env_kwargs')!r}",
        )
    return meta


def read_episode(path: str | Path, pixels: bool = True) -> Episode:
    """Read one episode file and check it; with ``pixels=False`` its frames are not read (an
    empty (0, H, W, 3) array stands for them) and the rest is.

    Raises:
        DatasetError: naming the file and the field that is unreadable or breaks the format.
    """
    episode, _ = _read(path, pixels)
    return episode


def read_episode_shapes(path: str | Path) -> tuple[StepShapes, np.ndarray]:
    """Check one episode file without reading its pixels (their shape and dtype suffice).

    Returns:
        Its per-step shapes and its actions (T, A).

    Raises:
        DatasetError: as :func:`read_episode`.
    """
    episode, shapes = _read(path, pixels=False)
    return shapes, episode.actions


def _read(path: str | Path, pixels: bool) -> tuple[Episode, StepShapes]:
    """The checked episode (with no frames unless ``pixels``) and its step shapes."""
    try:
        with h5py.File(path, "r") as f:
            for field in ("pixels", "proprio", "actions"):
                if not isinstance(f.get(field), h5py.Dataset):
                    raise DatasetError(path, field, f"missing; the file holds {sorted(f)}")
            frames, proprio, actions = f["pixels"], f["proprio"][()], f["actions"][()]
            if "states" in f and not isinstance(f["states"], h5py.Dataset):
                raise DatasetError(path, "states", "not an array")
            states = f["states"][()] if "states" in f else None
            shapes = check_episode(path, frames.shape, frames.dtype, proprio, actions, states)
            images = frames[()] if pixels else np.empty((0, *shapes.pixels), np.uint8)
    except (OSError, KeyError) as err:  # h5py's errors on a damaged file
        raise DatasetError(
            path, "file", f"could not read episode: not a readable HDF5 file ({err})"
        ) from err
    return Episode(images, proprio, actions, states), shapes


class TrajectoryDataset:
    """Read access to a dataset directory, with a check of the environment it came from.

    Args:
        root: dataset directory.
        env_id: if given, the dataset must have been collected on this environment.
        n_episodes: if given, only the first ``n_episodes`` episodes (a dataset later
            extended, e.g. by rounds of planner data, read as it was); the dataset must have
            that many.
    """

    def __init__(
        self, root: str | Path, env_id: str | None = None, n_episodes: int | None = None
    ) -> None:
        self.root = Path(root)
        self.meta = read_meta(self.root)
        if env_id is not None and self.meta["env_id"] != env_id:
            raise ValueError(
                f"dataset {self.root} was collected on {self.meta['env_id']}, expected {env_id}"
            )
        self.files = episode_files(self.root)
        if not self.files:
            raise ValueError(f"dataset {self.root} has no finished episodes")
        if n_episodes is not None:
            if isinstance(n_episodes, bool) or not isinstance(n_episodes, int) or n_episodes < 1:
                raise ValueError(f"n_episodes must be an integer >= 1, got {n_episodes!r}")
            if n_episodes > len(self.files):
                raise ValueError(
                    f"dataset {self.root} has {len(self.files)} finished episodes, "
                    f"fewer than the {n_episodes} asked for"
                )
            self.files = self.files[:n_episodes]
            if episode_index(self.files[-1]) != n_episodes - 1:
                raise ValueError(
                    f"dataset {self.root} lacks some of episodes 0..{n_episodes - 1} "
                    f"(the {n_episodes}th file is {self.files[-1].name}): finish its collection"
                )

    @property
    def env_id(self) -> str:
        return self.meta["env_id"]

    def __len__(self) -> int:
        return len(self.files)

    def episode(self, index: int, pixels: bool = True) -> Episode:
        """Episode ``index``, checked (`read_episode`)."""
        return read_episode(self.files[index], pixels)

    def episodes(self, indices: Sequence[int] | None = None, pixels: bool = True) -> list[Episode]:
        """Load the given episodes (all by default) into memory, with their frames unless
        ``pixels=False`` (`envs.episode_frames.EpisodeFrames` reads those when needed).

        Raises:
            DatasetError: an episode breaks the format or its step shapes differ from the
                first loaded episode's.
        """
        indices = range(len(self)) if indices is None else indices
        episodes = [self.episode(i, pixels) for i in indices]
        for i, episode in zip(indices, episodes, strict=True):
            check_same_shapes(self.files[i], _step_shapes(episode), _step_shapes(episodes[0]))
        return episodes


def _step_shapes(episode: Episode) -> StepShapes:
    return StepShapes(
        episode.pixels.shape[1:],
        episode.proprio.shape[1:],
        episode.actions.shape[1:],
        None if episode.states is None else episode.states.shape[1:],
    )
