"""Training refuses what would silently give a wrong model: a non-finite loss stops the run
naming the step and keeps the last good checkpoint; a single-episode dataset and a damaged
training state are named for what they are."""

import numpy as np
import pytest
import torch
from torch import nn

from worldmodels.errors import CheckpointError, NonFiniteLossError
from worldmodels.train_loop import TrainConfig, TrainingTask, train_loop
from worldmodels.training_data import FlatEpisodes
from worldmodels.training_state import load_training_state, save_training_state


def _task(bad_step: int, value: float, log: list) -> TrainingTask:
    """A linear model fitted to 1; the loss is ``value`` (NaN, inf) from step ``bad_step`` on."""
    model = nn.Linear(1, 1)
    steps = iter(range(10**6))

    def loss(module, batch):
        step = next(steps)
        error = (module(torch.ones(len(batch), 1)) - 1).square().mean()
        return (error * value if step >= bad_step else error), {}

    return TrainingTask("toy", model, np.arange(4), loss, lambda batch: {}, log_every=1,
                        after_step=log.append)  # fmt: skip


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_loss_stops_at_its_step_and_keeps_the_last_good_checkpoint(tmp_path, value):
    checkpoint = tmp_path / "state.safetensors"
    applied = []
    task = _task(bad_step=5, value=value, log=applied)
    config = TrainConfig(steps=10, batch_size=2, lr=0.1, warmup_steps=1, checkpoint_every=2)
    with pytest.raises(NonFiniteLossError, match=rf"toy: the loss is {value} at step 5") as error:
        train_loop(config, task, np.random.default_rng(0), False, checkpoint)
    assert error.value.step == 5
    assert f"the last good training state is {checkpoint}" in str(error.value)
    assert applied == [0, 1, 2, 3, 4]  # step 5 was not applied
    assert torch.isfinite(task.model.weight).all()
    optim = torch.optim.AdamW(task.model.parameters())
    state = load_training_state(checkpoint, nn.Linear(1, 1), optim)
    assert state.step == 4 and all(np.isfinite(row["train_loss"]) for row in state.log)


def test_non_finite_gradient_norm_is_named():
    model = nn.Linear(1, 1)

    def loss(module, batch):  # finite loss, infinite gradient: d/dw sqrt(w - w) at 0
        return torch.sqrt((module.weight - module.weight.detach()).sum() + 0.0), {}

    task = TrainingTask("toy", model, np.arange(2), loss, lambda b: {}, log_every=1, grad_clip=1)
    config = TrainConfig(steps=2, batch_size=1, warmup_steps=1)
    with pytest.raises(NonFiniteLossError, match="the gradient norm is .* at step 0"):
        train_loop(config, task, np.random.default_rng(0), False)


def test_regression_a_single_episode_dataset_is_blamed_on_the_validation_split():
    # the old message blamed the window length
    data = FlatEpisodes(
        pixels=np.zeros((11, 4, 4, 3), np.uint8),
        proprio=np.zeros((11, 2), np.float32),
        actions=np.zeros((11, 2), np.float32),
        next_index=np.r_[np.arange(1, 11), -1],
        episode_of=np.zeros(11, int),
    )
    with pytest.raises(ValueError, match="needs at least 2 episodes; the dataset has 1"):
        data.held_out_episodes(0.1, np.random.default_rng(0))


@pytest.mark.parametrize("keep", [0, 7, 100, -10])
def test_regression_a_truncated_training_state_is_named(tmp_path, keep):
    path = tmp_path / "training_state.safetensors"
    model = nn.Linear(2, 2)
    optim = torch.optim.AdamW(model.parameters())
    save_training_state(path, model, optim, np.random.default_rng(0), 3, [])
    path.write_bytes(path.read_bytes()[:keep])
    with pytest.raises(CheckpointError, match=f"{path}: .*delete {path} to train from the start"):
        load_training_state(path, model, optim)
