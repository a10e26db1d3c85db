"""Predictor training with frame skip: the world model built for the data, the batches of
action blocks, and a run that trains."""

import functools

import numpy as np
import torch

import worldmodels.train_predictor as train_module
from envs.dataset import Episode
from worldmodels.predictor import PredictorConfig
from worldmodels.train_predictor import PredictorTrainConfig, train_predictor
from worldmodels.training_data import encode_frames, flatten_episodes
from worldmodels.vit import DinoVisionTransformer
from worldmodels.world_model_setup import encoder_provenance, world_model_for_data


def _data():
    rng = np.random.default_rng(0)
    episodes = [
        Episode(
            pixels=rng.integers(0, 256, (9, 32, 32, 3), dtype=np.uint8),
            proprio=rng.standard_normal((9, 3)).astype(np.float32),
            actions=rng.standard_normal((8, 2)).astype(np.float32) * 3 + 1,
        )
        for _ in range(6)
    ]
    return flatten_episodes(episodes)


def _world_model(data, frameskip, proprio=False):
    torch.manual_seed(0)
    encoder = DinoVisionTransformer(img_size=32, patch_size=8, embed_dim=8, depth=1, num_heads=2)
    config = functools.partial(PredictorConfig, dim=16, depth=1, num_heads=2)
    return world_model_for_data(encoder, data, config, pool=2, proprio=proprio, frameskip=frameskip)


def test_world_model_for_data_sizes_the_predictor_and_tiles_the_action_statistics():
    data = _data()
    world_model = _world_model(data, frameskip=3, proprio=True)
    config = world_model.predictor.config
    assert (config.token_dim, config.n_tokens, config.action_dim, config.proprio_dim) == (
        8, 4, 6, 3,
    )  # fmt: skip
    taken = data.actions[data.next_index >= 0]
    torch.testing.assert_close(world_model.action_mean, torch.from_numpy(taken.mean(0)).repeat(3))
    torch.testing.assert_close(world_model.action_std, torch.from_numpy(taken.std(0)).repeat(3))
    torch.testing.assert_close(world_model.proprio_mean, torch.from_numpy(data.proprio.mean(0)))


def test_batches_hold_frames_frameskip_apart_and_normalised_action_blocks():
    data = _data()
    world_model = _world_model(data, frameskip=2)
    z = encode_frames(world_model, data)
    raw = torch.from_numpy(data.actions)
    windows = train_module._batch(world_model, z, raw, np.array([0, 10]), 2, 2)
    torch.testing.assert_close(windows.inputs, z[torch.tensor([[0, 2], [10, 12]])])
    torch.testing.assert_close(windows.targets, z[torch.tensor([[2, 4], [12, 14]])])
    block = torch.cat([raw[12], raw[13]])  # window 2, frame 1: steps 12 and 13
    expected = (block - world_model.action_mean) / world_model.action_std
    torch.testing.assert_close(windows.actions[1, 1], expected)


def test_training_with_frameskip_is_a_config_value():
    data = _data()
    world_model = _world_model(data, frameskip=2)
    config = PredictorTrainConfig(
        steps=30, batch_size=8, n_frames=2, frameskip=2, lr=3e-3, warmup_steps=2, val_every=10,
        rollout_horizon=2, val_fraction=0.3,
    )  # fmt: skip
    log = train_predictor(world_model, data, config, progress=False)
    assert [row["step"] for row in log] == [10, 20, 30]
    assert {"val_rollout_h1", "val_rollout_h2"} <= set(log[-1])
    assert log[-1]["train_loss"] < log[0]["train_loss"]


def test_encoder_provenance_names_an_official_encoder(tmp_path):
    assert encoder_provenance("dinov2_vits14") == {"name": "dinov2_vits14"}
