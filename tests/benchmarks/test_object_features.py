"""Object keypoints: the keypoints the goal displaces, as GoalDistance features."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.object_features import goal_displacements, object_features
from worldmodels.bundled import bundled_world_model
from worldmodels.checkpoint import load_world_model


def test_features_are_the_xy_dimensions_of_the_keypoints_moved_at_least_the_share() -> None:
    displacements = np.array([0.002, 0.0, 0.35, 0.03, 0.36])
    assert object_features(displacements, 0.1) == [4, 5, 8, 9]
    assert object_features(displacements, 0.05) == [4, 5, 6, 7, 8, 9]
    assert object_features(displacements, 1.0) == [8, 9]
    with pytest.raises(ValueError, match="share must be in"):
        object_features(displacements, 0.0)
    with pytest.raises(ValueError, match="no keypoint moves"):
        object_features(np.zeros(3), 0.1)


def test_the_bundled_cube_model_moves_its_two_cube_keypoints_only() -> None:
    """Known from the bundled encoder: token keypoints 2 and 5 follow the cube; 1 sits on the
    arm (home in both images), 0, 3 and 4 on the static scene."""
    world_model = load_world_model(bundled_world_model("wmplan/Cube-v0"))
    displacements = goal_displacements(world_model, "wmplan/Cube-v0", list(range(10)))
    assert displacements.shape == (6,)
    assert object_features(displacements, 0.1) == [4, 5, 10, 11]
    assert displacements[[0, 1, 3, 4]].max() < 0.01 < 0.1 < displacements[[2, 5]].min()


def test_an_encoder_without_keypoints_is_refused_by_name() -> None:
    world_model = load_world_model(bundled_world_model("wmplan/PointMaze-v0"))
    with pytest.raises(ValueError, match="need a keypoint encoder"):
        goal_displacements(world_model, "wmplan/PointMaze-v0", [0])
