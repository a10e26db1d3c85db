"""The training loop: schedule, log cadence, clipping and the saved torch generators."""

import numpy as np
import pytest
import torch
from torch import nn

from worldmodels.train_loop import TrainConfig, TrainingTask, cosine_lr, train_loop
from worldmodels.training_state import load_training_state, save_training_state


def test_cosine_lr_warms_up_linearly_then_decays_to_zero():
    assert [cosine_lr(s, 10, 4, 2.0) for s in range(4)] == [0.5, 1.0, 1.5, 2.0]
    assert cosine_lr(4, 10, 4, 2.0) == pytest.approx(2.0)
    assert cosine_lr(7, 10, 4, 2.0) == pytest.approx(1.0)  # half way through the decay
    assert cosine_lr(10, 10, 4, 2.0) == pytest.approx(0.0, abs=1e-12)


def _task(model: nn.Module, pool: np.ndarray, seen: list, **kwargs) -> TrainingTask:
    target = torch.arange(len(pool), dtype=torch.float32)

    def loss(module, batch):
        seen.append(batch.copy())
        return (module(target[batch, None]) - 1).square().mean(), {"term": 1.0}

    def evaluate(batch):
        return {"n": 1.0}

    return TrainingTask("test", model, pool, loss, evaluate, **kwargs)


@pytest.mark.parametrize(("count_from", "steps"), [(1, [3, 6, 7]), (0, [0, 3, 6])])
def test_rows_follow_the_cadence_and_batches_the_seeded_generator(count_from, steps):
    torch.manual_seed(0)
    model, seen = nn.Linear(1, 1), []
    config = TrainConfig(steps=7, batch_size=4, lr=0.1, warmup_steps=2)
    task = _task(model, np.arange(10), seen, log_every=3, count_from=count_from, loss_key="l")
    log = train_loop(config, task, np.random.default_rng(5), False)
    assert [row["step"] for row in log] == steps
    assert list(log[0]) == ["step", "l", "term", "n"]
    expected = np.random.default_rng(5)
    for batch in seen:
        np.testing.assert_array_equal(batch, expected.choice(np.arange(10), 4))


def test_gradients_are_clipped():
    model = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(100.0)
    config = TrainConfig(steps=1, batch_size=2, lr=1.0, warmup_steps=1)
    task = _task(model, np.arange(3), [], log_every=1, grad_clip=1e-3)
    norms = []
    task.after_step = lambda _: norms.append(model.weight.grad.norm().item())
    train_loop(config, task, np.random.default_rng(0), False)
    assert norms[0] == pytest.approx(1e-3, rel=1e-4)


def test_generators_are_saved_and_restored(tmp_path):
    model = nn.Linear(2, 2)
    optim = torch.optim.AdamW(model.parameters())
    generator = torch.Generator().manual_seed(3)
    torch.rand(5, generator=generator)
    expected = torch.rand(4, generator=torch.Generator().set_state(generator.get_state()))
    path = tmp_path / "state.safetensors"
    save_training_state(path, model, optim, np.random.default_rng(0), 2, [], {"aug": generator})
    state = load_training_state(path, model, optim)
    restored = torch.Generator().set_state(state.generator_states["aug"])
    assert torch.equal(torch.rand(4, generator=restored), expected)


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match="TrainConfig.checkpoint_every"):
        TrainConfig(checkpoint_every=0)
    with pytest.raises(ValueError, match="precision"):
        TrainConfig(precision="fp16")
    with pytest.raises(ValueError, match="log_every"):
        _task(nn.Linear(1, 1), np.arange(3), [], log_every=0)
    with pytest.raises(ValueError, match="count_from"):
        _task(nn.Linear(1, 1), np.arange(3), [], log_every=1, count_from=2)


def test_a_state_saved_with_other_settings_is_refused_and_checkpoint_every_is_free(tmp_path):
    from dataclasses import replace

    from worldmodels.errors import CheckpointError

    state = tmp_path / "state.safetensors"
    config = TrainConfig(steps=4, batch_size=2, lr=0.1, warmup_steps=1, checkpoint_every=2)
    killed = replace(config, steps=2)  # stands for a run killed after step 2 ...
    torch.manual_seed(0)
    train_loop(killed, _task(nn.Linear(1, 1), np.arange(5), [], log_every=1),
               np.random.default_rng(0), False, state)  # fmt: skip
    with pytest.raises(CheckpointError, match=r"other settings \(steps: 2 -> 4\)"):
        train_loop(config, _task(nn.Linear(1, 1), np.arange(5), [], log_every=1),
                   np.random.default_rng(0), False, state)  # fmt: skip
    seen = []
    resumed = replace(killed, checkpoint_every=1)  # ... and resumed with its settings
    train_loop(resumed, _task(nn.Linear(1, 1), np.arange(5), seen, log_every=1),
               np.random.default_rng(0), False, state)  # fmt: skip
    assert seen == []  # nothing left to do: it resumed at step 2 of 2
