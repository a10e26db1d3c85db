"""The keypoint encoder: soft-argmax coordinates, the decoder's blobs on the same grid, saving
and loading, training that finds a moving object, and exact resume."""

import json

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from safetensors import safe_open
from torch import nn

from benchmarks.encoder_specs import build_encoder
from worldmodels import pretrain_keypoints as pretrain_module
from worldmodels.encoder_loading import load_encoder, save_encoder
from worldmodels.keypoint_encoder import KeypointEncoder
from worldmodels.predictor import LatentPredictor, PredictorConfig
from worldmodels.pretrain_keypoints import (
    KeypointDecoder,
    KeypointTrainConfig,
    agent_r2,
    gaussian_maps,
    pretrain_keypoints,
    settle_agent,
)
from worldmodels.vit import IMAGENET_MEAN, IMAGENET_STD, imagenet_normalize
from worldmodels.world_model import WorldModel


class _Maps(nn.Module):
    """Stands in for the convolutions: returns fixed maps (B, K, h, w)."""

    def __init__(self, maps: torch.Tensor) -> None:
        super().__init__()
        self.maps = maps

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.maps.expand(len(images), -1, -1, -1)


def test_the_soft_argmax_of_a_peaked_map_is_the_peak_in_image_coordinates():
    encoder = KeypointEncoder(n_keypoints=2, logit_scale=100.0)
    maps = torch.zeros(1, 2, 5, 9)
    maps[0, 0, 0, 8] = 1.0  # top row, right column: (x, y) = (1, -1)
    maps[0, 1, 3, 2] = 1.0  # row 3 of 5 (y = 0.5), column 2 of 9 (x = -0.5)
    encoder.features = _Maps(maps)
    keypoints = encoder.keypoints(torch.zeros(3, 3, 10, 18))
    expected = torch.tensor([[1.0, -1.0], [-0.5, 0.5]]).expand(3, -1, -1)
    torch.testing.assert_close(keypoints, expected, atol=1e-6, rtol=0)
    token = encoder.forward_features(torch.zeros(3, 3, 10, 18))["x_norm_patchtokens"]
    assert token.shape == (3, 1, 4)
    torch.testing.assert_close(token[:, 0], expected.flatten(1) * encoder.coordinate_scale)


def test_the_decoder_draws_its_blobs_where_the_encoder_reads_its_keypoints():
    points = torch.tensor([[[0.3, -0.6], [-0.85, 0.1]]])  # (1, 2, 2)
    maps = gaussian_maps(points, size=32, sigma=0.05)
    encoder = KeypointEncoder(n_keypoints=2, logit_scale=1.0)
    encoder.features = _Maps(maps.log())  # softmax(log blob) = the normalised blob
    torch.testing.assert_close(encoder.keypoints(torch.zeros(1, 3, 64, 64)), points, atol=1e-4,
                               rtol=0)  # fmt: skip


def test_keep_leaves_keypoints_out_of_the_token_in_its_order_and_is_saved(tmp_path):
    maps = torch.zeros(1, 3, 5, 5)
    for k, (row, col) in enumerate([(0, 0), (2, 4), (4, 2)]):  # (x, y): (-1,-1) (1,0) (0,1)
        maps[0, k, row, col] = 1.0
    encoder = KeypointEncoder(n_keypoints=3, logit_scale=100.0, coordinate_scale=1.0, keep=[2, 0])
    assert encoder.embed_dim == 4
    save_encoder(encoder, tmp_path / "enc")
    encoder.features = _Maps(maps)
    token = encoder.forward_features(torch.zeros(1, 3, 10, 10))["x_norm_patchtokens"]
    torch.testing.assert_close(token, torch.tensor([[[0.0, 1.0, -1.0, -1.0]]]), atol=1e-6, rtol=0)
    assert load_encoder(tmp_path / "enc").keep == [2, 0]
    encoder.coordinate_scale = 4.0  # the token is scaled; token_points undoes it
    token = encoder.forward_features(torch.zeros(1, 3, 10, 10))["x_norm_patchtokens"]
    padded = torch.nn.functional.pad(token, (0, 2), value=9.0)  # entries past embed_dim: ignored
    expected = torch.tensor([[[[0.0, 1.0], [-1.0, -1.0]]]])  # keypoints 2 then 0, as kept
    torch.testing.assert_close(encoder.token_points(padded), expected, atol=1e-6, rtol=0)
    for bad in ([], [0, 0], [3], [-1]):
        with pytest.raises(ValueError, match="keep must be distinct keypoint indices"):
            KeypointEncoder(n_keypoints=3, keep=bad)


