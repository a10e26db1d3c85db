"""benchmarks.pose_landscape / pose_energy: Push-T goal distances against the block's offset."""

import json
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
import torch

import envs  # noqa: F401
from benchmarks.pose_landscape import (
    blurred_pixels,
    head_features,
    pose_energies,
    pose_ranking,
    poses_around,
)
from envs.push_t import ANGLE_WEIGHT
from worldmodels.checkpoint import (
    TEMPORAL_DISTANCE_DIR,
    encoder_digest,
    load_world_model,
    save_world_model,
)
from worldmodels.distance_probe import rank_correlation
from worldmodels.encoder_loading import load_encoder, save_encoder
from worldmodels.predictor import LatentPredictor, PredictorConfig
from worldmodels.temporal_distance import HeadConfig, TemporalDistanceHead, save_temporal_distance
from worldmodels.vit import imagenet_normalize
from worldmodels.world_model import WorldModel

TINY = {"img_size": 32, "patch_size": 8, "embed_dim": 16, "depth": 1, "num_heads": 2}


def patch_tokens(encoder, images):
    """Reference: the encoder's patch tokens (F, Np, D) of images (F, H, W, 3) uint8."""
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        return encoder.forward_features(imagenet_normalize(x))["x_norm_patchtokens"]


@pytest.fixture
def encoder():
    torch.manual_seed(0)
    return load_encoder("custom", **TINY).eval()


def test_pose_energies_are_the_token_distances_of_the_rendered_poses(encoder):
    env = gym.make("wmplan/PushT-v0", image_size=32).unwrapped
    goal, pusher = np.array([0.1, -0.2, 0.5]), np.array([0.8, 0.8])
    angles, shifts = np.array([-0.4, 0.0, 0.7]), np.array([0.0, 0.15])
    by_angle, by_shift = pose_energies(encoder, env, goal, pusher, angles, shifts)
    assert by_angle[1] == 0.0 and by_shift[0] == 0.0  # the goal image itself
    z_goal = patch_tokens(encoder, env.observation_at(goal, pusher)["pixels"][None])
    turned = env.observation_at(goal + [0, 0, 0.7], pusher)["pixels"][None]
    shifted = env.observation_at(goal + [0.15, 0, 0], pusher)["pixels"][None]
    for image, energy in ((turned, by_angle[2]), (shifted, by_shift[1])):
        expected = (patch_tokens(encoder, image) - z_goal).square().mean().item()
        assert energy == pytest.approx(expected, rel=1e-5) and energy > 0
    env.close()


def test_pose_energy_app_writes_normalised_curves_per_encoder(encoder, tmp_path):
    save_encoder(encoder, tmp_path / "encoder")
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.pose_energy", "n_goals=2", "n_angles=5", "n_shifts=3",
         "n_poses=6", "pixel_sigmas=[0,2]",
         f"encoders.in_domain.name={tmp_path / 'encoder'}",
         f"encoders.random_init.name={tmp_path / 'encoder'}", f"hydra.run.dir={tmp_path / 'h'}"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "h" / "pose_energy.json").read_text())
    assert report["angle_deg"] == [-90.0, -45.0, 0.0, 45.0, 90.0]
    assert report["shift"] == [-0.3, 0.0, 0.3]
    for curve in report["curves"].values():
        assert curve["angle"][2] == 0.0 and curve["shift"][1] == 0.0
        assert 0 < max(curve["angle"] + curve["shift"]) <= 1.0
    assert (tmp_path / "h" / "pose_energy.png").stat().st_size > 0
    ranks = report["rank_correlation"]
    assert set(ranks) == {"in_domain", "random_init", "pixels_blur0", "pixels_blur2"}
    assert all(-1.0 <= r <= 1.0 for r in ranks.values()) and report["n_poses"] == 6


