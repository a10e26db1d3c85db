"""Summary and check of a trajectory dataset, from array shapes, proprio and actions only (no
pixels read)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from envs.dataset import TrajectoryDataset, read_episode_shapes
from envs.episode_check import StepShapes, check_same_shapes
from envs.errors import DatasetError


@dataclass(frozen=True)
class DatasetSummary:
    """What a dataset holds.

    Attributes:
        root: dataset directory.
        env_id: environment the episodes come from; env_kwargs: its keyword arguments.
        lengths: (E,) actions per episode (an episode has one frame more).
        pixels_shape: (H, W, 3) of a frame; proprio_shape: (p,); action_shape: (A,).
        states_shape: (s,) of the task states, None when no episode records them;
            episodes_with_states: how many episodes record them.
        action_mean, action_std, action_min, action_max: (A,) per action dimension over every
            step of every episode; std is the population standard deviation (ddof=0).
    """

    root: Path
    env_id: str
    env_kwargs: dict[str, Any]
    lengths: np.ndarray
    pixels_shape: tuple[int, ...]
    proprio_shape: tuple[int, ...]
    action_shape: tuple[int, ...]
    states_shape: tuple[int, ...] | None
    episodes_with_states: int
    action_mean: np.ndarray
    action_std: np.ndarray
    action_min: np.ndarray
    action_max: np.ndarray

    @property
    def n_episodes(self) -> int:
        return len(self.lengths)

    @property
    def total_steps(self) -> int:
        return int(self.lengths.sum())


def _reference(reference: StepShapes | None, shapes: StepShapes) -> StepShapes:
    """The step shapes every episode must have: the first episode's, with the states shape of
    the first episode that records states."""
    if reference is None:
        return shapes
    if reference.states is None and shapes.states is not None:
        return replace(reference, states=shapes.states)
    return reference


def check_dataset(root: str | Path) -> list[DatasetError]:
    """Every bad episode of a dataset: each file is checked against the format
    (:func:`envs.episode_check.check_episode`) and against the step shapes of the first good
    episode.

    Returns:
        One error per bad episode, in file order (empty when every episode is good).
    """
    problems, reference = [], None
    for path in TrajectoryDataset(root).files:
        try:
            shapes, _ = read_episode_shapes(path)
            reference = _reference(reference, shapes)
            check_same_shapes(path, shapes, reference)
        except DatasetError as err:
            problems.append(err)
    return problems


def summarize_dataset(root: str | Path) -> DatasetSummary:
    """Check every episode and read its actions and the other arrays' shapes (never the pixels).

    Raises:
        DatasetError: naming the first episode that breaks the format or whose frame, proprio
            or action shape differs from the first episode's (``check_dataset`` lists all).
    """
    dataset = TrajectoryDataset(root)
    lengths, sums, squares, minima, maxima = [], [], [], [], []
    reference: StepShapes | None = None
    with_states = 0
    for path in dataset.files:
        shapes, actions = read_episode_shapes(path)
        reference = _reference(reference, shapes)
        check_same_shapes(path, shapes, reference)
        with_states += shapes.states is not None
        actions = actions.astype(np.float64)  # (T, A)
        lengths.append(len(actions))
        sums.append(actions.sum(0))
        squares.append((actions**2).sum(0))
        minima.append(actions.min(0))
        maxima.append(actions.max(0))
    n = sum(lengths)
    mean = np.sum(sums, 0) / n  # (A,)
    return DatasetSummary(
        root=Path(root),
        env_id=dataset.env_id,
        env_kwargs=dataset.meta["env_kwargs"],
        lengths=np.asarray(lengths),
        pixels_shape=reference.pixels,
        proprio_shape=reference.proprio,
        action_shape=reference.actions,
        states_shape=reference.states,
        episodes_with_states=with_states,
        action_mean=mean,
        action_std=np.sqrt(np.maximum(np.sum(squares, 0) / n - mean**2, 0.0)),
        action_min=np.min(minima, 0),
        action_max=np.max(maxima, 0),
    )


def format_summary(summary: DatasetSummary) -> str:
    """A plain-text report of ``summary``, one fact per line, then a table of action statistics."""
    lengths = summary.lengths
    lines = [
        f"dataset      {summary.root}",
        f"environment  {summary.env_id}  {summary.env_kwargs}",
        f"episodes     {summary.n_episodes}",
        f"steps        {summary.total_steps}  (frames: {summary.total_steps + summary.n_episodes})",
        f"length       min {lengths.min()}  mean {lengths.mean():.2f}  max {lengths.max()}",
        f"pixels       {summary.pixels_shape} uint8",
        f"proprio      {summary.proprio_shape} float32",
        f"actions      {summary.action_shape} float32",
        f"states       {summary.states_shape} float32 in {summary.episodes_with_states} episodes"
        if summary.states_shape
        else "states       none recorded",
        f"{'action dim':<12} {'mean':>10} {'std':>10} {'min':>10} {'max':>10}",
    ]
    columns = (summary.action_mean, summary.action_std, summary.action_min, summary.action_max)
    for dim, values in enumerate(zip(*columns, strict=True)):
        lines.append(f"{dim:<12} " + " ".join(f"{v:>10.4g}" for v in values))
    return "\n".join(lines)
