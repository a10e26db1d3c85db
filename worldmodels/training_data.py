"""In-memory training arrays built from a trajectory dataset."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from envs.dataset import Episode


@dataclass(frozen=True)
class FlatEpisodes:
    """Episodes concatenated along time.

    Attributes:
        pixels: (F, H, W, 3) uint8, every frame of every episode.
        proprio: (F, p) float32, proprioception of each frame.
        actions: (F, A) float32, action taken from each frame (zeros at episode ends).
        next_index: (F,) index of the following frame of the same episode, -1 at an end.
        episode_of: (F,) episode number of each frame.
    """

    pixels: np.ndarray
    proprio: np.ndarray
    actions: np.ndarray
    next_index: np.ndarray
    episode_of: np.ndarray

    def windows(self, n_frames: int) -> np.ndarray:
        """Start indices of all windows of ``n_frames`` consecutive frames whose
        target frame (one step further) lies in the same episode.

        Returns:
            (W,) frame indices.
        """
        span = n_frames
        starts = []
        for ep in np.unique(self.episode_of):
            idx = np.flatnonzero(self.episode_of == ep)
            starts.append(idx[: max(0, len(idx) - span)])
        return np.concatenate(starts)

    def held_out_episodes(self, fraction: float, rng: np.random.Generator) -> np.ndarray:
        """A random ``fraction`` of the episode numbers (at least one), for validation.

        Returns:
            (V,) episode numbers.
        """
        n_episodes = int(self.episode_of.max()) + 1
        return rng.permutation(n_episodes)[: max(1, int(n_episodes * fraction))]


def flatten_episodes(episodes: list[Episode]) -> FlatEpisodes:
    """Concatenate episodes into flat arrays with episode bookkeeping."""
    if not episodes:
        raise ValueError("no episodes to flatten")
    pixels, proprio, actions, next_index, episode_of = [], [], [], [], []
    offset = 0
    for i, ep in enumerate(episodes):
        n = len(ep.pixels)
        pixels.append(ep.pixels)
        proprio.append(ep.proprio)
        actions.append(np.concatenate([ep.actions, np.zeros_like(ep.actions[:1])]))
        nxt = np.arange(offset + 1, offset + n + 1)
        nxt[-1] = -1
        next_index.append(nxt)
        episode_of.append(np.full(n, i))
        offset += n
    return FlatEpisodes(
        np.concatenate(pixels),
        np.concatenate(proprio).astype(np.float32),
        np.concatenate(actions).astype(np.float32),
        np.concatenate(next_index),
        np.concatenate(episode_of),
    )
