"""What every MuJoCo task shares: model, data, frame skip, reset, step, rendering.

Modelled on Gymnasium's ``MujocoEnv``: the base owns the simulator and the
gymnasium API, a task subclass is only its task. The base builds ``MjModel`` /
``MjData`` from the task's scene XML, checks the options every task takes, turns
``control_dt`` into a frame skip, resets through ``mj_resetData`` before the task
places its start, steps the physics and renders. A task supplies these hooks:

- ``_scene_xml()``, ``_proprio_space()``: the MJCF scene and the bounds of the
  proprioception (both built after the options are checked);
- ``_sample_episode(options)``: read or draw the start and the goal, set the goal
  attributes, return the start's placement arguments;
- ``_place(data, *state)``: write a state at rest into freshly reset ``data``;
- ``goal_state()``: the placement arguments of the goal image;
- ``_proprio(data)``: the proprioception (P,);
- ``_goal_info()``: ``distance`` and ``success`` (and any task diagnostics);
- ``_actuate(action)``: set the controls from a clipped action (default: as is).
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium import spaces

from envs.errors import EnvArgumentError
from envs.rendering import check_render_options  # sets MUJOCO_GL

Observation = dict[str, np.ndarray]


def check_positive(values: dict[str, float]) -> None:
    """Raise an EnvArgumentError naming every entry of ``values`` that is not a positive finite
    number (NaN, inf, strings and None included)."""
    bad = [
        f"{name}={value!r}"
        for name, value in values.items()
        if isinstance(value, bool)
        or not (isinstance(value, (int, float, np.number)) and 0 < value < np.inf)
    ]
    if bad:
        raise EnvArgumentError(f"{', '.join(bad)}: must be positive finite numbers")


class MujocoTaskEnv(gym.Env[Observation, np.ndarray]):
    """A MuJoCo task seen by one camera: pixels and proprioception, actions in [-1, 1].

    Observation: ``{"pixels": (S, S, 3) uint8, "proprio": (P,) float32}``.
    Action: (A,) float32 in [-1, 1]; values outside are clipped, NaN becomes 0.
    ``step`` returns ``-info["distance"]`` as the reward (zero-shot planning uses
    none; it is there for RL baselines) and never terminates: the time limit
    comes from the registration.

    Args:
        image_size: side S of the square images, in [16, 224].
        control_dt: seconds per control step, rounded to whole physics steps; the
            effective value is ``self.control_dt`` and ``render_fps`` is its inverse.
        render_mode: None or ``"rgb_array"``.
        positive: the task's own parameters that must be positive, by name.
        action_dim: A.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"]}
    camera: ClassVar[str] = "top"
    reset_options: ClassVar[tuple[str, ...]] = ("start", "goal")
    goal: np.ndarray

    def __init__(
        self,
        *,
        image_size: int,
        control_dt: float,
        render_mode: str | None,
        positive: dict[str, float],
        action_dim: int,
    ) -> None:
        check_render_options(image_size, render_mode)
        check_positive({"control_dt": control_dt, **positive})
        self.image_size = image_size
        self.render_mode = render_mode
        self.model = mujoco.MjModel.from_xml_string(self._scene_xml())
        self.data = mujoco.MjData(self.model)
        # goal images are rendered from their own MjData: the episode's is never touched
        self._scratch = mujoco.MjData(self.model)
        self.frame_skip = max(1, round(control_dt / self.model.opt.timestep))
        self.control_dt = self.frame_skip * self.model.opt.timestep
        self.metadata = {**self.metadata, "render_fps": 1.0 / self.control_dt}
        self._renderer = mujoco.Renderer(self.model, image_size, image_size)
        self.observation_space = spaces.Dict(
            {
                "pixels": spaces.Box(0, 255, (image_size, image_size, 3), np.uint8),
                "proprio": self._proprio_space(),
            }
        )
        self.action_space = spaces.Box(-1.0, 1.0, (action_dim,), np.float32)

    # -- task hooks ---------------------------------------------------------------
    def _scene_xml(self) -> str:
        """The task's MJCF scene, with a camera named ``self.camera``."""
        raise NotImplementedError

    def _proprio_space(self) -> spaces.Box:
        """The bounds of the proprioception (P,)."""
        raise NotImplementedError

    def _sample_episode(self, options: dict[str, Any]) -> tuple[Any, ...]:
        """Read or draw (with ``np_random``) start and goal; set the goal; return the start.

        Returns:
            The start's placement arguments, as :meth:`_place` takes them.
        """
        raise NotImplementedError

    def _place(self, data: mujoco.MjData, *state: Any) -> None:
        """Write ``state`` at rest into ``data``, just reset: ``qpos`` (and held controls)."""
        raise NotImplementedError

    def goal_state(self) -> tuple[Any, ...]:
        """The placement arguments of the goal image (those of :meth:`observation_at`)."""
        raise NotImplementedError

    def _proprio(self, data: mujoco.MjData) -> np.ndarray:
        """The proprioception (P,) of the state in ``data``."""
        raise NotImplementedError

    def _goal_info(self) -> dict[str, Any]:
        """``distance`` to the goal (float), ``success`` (bool) and any task diagnostics."""
        raise NotImplementedError

    def task_state(self) -> np.ndarray:
        """The task's low-dimensional true state (S,) float32, for probes and analysis.

        What the success test reads, in coordinates a linear probe can fit (angles as cosine
        and sine where they wrap). Collection records it beside each observation
        (``states`` in :mod:`envs.dataset`); world models never see it.
        """
        raise NotImplementedError

    def _actuate(self, action: np.ndarray) -> None:
        """Set the controls from ``action`` (A,), already clipped to [-1, 1]."""
        self.data.ctrl[:] = action

    # -- gymnasium API ------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Observation, dict[str, Any]]:
        """Seed, check the option keys, draw the episode, ``mj_resetData`` and place the start.

        ``info`` holds the goal observation under ``"goal_obs"`` besides :meth:`_info`'s keys.
        """
        super().reset(seed=seed)
        options = options or {}
        unknown = set(options) - set(self.reset_options)
        if unknown:
            raise EnvArgumentError(
                f"unknown reset options {sorted(unknown, key=str)} among the keys received "
                f"{sorted(options, key=str)}; known: {', '.join(map(repr, self.reset_options))}"
            )
        start = self._sample_episode(options)
        self._set_state(self.data, *start)
        return self._observation(), {**self._info(), "goal_obs": self.goal_observation()}

    def step(self, action: np.ndarray) -> tuple[Observation, float, bool, bool, dict[str, Any]]:
        """Apply ``action`` (A,) for ``frame_skip`` physics steps; reward ``-info["distance"]``."""
        action = np.asarray(action, dtype=np.float64)
        if action.shape != self.action_space.shape:
            raise ValueError(
                f"action must have shape {self.action_space.shape}, got {action.shape}"
            )
        self._actuate(np.clip(np.nan_to_num(action), -1.0, 1.0))
        mujoco.mj_step(self.model, self.data, nstep=self.frame_skip)
        info = self._info()
        return self._observation(), -info["distance"], False, False, info

    def render(self) -> np.ndarray | None:
        """The camera image (S, S, 3) uint8 in ``"rgb_array"`` mode, else None."""
        if self.render_mode is None:
            return None
        return self._render(self.data)

    def close(self) -> None:
        """Free the renderer."""
        self._renderer.close()

    # -- observations -------------------------------------------------------------
    def goal_observation(self) -> Observation:
        """The observation the agent would see resting at the goal."""
        return self.observation_at(*self.goal_state())

    def observation_at(self, *state: Any) -> Observation:
        """The observation of the scene at rest in ``state`` (the task's placement arguments).

        Rendered from a scratch ``MjData``: the episode's state is left as it was.
        """
        self._set_state(self._scratch, *state)
        return self._observation(self._scratch)

    def _set_state(self, data: mujoco.MjData, *state: Any) -> None:
        """Reset ``data`` (``mj_resetData``: zero velocities, controls, warm start, time), place."""
        mujoco.mj_resetData(self.model, data)
        self._place(data, *state)
        mujoco.mj_forward(self.model, data)

    def _render(self, data: mujoco.MjData) -> np.ndarray:
        self._renderer.update_scene(data, camera=self.camera)
        return self._renderer.render().copy()

    def _observation(self, data: mujoco.MjData | None = None) -> Observation:
        data = self.data if data is None else data
        proprio = self._proprio(data).astype(np.float32)
        return {"pixels": self._render(data), "proprio": proprio}

    def _info(self) -> dict[str, Any]:
        return {**self._goal_info(), "goal": self.goal.copy()}
