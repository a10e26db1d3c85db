"""In-memory training arrays built from a trajectory dataset, and their encoded frames.

This module is the world models' one door to the dataset layer of ``envs``: episodes come
from :mod:`envs.dataset` and windows are cut by :func:`envs.windows.window_starts` and
:func:`envs.windows.window_steps`, the same functions the lazy ``TrajectoryWindows`` reader
uses, so frame skip is a number here as there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch

from envs.dataset import Episode, TrajectoryDataset
from envs.episode_frames import EpisodeFrames
from envs.windows import window_starts, window_steps
from worldmodels.world_model import WorldModel


@dataclass(frozen=True)
class EpisodeOrder:
    """Where each frame of concatenated episodes belongs, as in `FlatEpisodes`, without the
    frames: next_index (F,) (-1 at an episode end) and episode_of (F,)."""

    next_index: np.ndarray
    episode_of: np.ndarray

    @classmethod
    def of_lengths(cls, lengths: list[int]) -> EpisodeOrder:
        """The order of episodes of these frame counts, concatenated."""
        ends = np.cumsum(lengths)
        next_index = np.arange(1, ends[-1] + 1)
        next_index[ends - 1] = -1
        return cls(next_index, np.repeat(np.arange(len(lengths)), lengths))


def last_frames(episode_of: np.ndarray) -> np.ndarray:
    """(F,) episode numbers of contiguous episodes -> (F,) index of each frame's episode end."""
    ends = np.flatnonzero(np.r_[episode_of[1:] != episode_of[:-1], True])  # (E,)
    return ends[np.searchsorted(ends, np.arange(len(episode_of)))]


@dataclass(frozen=True)
class FlatEpisodes:
    """Episodes concatenated along time (each episode's frames contiguous, in order).

    Attributes:
        pixels: (F, H, W, 3) uint8, every frame of every episode: an array, or the frames left
            on disk (`EpisodeFrames`, contiguous slices only) by `flatten_dataset`.
        proprio: (F, p) float32, proprioception of each frame.
        actions: (F, A) float32, action taken from each frame (zeros at episode ends).
        next_index: (F,) index of the following frame of the same episode, -1 at an end.
        episode_of: (F,) episode number of each frame.
    """

    pixels: np.ndarray | EpisodeFrames
    proprio: np.ndarray
    actions: np.ndarray
    next_index: np.ndarray
    episode_of: np.ndarray

    def windows(self, n_frames: int, frameskip: int = 1) -> np.ndarray:
        """Flat start indices of all windows of ``n_frames`` frames ``frameskip`` steps apart
        whose target frame (``frameskip`` steps after the last) lies in the same episode.

        Returns:
            (W,) frame indices, in episode order.
        """
        first = np.flatnonzero(np.r_[True, self.episode_of[1:] != self.episode_of[:-1]])  # (E,)
        lengths = np.diff(np.r_[first, len(self.episode_of)]) - 1  # (E,) actions per episode
        episodes, starts = window_starts(lengths, n_frames, frameskip)
        return first[episodes] + starts

    def held_out_episodes(self, fraction: float, rng: np.random.Generator) -> np.ndarray:
        """A random ``fraction`` (< 1) of the episode numbers (at least one), for validation.

        Returns:
            (V,) episode numbers.

        Raises:
            ValueError: there is only one episode, which cannot be both trained and held out.
        """
        n_episodes = int(self.episode_of.max()) + 1
        if n_episodes < 2:
            raise ValueError(
                "training holds out at least one episode for validation, so it needs at least "
                f"2 episodes; the dataset has {n_episodes}: collect more episodes"
            )
        return rng.permutation(n_episodes)[: max(1, int(n_episodes * fraction))]


def window_indices(
    starts: np.ndarray, n_frames: int, frameskip: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat indices of the windows at ``starts`` (see :func:`envs.windows.window_steps`).

    Returns:
        frames (W, n_frames + 1) and actions (W, n_frames, frameskip), on ``device``.
    """
    frames, actions = window_steps(starts, n_frames, frameskip)
    return torch.from_numpy(frames).to(device), torch.from_numpy(actions).to(device)


def flatten_episodes(episodes: list[Episode], frames: EpisodeFrames | None = None) -> FlatEpisodes:
    """Concatenate episodes into flat arrays with episode bookkeeping; ``frames``, if given,
    stands for their pixels (episodes read with ``pixels=False``)."""
    if not episodes:
        raise ValueError("no episodes to flatten")
    order = EpisodeOrder.of_lengths([len(ep.proprio) for ep in episodes])
    if frames is not None and len(frames) != len(order.next_index):
        raise ValueError(f"frames hold {len(frames)} frames, the episodes {len(order.next_index)}")
    actions = [np.concatenate([ep.actions, np.zeros_like(ep.actions[:1])]) for ep in episodes]
    return FlatEpisodes(
        np.concatenate([ep.pixels for ep in episodes]) if frames is None else frames,
        np.concatenate([ep.proprio for ep in episodes]).astype(np.float32),
        np.concatenate(actions).astype(np.float32),
        order.next_index,
        order.episode_of,
    )


def flatten_dataset(dataset: TrajectoryDataset) -> FlatEpisodes:
    """Every episode of ``dataset`` as flat arrays, its frames left on disk (`EpisodeFrames`)
    until `encode_frames` reads them slice by slice: for training on a frozen encoder, which
    never holds every frame in memory."""
    episodes = dataset.episodes(pixels=False)
    lengths = [len(ep.proprio) for ep in episodes]
    frames = EpisodeFrames(dataset.files, lengths, episodes[0].pixels.shape[1:])
    return flatten_episodes(episodes, frames)


@torch.no_grad()
def encode_frames(world_model: WorldModel, data: FlatEpisodes, batch: int = 512) -> torch.Tensor:
    """Encode every frame (with its proprioception, if the model takes it) -> (F, P, D)."""
    chunks = [
        world_model.encode(
            torch.from_numpy(data.pixels[i : i + batch])[:, None],
            torch.from_numpy(data.proprio[i : i + batch])[:, None],
        )[:, 0]
        for i in range(0, len(data.pixels), batch)
    ]
    return torch.cat(chunks)


@torch.no_grad()
def encode_episodes(
    world_model: WorldModel, episodes: Iterable[Episode], batch: int = 512
) -> tuple[torch.Tensor, EpisodeOrder]:
    """Encodes episodes as they come, holding at most about ``batch`` frames of pixels: the
    (F, P, D) latents and order that ``encode_frames(flatten_episodes(...))`` gives, without
    every frame in memory at once."""
    chunks: list[torch.Tensor] = []
    pixels: list[np.ndarray] = []
    proprio: list[np.ndarray] = []
    lengths: list[int] = []

    def encode_pending() -> None:
        frames = torch.from_numpy(np.concatenate(pixels))[:, None]  # (n, 1, H, W, 3)
        frames_proprio = torch.from_numpy(np.concatenate(proprio))[:, None]  # (n, 1, p)
        chunks.append(world_model.encode(frames, frames_proprio)[:, 0])
        pixels.clear()
        proprio.clear()

    for episode in episodes:
        lengths.append(len(episode.pixels))
        pixels.append(episode.pixels)
        proprio.append(episode.proprio.astype(np.float32))
        if sum(len(p) for p in pixels) >= batch:
            encode_pending()
    if not lengths:
        raise ValueError("no episodes to encode")
    if pixels:
        encode_pending()
    return torch.cat(chunks), EpisodeOrder.of_lengths(lengths)
