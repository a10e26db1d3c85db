"""MuJoCo environments with the gymnasium API, registered under the ``wmplan/`` namespace."""

import gymnasium as gym

import envs.rendering  # noqa: F401  (sets MUJOCO_GL before mujoco loads)

ENV_IDS = ("wmplan/PointMaze-v0",)

if "wmplan/PointMaze-v0" not in gym.registry:
    gym.register(
        id="wmplan/PointMaze-v0",
        entry_point="envs.point_maze:PointMazeEnv",
        max_episode_steps=50,
    )
