"""World models shipped with the package, one per environment that has one."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

BUNDLED = {
    "wmplan/PointMaze-v0": "pointmaze",
    "wmplan/Wall-v0": "wall",
    "wmplan/Reacher-v0": "reacher",
    "wmplan/LargeMaze-v0": "largemaze",  # with its high level: controller=hierarchical
    "wmplan/PushT-v0": "pusht",  # keypoints + reaching term + one planner round (0.80)
    "wmplan/Cube-v0": "cube",  # wmplan-recipe env=cube as written: keypoints, 3 rounds, goal policy
}


def bundled_world_model(env_id: str) -> Path:
    """Directory of the world model shipped with the package for ``env_id``.

    Raises:
        ValueError: naming ``env_id`` and the environments that have a bundled model.
    """
    if env_id not in BUNDLED:
        raise ValueError(
            f"no bundled world model for {env_id}; pass world_model=PATH "
            f"(bundled: {sorted(BUNDLED)})"
        )
    return Path(str(resources.files("worldmodels") / "assets" / BUNDLED[env_id]))
