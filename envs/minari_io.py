"""Minari datasets (Farama, ``minari`` 0.5, HDF5 storage) in and out of the wmplan format.

A Minari dataset ``<root>/<dataset id>/data/`` (``main_data.hdf5`` and ``metadata.json``; the
root is ``$MINARI_DATASETS_PATH``, by default ``~/.minari/datasets``) holds episodes of
``T`` steps with ``T+1`` observations, ``T`` actions, rewards, terminations and truncations,
the observation and action spaces, and the environment's ``EnvSpec``. It is read and written
with the ``minari`` library itself (``pip install 'wmplan[minari]'``).

Import (:func:`import_minari`): each Minari episode becomes one of ours::

    pixels[t]  = observation[image_key][t]       t = 0 .. T   (resized to image_size)
                 or, with render=True, env.render() after replaying actions[:t] from the
                 episode's recorded seed in the recovered environment
    proprio[t] = observation[state_key][t], flattened (an empty (T+1, 0) if there is none)
    actions[t] = actions[t]                      t = 0 .. T-1

A Minari episode ends at its one termination or truncation, on its last step; a flag on an
earlier step is refused. Replayed episodes are checked against the stored states and refused
where they diverge. The dataset's id, version and the ``minari`` version that wrote it are
recorded in ``meta.json``.

Export (:func:`export_minari`): a wmplan dataset becomes a Minari dataset with observations
``{"pixels": (T+1, H, W, 3) uint8, "proprio": (T+1, p) float32}`` (stored raw, not JPEG, so
pixels survive exactly), the actions, terminations all false and a truncation on each last
step (episodes end at the collection's step budget). wmplan datasets record no rewards: they
are exported as NaN, so that no one trains on made-up rewards. The environment's ``EnvSpec``
(with the dataset's ``env_kwargs``) is recorded where the environment is registered, so
``MinariDataset.recover_environment()`` rebuilds it.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from tqdm import tqdm

from envs.dataset import Episode, TrajectoryDataset, TrajectoryWriter, write_episode
from envs.import_common import check_import_target, square_resize

try:
    import minari
    from minari.data_collector import EpisodeBuffer
except ModuleNotFoundError as err:  # an optional extra
    raise ModuleNotFoundError(
        "reading and writing Minari datasets needs the minari package: pip install 'wmplan[minari]'"
    ) from err


IMAGES_STORED, IMAGES_RENDERED = "observations", "rendered"


def open_minari(source: str | Path) -> minari.MinariDataset:
    """A Minari dataset by directory (``<id>/`` or ``<id>/data/``) or by id under
    ``$MINARI_DATASETS_PATH`` (never downloaded)."""
    path = Path(source)
    for data in (path / "data", path):
        if (data / "metadata.json").is_file():
            return minari.MinariDataset(data)
    root = os.environ.get("MINARI_DATASETS_PATH", "~/.minari/datasets")
    if path.exists():
        raise FileNotFoundError(f"{path} is not a Minari dataset: no data/metadata.json in it")
    try:
        return minari.load_dataset(str(source))
    except FileNotFoundError as err:
        raise FileNotFoundError(
            f"no Minari dataset {source!r}: neither a directory nor an id found under "
            f"MINARI_DATASETS_PATH={root} (datasets are never downloaded here: "
            f"`minari download {source}` first)"
        ) from err


def _is_image(space: gym.Space) -> bool:
    shape = getattr(space, "shape", None) or ()
    return isinstance(space, gym.spaces.Box) and space.dtype == np.uint8 and len(shape) == 3


def observation_keys(
    space: gym.Space, image_key: str | None, state_key: str | None, name: str
) -> tuple[str | None, str | None]:
    """The keys of the image and of the state in a Dict observation space.

    ``None`` means the observation itself for a Box space, and no such part where the other
    returned value is set. Unset keys are chosen where there is only one candidate.

    Returns:
        ``(image_key, state_key)``; for a Box space ``("", None)`` (an image) or
        ``(None, "")`` (a state), ``""`` standing for the whole observation.
    """
    if isinstance(space, gym.spaces.Box):
        return ("", None) if _is_image(space) else (None, "")
    if not isinstance(space, gym.spaces.Dict):
        raise ValueError(f"{name}: observation space {space} is neither a Dict nor a Box")
    images = sorted(k for k, s in space.spaces.items() if _is_image(s))
    states = sorted(
        k for k, s in space.spaces.items() if isinstance(s, gym.spaces.Box) and not _is_image(s)
    )
    for key, candidates, what in ((image_key, images, "image"), (state_key, states, "state")):
        if key is not None and key not in candidates:
            raise ValueError(
                f"{name}: no {what} observation {key!r}; its {what} keys are {candidates} "
                f"(all keys: {sorted(space.spaces)})"
            )
    if image_key is None and len(images) > 1:
        raise ValueError(f"{name} has image observations {images}; choose one with camera=<key>")
    if state_key is None and len(states) > 1:
        raise ValueError(f"{name} has state observations {states}; choose one with state_key=<key>")
    image_key = image_key if image_key is not None else (images[0] if images else None)
    state_key = state_key if state_key is not None else (states[0] if states else None)
    return image_key, state_key


def _part(observations: Any, key: str | None) -> np.ndarray | None:
    if key is None:
        return None
    return np.asarray(observations if key == "" else observations[key])


def import_minari(
    source: str | Path,
    out: str | Path,
    image_size: int,
    image_key: str | None = None,
    state_key: str | None = None,
    render: bool = False,
    env_id: str | None = None,
    center_crop: bool = True,
    episodes: Sequence[int] | None = None,
    progress: bool = True,
) -> int:
    """Convert a local Minari dataset into ``out`` (see the module docstring).

    Args:
        source: a Minari dataset directory or id (under ``$MINARI_DATASETS_PATH``).
        out: new wmplan dataset directory; must not hold episodes yet.
        image_size: side of the square frames written, (image_size, image_size, 3) uint8.
        image_key: Dict observation key of the image; may be omitted if there is one.
        state_key: Dict observation key of the state written as proprio; may be omitted if
            there is one (or none).
        render: render the frames by replaying each episode in the recovered environment
            (for datasets that store states only) instead of reading an image observation.
        env_id: id recorded in ``meta.json``; default ``minari/<dataset id>``.
        center_crop: crop the central square before resizing.
        episodes: Minari episode indices to import (all by default).
        progress: show a progress bar over the episodes.

    Returns:
        Number of episodes written.
    """
    out = Path(out)
    check_import_target(out, image_size)
    dataset = open_minari(source)
    name = f"Minari dataset {dataset.id} ({dataset.storage.data_path})"
    image_key, state_key = observation_keys(dataset.observation_space, image_key, state_key, name)
    if image_key is None and not render:
        raise ValueError(
            f"{name} stores no image observation (space {dataset.observation_space}); "
            "render=true renders frames by replaying its episodes in the recovered environment"
        )
    if not isinstance(dataset.action_space, gym.spaces.Box):
        raise ValueError(f"{name}: action space {dataset.action_space} is not a Box")
    selected = list(range(dataset.total_episodes)) if episodes is None else list(episodes)
    missing = [i for i in selected if not 0 <= i < dataset.total_episodes]
    if missing:
        raise ValueError(f"{name} has episodes 0..{dataset.total_episodes - 1}, not {missing}")
    env_kwargs = {
        "source": "minari",
        "dataset_id": dataset.id,
        "dataset_version": dataset.spec.version,
        "minari_version": dataset.minari_version,
        "env_spec_id": None if dataset.env_spec is None else dataset.env_spec.id,
        "image_key": None if render else image_key,
        "state_key": state_key,
        "images": IMAGES_RENDERED if render else IMAGES_STORED,
        "image_size": image_size,
        "center_crop": center_crop,
    }
    TrajectoryWriter(out, env_id or f"minari/{dataset.id}", env_kwargs)  # writes meta.json
    replay = _Replay(dataset, state_key, name) if render else None
    metadata = dataset.storage.get_episode_metadata(selected)
    for written, (index, data, meta) in enumerate(
        zip(
            selected,
            tqdm(
                dataset.iterate_episodes(selected),
                total=len(selected),
                desc="import",
                disable=not progress,
            ),
            metadata,
            strict=True,
        )
    ):
        _check_ends(data, f"{name}, episode {index}")
        actions = np.asarray(data.actions, np.float32).reshape(len(data.actions), -1)  # (T, A)
        state = _part(data.observations, state_key)
        proprio = (
            np.zeros((len(actions) + 1, 0), np.float32)
            if state is None
            else state.reshape(len(state), -1).astype(np.float32)
        )  # (T+1, p)
        frames = (
            replay.frames(index, meta, data.actions, proprio)
            if replay is not None
            else iter(_part(data.observations, image_key))
        )
        pixels = np.stack([square_resize(f, image_size, center_crop) for f in frames])
        write_episode(out / f"episode_{written:06d}.h5", Episode(pixels, proprio, actions))
    return len(selected)


def _check_ends(data: minari.EpisodeData, name: str) -> None:
    """A Minari episode may end (terminate or truncate) on its last step only."""
    ends = np.flatnonzero(np.asarray(data.terminations) | np.asarray(data.truncations))
    if len(ends) and ends[0] < len(data.terminations) - 1:
        raise ValueError(
            f"{name}: terminated or truncated at step {ends[0]} of {len(data.terminations)}; "
            "expected an end on the last step only"
        )


class _Replay:
    """Renders episodes by replaying their actions from their recorded seed and options."""

    def __init__(self, dataset: minari.MinariDataset, state_key: str | None, name: str) -> None:
        if dataset.env_spec is None:
            raise ValueError(f"{name} records no environment spec; its frames cannot be rendered")
        self.env = dataset.recover_environment(render_mode="rgb_array")
        self.state_key, self.name = state_key, name

    def frames(
        self, index: int, meta: dict[str, Any], actions: np.ndarray, proprio: np.ndarray
    ) -> Iterator[np.ndarray]:
        """The (H, W, 3) frames of episode ``index``; its stored states ``proprio`` (T+1, p)
        must match the replay's."""
        if meta.get("seed") is None:
            raise ValueError(f"{self.name}, episode {index}: no recorded seed to replay it from")
        obs, _ = self.env.reset(seed=meta["seed"], options=meta.get("options"))
        for t in range(len(actions) + 1):
            if t:
                obs, *_ = self.env.step(actions[t - 1])
            self._check(index, t, obs, proprio[t])
            yield self.env.render()

    def _check(self, index: int, t: int, obs: Any, stored: np.ndarray) -> None:
        """Raises unless the replayed observation's state equals the stored one (p,)."""
        if self.state_key is None:
            return  # the dataset stores no state to compare with
        if self.state_key and not (isinstance(obs, dict) and self.state_key in obs):
            raise ValueError(
                f"{self.name}, episode {index}: the recovered environment's observation has "
                f"no {self.state_key!r} to check the replay against"
            )
        state = np.ravel(_part(obs, self.state_key))
        if state.shape != stored.shape or not np.allclose(state, stored, rtol=1e-5, atol=1e-6):
            raise ValueError(
                f"{self.name}, episode {index}: the replay diverges from the stored states at "
                f"step {t} ({state} replayed, {stored} stored); its frames cannot be rendered"
            )


