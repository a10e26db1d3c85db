"""Predictor training resumes exactly from its atomic training-state checkpoint."""

import numpy as np
import pytest
import torch

import worldmodels.train_predictor as train_module
from envs.dataset import Episode
from worldmodels.predictor import LatentPredictor, PredictorConfig
from worldmodels.train_predictor import PredictorTrainConfig, train_predictor
from worldmodels.training_data import flatten_episodes
from worldmodels.training_state import load_training_state
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


def test_a_killed_run_resumes_with_the_same_loss_curve_and_weights(tmp_path, monkeypatch):
    reference_model = world_model()
    reference = train_predictor(reference_model, data(), CONFIG, progress=False)

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
        train_predictor(killed_model, data(), CONFIG, progress=False, checkpoint=checkpoint)
    monkeypatch.setattr(train_module, "_batch", real_batch)
    predictor = world_model().predictor
    saved = load_training_state(checkpoint, predictor, torch.optim.AdamW(predictor.parameters()))
    assert saved.step == 3 and [row["step"] for row in saved.log] == [1, 2, 3]

    resumed_model = world_model()  # a fresh process: fresh weights, resumed from disk
    resumed = train_predictor(resumed_model, data(), CONFIG, progress=False, checkpoint=checkpoint)
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
