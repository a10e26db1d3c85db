"""Predictor training with frame skip and the multi-step loss: the world model built for the
data, the batches of action blocks, runs that train, and the validation rows."""

import functools

import numpy as np
import torch

import worldmodels.train_predictor as train_module
from envs.dataset import Episode
from worldmodels.predictor import PredictorConfig
from worldmodels.predictor_loss import teacher_forced_loss
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


def test_the_default_loss_is_teacher_forcing_bit_for_bit():
    data = _data()
    config = PredictorTrainConfig(
        steps=6, batch_size=8, n_frames=2, val_every=3, val_fraction=0.3, rollout_horizon=2
    )
    logs, weights = [], []
    for loss in (None, teacher_forced_loss):
        world_model = _world_model(data, frameskip=1)
        logs.append(train_predictor(world_model, data, config, progress=False, loss=loss))
        weights.append(world_model.predictor.state_dict())
    assert logs[0] == logs[1]
    for key, value in weights[0].items():
        assert torch.equal(weights[1][key], value), key


def test_multi_step_windows_hold_the_rollout_frames_frameskip_apart():
    data = _data()
    world_model = _world_model(data, frameskip=2)
    z = encode_frames(world_model, data)
    seen = []

    def recording_loss(predictor, windows):
        seen.append(windows)
        return predictor(windows.inputs, windows.actions).square().mean()

    config = PredictorTrainConfig(
        steps=1, batch_size=4, n_frames=2, frameskip=2, rollout_steps=4, val_fraction=0.3
    )
    train_predictor(world_model, data, config, progress=False, loss=recording_loss)
    assert seen[0].inputs.shape[1] == 4  # max(n_frames, rollout_steps) frames
    # 4 blocks of 2 steps fill the 8 actions of an episode: only start 0 of each
    flat = z.flatten(1)
    for window in seen[0].inputs:
        start = int(torch.nonzero((flat == window[0].flatten()).all(dim=1))[0])
        assert start % 9 == 0
        torch.testing.assert_close(window, z[start : start + 8 : 2])


def test_multi_step_training_with_frameskip_logs_rollout_and_copy_errors_per_horizon():
    data = _data()  # episodes of 8 actions
    world_model = _world_model(data, frameskip=2)
    config = PredictorTrainConfig(
        steps=30, batch_size=8, n_frames=2, frameskip=2, rollout_steps=3, lr=3e-3,
        warmup_steps=2, val_every=10, val_fraction=0.3,
    )  # fmt: skip
    log = train_predictor(world_model, data, config, progress=False)
    # the default horizon 10 is cut to the 8 // 2 = 4 blocks the held-out episodes hold
    per_horizon = [f"val_{kind}_h{h}" for h in range(1, 5) for kind in ("rollout", "copy")]
    assert [key for key in log[-1] if key.startswith("val_")] == [
        "val_loss", "val_copy_baseline", *per_horizon,
    ]  # fmt: skip
    assert log[-1]["train_loss"] < log[0]["train_loss"]
    for h in range(1, 5):  # the baseline does not train
        assert log[0][f"val_copy_h{h}"] == log[-1][f"val_copy_h{h}"] > 0


def test_encoder_provenance_names_an_official_encoder(tmp_path):
    assert encoder_provenance("dinov2_vits14") == {"name": "dinov2_vits14"}