def export_minari(
    source: str | Path,
    dataset_id: str,
    author: str | None = None,
    author_email: str | None = None,
    code_permalink: str | None = None,
    description: str | None = None,
    progress: bool = True,
) -> minari.MinariDataset:
    """Write the wmplan dataset ``source`` as the Minari dataset ``dataset_id`` under
    ``$MINARI_DATASETS_PATH`` (see the module docstring).

    Args:
        source: wmplan dataset directory.
        dataset_id: ``(namespace/)name-v(version)``, e.g. ``wmplan/pointmaze/random-v0``; it must
            not exist yet.
        author, author_email, code_permalink, description: Minari's dataset metadata;
            the description defaults to one naming the source and its environment.
        progress: show a progress bar over the episodes.

    Returns:
        The Minari dataset written.
    """
    data = TrajectoryDataset(source)
    first = data.episode(0)
    spaces = {
        "observation_space": gym.spaces.Dict(
            {
                "pixels": gym.spaces.Box(0, 255, first.pixels.shape[1:], np.uint8),
                "proprio": gym.spaces.Box(-np.inf, np.inf, first.proprio.shape[1:], np.float32),
            }
        ),
        "action_space": gym.spaces.Box(-np.inf, np.inf, first.actions.shape[1:], np.float32),
    }
    env_spec = None
    if data.env_id in gym.registry:
        spec = gym.spec(data.env_id)
        env_spec = dataclasses.replace(spec, kwargs={**spec.kwargs, **data.meta["env_kwargs"]})
    dataset = None
    for index in tqdm(range(len(data)), desc="export", disable=not progress):
        buffer = _buffer(index, first if index == 0 else data.episode(index))
        if dataset is None:
            dataset = minari.create_dataset_from_buffers(
                dataset_id,
                [buffer],
                env=env_spec,
                algorithm_name="wmplan-collect",
                author=author,
                author_email=author_email,
                code_permalink=code_permalink,
                description=description or _description(data),
                jpeg_encoding=False,
                **spaces,
            )
        else:
            dataset.update_dataset_from_buffer([buffer])
    assert dataset is not None  # TrajectoryDataset holds at least one episode
    return dataset


def _description(data: TrajectoryDataset) -> str:
    """What the wmplan dataset ``data`` is: its directory, environment and provenance."""
    meta = data.meta
    return (
        f"exported by wmplan from {data.root}: {meta['env_id']} {meta['env_kwargs']}, "
        f"provenance {meta.get('provenance')}"
    )


def _buffer(index: int, episode: Episode) -> EpisodeBuffer:
    """Episode ``index`` as Minari's in-memory episode."""
    T = len(episode.actions)
    truncations = np.zeros(T, bool)
    truncations[-1] = True
    return EpisodeBuffer(
        id=index,
        observations={"pixels": episode.pixels, "proprio": episode.proprio},
        actions=episode.actions,
        rewards=np.full(T, np.nan),
        terminations=np.zeros(T, bool),
        truncations=truncations,
    )
