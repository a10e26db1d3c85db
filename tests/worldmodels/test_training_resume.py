"""Predictor training and encoder pretraining resume exactly from their atomic
training-state checkpoints."""

import dataclasses
import json

import numpy as np
import pytest
import torch
from safetensors import safe_open

import worldmodels.train_predictor as train_module
from envs.dataset import Episode
from worldmodels.dino import DINOConfig, DINOObjective
from worldmodels.predictor import LatentPredictor, PredictorConfig
from worldmodels.pretrain_encoder import PretrainConfig, pretrain_encoder
from worldmodels.train_predictor import PredictorTrainConfig, train_predictor
from worldmodels.training_data import flatten_episodes
from worldmodels.training_state import load_training_state
from worldmodels.vicreg import VICRegConfig, VICRegObjective
from worldmodels.vit import DinoVisionTransformer
from worldmodels.world_model import WorldModel

CONFIG = PredictorTrainConfig(steps=8, batch_size=4, n_frames=2, val_every=1, checkpoint_every=3)


def data():
    rng = np.random.default_rng(0)
    episodes = [
        Episode(
            pixels=rng.integers(0, 256, (7, 32, 32, 3), dtype=np.uint8),
            proprio=np.zeros((7, 4), dtype=np.float32),
            actions=rng.standard_normal((6, 2)).astype(np.float32),
        )
        for _ in range(6)
    ]
    return flatten_episodes(episodes)


def world_model() -> WorldModel:
    torch.manual_seed(0)
    encoder = DinoVisionTransformer(img_size=32, patch_size=8, embed_dim=8, depth=1, num_heads=2)
    config = PredictorConfig(token_dim=8, n_tokens=16, action_dim=2, dim=16, depth=1, num_heads=2)
    return WorldModel(encoder, LatentPredictor(config), 32, 1, 1, torch.zeros(2), torch.ones(2))


@pytest.mark.parametrize(
    "config",
    [CONFIG, dataclasses.replace(CONFIG, rollout_steps=3, rollout_decay=0.5)],
    ids=["teacher-forcing", "multi-step"],
)
def test_a_killed_run_resumes_with_the_same_loss_curve_and_weights(tmp_path, monkeypatch, config):
    reference_model = world_model()
    reference = train_predictor(reference_model, data(), config, progress=False)

    # Kill the run in step 5 (two batches a step: training and validation): the checkpoint
    # written after step 3 is the latest on disk.
    checkpoint = tmp_path / "training_state.safetensors"
    killed_model = world_model()
    real_batch = train_module._batch
    calls = []

    def dying_batch(*args):
        calls.append(1)
        if len(calls) == 9:
            raise KeyboardInterrupt  # stands in for SIGKILL: nothing after it runs
        return real_batch(*args)

    monkeypatch.setattr(train_module, "_batch", dying_batch)
    with pytest.raises(KeyboardInterrupt):
        train_predictor(killed_model, data(), config, progress=False, checkpoint=checkpoint)
    monkeypatch.setattr(train_module, "_batch", real_batch)
    predictor = world_model().predictor
    saved = load_training_state(checkpoint, predictor, torch.optim.AdamW(predictor.parameters()))
    assert saved.step == 3 and [row["step"] for row in saved.log] == [1, 2, 3]

    resumed_model = world_model()  # a fresh process: fresh weights, resumed from disk
    resumed = train_predictor(resumed_model, data(), config, progress=False, checkpoint=checkpoint)
    assert [row["step"] for row in resumed] == list(range(1, 9))
    assert resumed == reference
    for key, value in reference_model.predictor.state_dict().items():
        assert torch.equal(resumed_model.predictor.state_dict()[key], value), key


def test_a_file_that_is_not_a_training_state_is_rejected(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "other.safetensors"
    save_file({"x": torch.zeros(1)}, str(path))
    model = world_model().predictor
    with pytest.raises(ValueError, match="not a wmplan training state"):
        load_training_state(path, model, torch.optim.AdamW(model.parameters()))


def _frames():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (40, 16, 16, 3), dtype=np.uint8)
    return frames, np.where(np.arange(40) % 10 == 9, -1, np.arange(1, 41))


def _encoder() -> DinoVisionTransformer:
    torch.manual_seed(0)
    return DinoVisionTransformer(img_size=16, patch_size=8, embed_dim=8, depth=1, num_heads=2)


@pytest.mark.parametrize(
    ("objective", "objective_class"),
    [
        (VICRegConfig(expander_dim=16), VICRegObjective),  # with BatchNorm statistics
        (
            DINOConfig(
                out_dim=16, hidden_dim=16, bottleneck_dim=8, n_local_crops=1, centering="ema"
            ),
            DINOObjective,
        ),
    ],
    ids=["vicreg", "dino"],
)
def test_a_killed_encoder_pretraining_resumes_exactly(
    tmp_path, monkeypatch, objective, objective_class
):
    # DINO: the EMA teacher, its head and the centering buffer must come back; both
    # objectives: the augmentations' torch generator and the temporal-pair draws
    config = PretrainConfig(
        steps=8, batch_size=8, warmup_steps=2, pool=1, checkpoint_every=3, objective=objective
    )
    frames, next_index = _frames()
    reference_encoder = _encoder()
    reference = pretrain_encoder(reference_encoder, frames, next_index, config, progress=False)

    checkpoint = tmp_path / "encoder_state.safetensors"
    real_loss, calls = objective_class.loss, []

    def dying_loss(self, *args):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt  # stands in for SIGKILL in step 5
        return real_loss(self, *args)

    monkeypatch.setattr(objective_class, "loss", dying_loss)
    with pytest.raises(KeyboardInterrupt):
        pretrain_encoder(_encoder(), frames, next_index, config, False, checkpoint)
    monkeypatch.setattr(objective_class, "loss", real_loss)
    with safe_open(str(checkpoint), framework="pt") as handle:
        saved = json.loads(handle.metadata()["wmplan_training_state"])
        assert "generator.augment" in set(handle.keys())
    assert saved["step"] == 3 and [row["step"] for row in saved["log"]] == [0]

    resumed_encoder = _encoder()  # a fresh process: fresh weights, resumed from disk
    resumed = pretrain_encoder(resumed_encoder, frames, next_index, config, False, checkpoint)
    assert resumed == reference and [row["step"] for row in resumed] == [0, 7]
    for key, value in reference_encoder.state_dict().items():
        assert torch.equal(resumed_encoder.state_dict()[key], value), key
