"""A perfect predictor: candidate actions rolled out in the simulator itself.

`SimulatorDynamics` is a `planner.PlanningWorldModel` whose rollout steps each live
environment's own physics through every candidate sequence, renders the frame at each block's
end and encodes it with a world model's encoder; the environment's state is restored after each
rollout. Planning with it and the world model's cost gives what that energy and planner reach
with a predictor without error: the ceiling a better predictor could approach. Far below the
target, the energy or the planner fails (a horizon too short, a goal distance that ranks the
wrong states first); near it, the predictor is what to improve (`benchmarks.exploitation` shows
how it is exploited). The same check as planning with the true dynamics in MBRL ablations
(e.g. Chua et al. 2018, PETS, ground-truth model).

With ``task_distance=True`` the encoder is left out too: each block's "encoding" is the
environment's own distance to its goal (``info["distance"]``, one token of one dimension) and
every observation, the goal's included, encodes as 0, so `planner.energy.GoalDistance` scores
the squared task distance. Planning with it gives what the planner and its horizon reach with
a perfect predictor and a perfect energy: the ceiling no world model can pass with that planner.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import mujoco
import numpy as np
import torch
from torch import Tensor

from benchmarks.episodes import stack_observations
from envs.base import MujocoTaskEnv, Observation
from planner.observation import encode_observation
from planner.world_model import PlanningWorldModel


class SimulatorDynamics:
    """Rolls out (B, N, H, K * A) candidates of B environments in their physics.

    The live environments are bound per batch of episodes (`bind`), one per planning problem.
    Any other attribute is the world model's (its heads and statistics, which costs such as
    `planner.temporal_distance.TemporalDistance` bind to). Frames are encoded ``encode_batch``
    at a time as they are rendered. The controller's surprise (a one-block rollout per block)
    runs here from the state already reached: it costs a block of physics and means nothing.

    Args:
        world_model: its encoder embeds the rendered frames (with their proprioception when
            the model takes it); its frame skip K sets the raw actions per block.
        encode_batch: frames encoded per encoder call.
        task_distance: encode each block as the environment's distance to its goal (1, 1)
            instead of its rendered frame, and every observation as 0 (1, 1).

    Raises:
        ValueError: for a non-positive ``encode_batch``.
    """

    def __init__(
        self, world_model: PlanningWorldModel, encode_batch: int = 512, task_distance: bool = False
    ) -> None:
        if encode_batch < 1:
            raise ValueError(f"encode_batch must be >= 1, got {encode_batch}")
        self.world_model = world_model
        self.encode_batch = encode_batch
        self.task_distance = task_distance
        self.environments: list[MujocoTaskEnv] = []
        self._snapshots: list[mujoco.MjData] = []

    def bind(self, environments: Sequence[MujocoTaskEnv]) -> None:
        """Plans from now on in these B environments (unwrapped), in the batch's order; each
        is left in the state it was in after every rollout.

        Raises:
            ValueError: with no environment.
        """
        if not environments:
            raise ValueError("SimulatorDynamics.bind needs at least one environment")
        self.environments = list(environments)
        self._snapshots = [mujoco.MjData(env.model) for env in self.environments]

    def __getattr__(self, name: str) -> Any:
        """The world model's attribute, for what is not the simulator's own."""
        if name == "world_model":  # not set yet (unpickling, copying): no recursion
            raise AttributeError(name)
        return getattr(self.world_model, name)

    @property
    def device(self) -> torch.device:
        return self.world_model.device

    @property
    def proprio_dim(self) -> int:
        return self.world_model.proprio_dim

    @property
    def frameskip(self) -> int:
        return self.world_model.frameskip

    def encode(self, pixels: Tensor, proprio: Tensor | None = None) -> Tensor:
        """The world model's encoding (B, T, P, D) of (B, T, H, W, 3) frames; with
        ``task_distance``, zeros (B, T, 1, 1)."""
        if self.task_distance:
            return torch.zeros(*pixels.shape[:2], 1, 1, device=self.device)
        return self.world_model.encode(pixels, proprio)

    def rollout(
        self, z_hist: Tensor, actions: Tensor, past_actions: Tensor | None = None
    ) -> Tensor:
        """Encodings (B, N, H, P, D) of the frames after each block of each candidate (with
        ``task_distance``, the environment's distance to its goal, (B, N, H, 1, 1)).

        Args:
            z_hist: (B, T, P, D) unused: the environments hold the state.
            actions: (B, N, H, K * A) raw action blocks, time-major within a block; each raw
                action is applied as ``env.step`` applies it (NaN to 0, clipped to [-1, 1]).
            past_actions: unused.

        Raises:
            ValueError: when B differs from the number of bound environments.
        """
        B, N, H, _ = actions.shape
        if len(self.environments) != B:
            raise ValueError(
                f"actions hold {B} problems, the simulator has {len(self.environments)} bound "
                "environments (SimulatorDynamics.bind)"
            )
        raw = actions.detach().cpu().double().reshape(B, N, H, self.frameskip, -1).numpy()
        encoded: list[Tensor] = []  # (F, P, D) chunks, in (B, N, H) order
        frames: list[Observation] = []  # rendered, not yet encoded
        distances: list[float] = []  # with task_distance, in (B, N, H) order
        for env, snapshot, sequences in zip(self.environments, self._snapshots, raw, strict=True):
            mujoco.mj_copyData(snapshot, env.model, env.data)
            try:
                for sequence in sequences:  # (H, K, A)
                    mujoco.mj_copyData(env.data, env.model, snapshot)
                    for block in sequence:
                        for action in block:
                            env._actuate(np.clip(np.nan_to_num(action), -1.0, 1.0))
                            mujoco.mj_step(env.model, env.data, nstep=env.frame_skip)
                        if self.task_distance:
                            distances.append(env._goal_info()["distance"])
                            continue
                        frames.append(env._observation())
                        if len(frames) == self.encode_batch:
                            encoded.append(self._encode(frames))
                            frames = []
            finally:
                mujoco.mj_copyData(env.data, env.model, snapshot)
        if self.task_distance:
            z = torch.tensor(distances, dtype=torch.float32, device=self.device)
            return z.reshape(B, N, H, 1, 1)
        if frames:
            encoded.append(self._encode(frames))
        z = torch.cat(encoded)  # (B * N * H, P, D)
        return z.reshape(B, N, H, *z.shape[1:])

    def _encode(self, frames: list[Observation]) -> Tensor:
        """Observations -> their encodings (F, P, D)."""
        batch = stack_observations(frames)
        return encode_observation(self, torch.as_tensor(batch["pixels"], device=self.device),
                                  batch)[:, 0]  # fmt: skip