class _Encoded(KeypointEncoder):
    """Keypoints written in the frames: pixel (0, k) holds keypoint k's x, pixel (1, k) its y,
    as bytes 0..255 -> [0, 1] in the red channel."""

    def keypoints(self, images: torch.Tensor) -> torch.Tensor:
        red = images[:, 0] * IMAGENET_STD[0] + IMAGENET_MEAN[0]  # back to [0, 1]
        return torch.stack([red[:, 0, : self.n_keypoints], red[:, 1, : self.n_keypoints]], -1)


def _placed(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Proprio (n, 2), frames (n, 4, 4, 3) that hold two keypoints for `_Encoded` (the first a
    cubic of the proprio, the second drawn apart from it) and those keypoints (n, 2, 2)."""
    rng = np.random.default_rng(0)
    proprio = rng.uniform(-1, 1, (n, 2))
    placed = np.stack([proprio[:, 0] ** 2 * proprio[:, 1], 0.5 + 0.4 * proprio[:, 1]], 1)
    points = np.stack([(placed + 1) / 3, rng.uniform(0, 1, (n, 2))], 1)  # (n, 2, 2) in [0, 1]
    frames = np.zeros((n, 4, 4, 3), np.uint8)
    frames[:, 0, :2, 0] = np.round(points[..., 0] * 255)
    frames[:, 1, :2, 0] = np.round(points[..., 1] * 255)
    return proprio, frames, np.round(points * 255) / 255


def test_agent_r2_tells_the_keypoints_the_proprio_places_from_those_it_does_not():
    proprio, _, points = _placed(3000)
    r2 = agent_r2(torch.as_tensor(points), proprio)
    assert r2[0] > 0.99  # a cubic of the proprio, rounded to bytes
    assert abs(r2[1]) < 0.05  # drawn apart from it


def test_settling_refits_the_agent_map_to_the_keypoint_that_follows_the_agent():
    proprio, frames, points = _placed(3000)
    torch.manual_seed(0)
    encoder = _Encoded(n_keypoints=2, proprio_dim=2, agent_points=3, agent_hidden=32)
    r2 = settle_agent(encoder, frames, proprio, threshold=0.8, seed=0)
    assert r2[0] > 0.99 and encoder.keep == [1] and encoder.agent_points == 1
    placed = encoder.place_agent(torch.as_tensor(proprio, dtype=torch.float32))[:, 0]
    error = (placed - torch.as_tensor(points[:, 0], dtype=torch.float32)).norm(dim=-1)
    assert error.mean() < 0.02  # of a keypoint spread over [0, 1]


def test_pretraining_keeps_the_keypoints_the_proprio_does_not_explain(monkeypatch):
    frames, _ = _squares(64, seed=0)
    proprio = np.random.default_rng(0).normal(size=(64, 3))
    config = KeypointTrainConfig(steps=2, batch_size=8, warmup_steps=1, decoder_channels=8,
                                 agent_r2=0.8)  # fmt: skip
    monkeypatch.setattr(pretrain_module, "agent_r2", lambda *_: np.array([0.95, 0.1, 0.8]))
    encoder = KeypointEncoder(n_keypoints=3, channels=8, proprio_dim=3, agent_hidden=16)
    pretrain_keypoints(encoder, frames, proprio, config, progress=False)
    assert encoder.keep == [1, 2] and encoder.agent_points == 1  # refit to keypoint 0
    monkeypatch.setattr(pretrain_module, "agent_r2", lambda *_: np.array([0.95, 0.9, 0.81]))
    with pytest.raises(ValueError, match="every keypoint follows the agent"):
        pretrain_keypoints(KeypointEncoder(n_keypoints=3, channels=8), frames, proprio, config,
                           progress=False)  # fmt: skip


def test_the_agent_map_places_points_from_the_raw_proprio_and_is_saved(tmp_path):
    torch.manual_seed(0)
    encoder = KeypointEncoder(n_keypoints=2, channels=8, proprio_dim=2, agent_points=1)
    encoder.proprio_mean.copy_(torch.tensor([1.0, -2.0]))
    encoder.proprio_std.copy_(torch.tensor([2.0, 0.5]))
    with torch.no_grad():
        encoder.agent.weight.copy_(torch.tensor([[0.5, 0.0], [0.0, -0.25]]))
        encoder.agent.bias.copy_(torch.tensor([0.1, 0.2]))
    proprio = torch.tensor([[3.0, -1.0], [1.0, -2.0]])  # z = (1, 2) and (0, 0)
    expected = torch.tensor([[[0.6, -0.3]], [[0.1, 0.2]]])
    torch.testing.assert_close(encoder.place_agent(proprio), expected)
    save_encoder(encoder, tmp_path / "enc")
    torch.testing.assert_close(load_encoder(tmp_path / "enc").place_agent(proprio), expected)
    with pytest.raises(ValueError, match="reads 2 proprio values, got 3"):
        encoder.place_agent(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="has no agent map"):
        KeypointEncoder(n_keypoints=2).place_agent(proprio)


def test_pretraining_sets_the_agent_maps_proprio_statistics_and_refuses_other_proprio():
    frames, _ = _squares(64, seed=0)
    proprio = np.random.default_rng(0).normal(3.0, 2.0, size=(64, 3))
    config = KeypointTrainConfig(steps=1, batch_size=8, warmup_steps=1, decoder_channels=8)
    encoder = KeypointEncoder(n_keypoints=2, channels=8, proprio_dim=3)
    pretrain_keypoints(encoder, frames, proprio, config, progress=False)
    torch.testing.assert_close(encoder.proprio_mean, torch.tensor(proprio.mean(0)).float())
    torch.testing.assert_close(encoder.proprio_std, torch.tensor(proprio.std(0) + 1e-6).float())
    with pytest.raises(ValueError, match="agent map reads 3 proprio values, the data has 2"):
        pretrain_keypoints(encoder, frames, proprio[:, :2], config, progress=False)


def test_a_saved_keypoint_encoder_loads_with_the_same_outputs(tmp_path):
    torch.manual_seed(0)
    encoder = KeypointEncoder(n_keypoints=3, channels=8, logit_scale=5.0, coordinate_scale=2.0)
    save_encoder(encoder, tmp_path / "enc", {"note": "test"})
    loaded = load_encoder(tmp_path / "enc")
    assert isinstance(loaded, KeypointEncoder) and loaded.config == encoder.config
    assert not any(p.requires_grad for p in loaded.parameters())
    images = torch.rand(4, 3, 16, 16)
    assert torch.equal(loaded.forward_features(images)["x_norm_patchtokens"],
                       encoder.forward_features(images)["x_norm_patchtokens"])  # fmt: skip
    meta = json.loads((tmp_path / "enc" / "encoder.json").read_text())
    assert "vit" not in meta and meta["keypoints"]["n_keypoints"] == 3


def test_a_world_model_encodes_a_frame_as_one_keypoint_token_then_its_proprio_token():
    encoder = KeypointEncoder(n_keypoints=3, channels=8)
    predictor = LatentPredictor(PredictorConfig(token_dim=6, n_tokens=1, action_dim=2,
                                                proprio_dim=2))  # fmt: skip
    model = WorldModel(encoder, predictor, image_size=16, pool=1, num_hist=1,
                       action_mean=torch.zeros(2), action_std=torch.ones(2),
                       proprio_mean=torch.zeros(2), proprio_std=torch.ones(2))  # fmt: skip
    pixels = torch.randint(0, 256, (2, 1, 16, 16, 3), dtype=torch.uint8)
    z = model.encode(pixels, torch.ones(2, 1, 2))
    assert z.shape == (2, 1, 2, 6)
    images = imagenet_normalize(pixels[:, 0].permute(0, 3, 1, 2).float() / 255)
    assert torch.equal(z[:, 0, 0], encoder.forward_features(images)["x_norm_patchtokens"][:, 0])


def _squares(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, 32, 32, 3) frames of a white 6 x 6 square at random places on black, and the
    squares' centres (n, 2) in image coordinates (x, y) in [-1, 1]."""
    rng = np.random.default_rng(seed)
    corners = rng.integers(0, 27, (n, 2))  # (column, row) of the top-left pixel
    frames = np.zeros((n, 32, 32, 3), np.uint8)
    for frame, (col, row) in zip(frames, corners, strict=True):
        frame[row : row + 6, col : col + 6] = 255
    return frames, (corners + 2.5) / 31 * 2 - 1


def test_training_puts_a_keypoint_on_the_moving_square():
    frames, centres = _squares(2000, seed=0)
    torch.manual_seed(0)
    encoder = KeypointEncoder(n_keypoints=2, channels=16)
    config = KeypointTrainConfig(steps=300, batch_size=32, warmup_steps=20,
                                 decoder_channels=16)  # fmt: skip
    test_frames, test_centres = _squares(200, seed=1)
    images = imagenet_normalize(torch.from_numpy(test_frames).permute(0, 3, 1, 2).float() / 255)

    def errors() -> list[tuple[float, float]]:  # per keypoint: mean and max error, per axis
        error = np.abs(encoder.keypoints(images).detach().numpy() - test_centres[:, None])
        return [(error[:, k].mean(), error[:, k].max()) for k in range(2)]

    assert min(mean for mean, _ in errors()) > 0.3  # untrained: near the image's centre
    pretrain_keypoints(encoder, frames, np.zeros((2000, 0)), config, progress=False)
    mean, worst = min(errors())
    assert mean < 0.05 and worst < 0.15  # 0.8 px on average, 2.3 px at worst (1 px = 0.065)


def test_a_killed_keypoint_pretraining_resumes_exactly(tmp_path, monkeypatch):
    frames, _ = _squares(64, seed=0)
    proprio = np.random.default_rng(0).normal(size=(64, 3))
    config = KeypointTrainConfig(steps=8, batch_size=8, warmup_steps=2, checkpoint_every=3,
                                 decoder_channels=8)  # fmt: skip

    def encoder() -> KeypointEncoder:
        torch.manual_seed(0)
        return KeypointEncoder(n_keypoints=2, channels=8, proprio_dim=3)

    reference_encoder = encoder()
    reference = pretrain_keypoints(reference_encoder, frames, proprio, config, progress=False)
    checkpoint = tmp_path / "state.safetensors"
    real_forward, calls = KeypointDecoder.forward, []

    def dying_forward(self, *args):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt  # stands in for SIGKILL in step 5
        return real_forward(self, *args)

    monkeypatch.setattr(KeypointDecoder, "forward", dying_forward)
    with pytest.raises(KeyboardInterrupt):
        pretrain_keypoints(encoder(), frames, proprio, config, False, checkpoint)
    monkeypatch.setattr(KeypointDecoder, "forward", real_forward)
    with safe_open(str(checkpoint), framework="pt") as handle:
        saved = json.loads(handle.metadata()["wmplan_training_state"])
        assert any(key.startswith("model.encoder.agent") for key in handle.keys())  # noqa: SIM118
    assert saved["step"] == 3
    resumed_encoder = encoder()
    resumed = pretrain_keypoints(resumed_encoder, frames, proprio, config, False, checkpoint)
    assert resumed == reference
    for key, value in reference_encoder.state_dict().items():
        assert torch.equal(resumed_encoder.state_dict()[key], value), key


@pytest.mark.parametrize(
    ("frames", "proprio", "message"),
    [
        (np.zeros((4, 16, 16, 3), np.uint8), np.zeros((3, 2)), "4 frames but 3 proprio rows"),
        (np.zeros((4, 15, 15, 3), np.uint8), np.zeros((4, 2)), "even image sides"),
    ],
)
def test_bad_training_data_is_refused_by_name(frames, proprio, message):
    with pytest.raises(ValueError, match=message):
        pretrain_keypoints(KeypointEncoder(), frames, proprio, KeypointTrainConfig(), False)


def test_a_benchmark_config_rebuilds_a_keypoint_encoder_with_random_weights(tmp_path):
    torch.manual_seed(0)
    trained = KeypointEncoder(n_keypoints=3, channels=8)
    save_encoder(trained, tmp_path / "enc")
    spec = OmegaConf.create({"name": str(tmp_path / "enc"), "random": True})
    random = build_encoder(spec, "wmplan/PushT-v0", seed=5)
    assert isinstance(random, KeypointEncoder) and random.config == trained.config
    assert not torch.equal(random.features[0].weight, trained.features[0].weight)
    assert not any(p.requires_grad for p in random.parameters())
    torch.manual_seed(5)
    assert torch.equal(random.features[0].weight, KeypointEncoder(3, 8).features[0].weight)
