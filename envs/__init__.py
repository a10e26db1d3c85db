"""MuJoCo environments with the gymnasium API, registered under the ``wmplan/`` namespace."""

import gymnasium as gym

import envs.rendering  # noqa: F401  (sets MUJOCO_GL before mujoco loads)

# id -> (entry point, episode budget in control steps)
_REGISTRY = {
    "wmplan/PointMaze-v0": ("envs.point_maze:PointMazeEnv", 50),
    "wmplan/Wall-v0": ("envs.wall:WallEnv", 50),
    "wmplan/PushT-v0": ("envs.push_t:PushTEnv", 100),
    "wmplan/Reacher-v0": ("envs.reacher:ReacherEnv", 50),
    "wmplan/Cube-v0": ("envs.cube:CubeEnv", 100),
    "wmplan/LargeMaze-v0": ("envs.large_maze:LargeMazeEnv", 50),
}

for _env_id, (_entry_point, _budget) in _REGISTRY.items():
    if _env_id not in gym.registry:
        gym.register(id=_env_id, entry_point=_entry_point, max_episode_steps=_budget)

ENV_IDS = tuple(_REGISTRY)