def test_poses_around_a_goal_are_rendered_with_their_true_distances():
    """Each image is the block at a pose whose environment distance (position error +
    ANGLE_WEIGHT * angle error, from the simulator) is the distance returned."""
    env = gym.make("wmplan/PushT-v0").unwrapped
    goal, corner = np.array([0.1, -0.2, 0.5]), np.array([-0.8, 0.8])
    images, distances = poses_around(env, goal, corner, 5, 0.3, np.pi / 2,
                                     np.random.default_rng(0))  # fmt: skip
    assert images.shape == (6, 64, 64, 3) and distances.shape == (5,)
    np.testing.assert_array_equal(images[0], env.observation_at(goal, corner)["pixels"])
    assert np.all((distances > 0) & (distances <= 0.3 + ANGLE_WEIGHT * np.pi / 2))
    env.close()


def test_pose_ranking_is_plus_or_minus_one_for_distances_that_order_poses_exactly():
    images = np.zeros((4, 8, 8, 3), np.uint8)
    images[1:, 0, 0] = [[10, 0, 0], [20, 0, 0], [40, 0, 0]]  # one pixel brighter and brighter
    assert pose_ranking(blurred_pixels(0), images, np.array([0.1, 0.2, 0.3])) == pytest.approx(1)
    assert pose_ranking(blurred_pixels(0), images, np.array([0.3, 0.2, 0.1])) == pytest.approx(-1)
    blurred = blurred_pixels(2)(images)
    assert blurred.shape == (4, 192) and blurred[1].sum() == pytest.approx(10 / 255, rel=1e-3)


def tiny_push_t_model(directory, tokens):
    """A world model of 32 px Push-T frames (16 tokens and the proprio token) saved with a
    temporal-distance head reading ``tokens``; loaded back."""
    torch.manual_seed(0)
    config = PredictorConfig(token_dim=16, n_tokens=16, action_dim=2, dim=16, depth=1,
                             num_heads=2, proprio_dim=4)  # fmt: skip
    model = WorldModel(encoder=load_encoder("custom", **TINY), predictor=LatentPredictor(config),
                       image_size=32, pool=1, num_hist=1, action_mean=torch.zeros(2),
                       action_std=torch.ones(2), proprio_mean=torch.zeros(4),
                       proprio_std=torch.ones(4))  # fmt: skip
    save_world_model(model, directory)
    head = TemporalDistanceHead(HeadConfig(token_dim=16, tokens=tuple(tokens), width=8, dim=4))
    save_temporal_distance(head, directory / TEMPORAL_DISTANCE_DIR,
                           {"encoder_sha256": encoder_digest(directory)})  # fmt: skip
    return load_world_model(directory)


def test_head_features_rank_poses_by_the_heads_distance(tmp_path):
    model = tiny_push_t_model(tmp_path / "wm", range(16))
    env = gym.make("wmplan/PushT-v0", image_size=32).unwrapped
    images, distances = poses_around(env, np.zeros(3), np.array([0.8, 0.8]), 12, 0.3, 1.0,
                                     np.random.default_rng(0))  # fmt: skip
    with torch.no_grad():
        z = model.encode(torch.as_tensor(images)[None], torch.zeros(1, len(images), 4))[0]
        steps = model.temporal_distance.distance(z[1:], z[:1])  # (n,) the head's own distance
    phi = head_features(model)(images)
    torch.testing.assert_close(phi, model.temporal_distance(z), rtol=0, atol=0)
    expected = rank_correlation(steps.double(), torch.as_tensor(distances))
    assert pose_ranking(head_features(model), images, distances) == pytest.approx(expected)
    proprio_head = tiny_push_t_model(tmp_path / "wm_proprio", [0, -1])
    with pytest.raises(ValueError, match=r"the head reads the proprio token \(tokens \[0, -1\]\)"):
        head_features(proprio_head)
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.pose_energy", "n_goals=1", "n_angles=3", "n_shifts=3",
         "n_poses=6", "pixel_sigmas=[]", f"encoders.in_domain.name={tmp_path / 'wm' / 'encoder'}",
         f"encoders.random_init.name={tmp_path / 'wm' / 'encoder'}",
         f"+heads.hilp={tmp_path / 'wm'}", f"hydra.run.dir={tmp_path / 'h'}"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = json.loads((tmp_path / "h" / "pose_energy.json").read_text())["rank_correlation"]
    assert set(ranks) == {"in_domain", "random_init", "hilp"} and -1.0 <= ranks["hilp"] <= 1.0
