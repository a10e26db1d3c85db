"""DINO self-distillation: loss on known inputs, multi-crop, EMA teacher, pretraining run."""

import math

import numpy as np
import pytest
import torch

from worldmodels.dino import (
    DINOConfig,
    DINOHead,
    DINOObjective,
    centred_targets,
    dino_loss,
    sinkhorn_knopp,
)
from worldmodels.multicrop import random_resized_crops
from worldmodels.pretrain_encoder import PretrainConfig, pretrain_encoder
from worldmodels.vit import DinoVisionTransformer


def test_dino_loss_is_the_cross_entropy_over_pairs_of_different_views():
    K = 4
    uniform = [torch.full((2, K), 1 / K)] * 2
    loss = dino_loss([torch.zeros(2, K)] * 3, uniform, student_temp=0.1)
    assert loss.item() == pytest.approx(math.log(K))  # H(uniform, uniform)
    # a one-hot target on class 0 and a student confident in class 0: loss near 0, even
    # though the student's view 0 (the teacher's own view) is confident elsewhere
    one_hot = [torch.tensor([[1.0, 0, 0, 0]]).repeat(2, 1)]
    right = torch.tensor([[10.0, 0, 0, 0]]).repeat(2, 1)
    wrong = torch.tensor([[0, 10.0, 0, 0]]).repeat(2, 1)
    assert dino_loss([wrong, right], one_hot, 0.1).item() < 1e-6


def test_centring_removes_a_constant_offset_of_the_teacher():
    logits = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    offset = torch.tensor([0.0, 0.0, 5.0])
    torch.testing.assert_close(
        centred_targets(logits + offset, offset, 0.1), centred_targets(logits, torch.zeros(3), 0.1)
    )


def test_sinkhorn_targets_are_distributions_balanced_over_the_prototypes():
    torch.manual_seed(0)
    logits = torch.randn(8, 4) + torch.tensor([3.0, 0, 0, 0])  # prototype 0 favoured by all
    q = sinkhorn_knopp(logits, temperature=0.5, n_iters=50)
    torch.testing.assert_close(q.sum(1), torch.ones(8))
    torch.testing.assert_close(q.sum(0), torch.full((4,), 2.0), rtol=1e-3, atol=1e-3)
    # a sample keeps its preference among the prototypes
    assert (q.argmax(1) == (logits - logits.mean(0)).argmax(1)).float().mean() >= 0.75


def test_head_prototypes_have_unit_norm_and_are_not_trained():
    head = DINOHead(8, 16, hidden_dim=32, bottleneck_dim=4)
    norms = head.last_layer.weight.norm(dim=1)
    torch.testing.assert_close(norms, torch.ones(16))
    assert not head.last_layer.parametrizations.weight.original0.requires_grad
    assert head(torch.randn(5, 8)).shape == (5, 16)


def test_random_resized_crop_of_the_full_area_is_the_image():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(3, 3, 16, 16)
    full = random_resized_crops(x, gen, size=16, scale=(1.0, 1.0), ratio=(1.0, 1.0))
    torch.testing.assert_close(full, x)
    small = random_resized_crops(x, gen, size=8, scale=(0.1, 0.3))
    assert small.shape == (3, 3, 8, 8)
    # a constant image stays constant under any crop
    const = torch.full((2, 3, 16, 16), 0.25)
    torch.testing.assert_close(random_resized_crops(const, gen, 8, (0.1, 0.5)), const[..., :8, :8])
    with pytest.raises(ValueError, match="scale"):
        random_resized_crops(x, gen, 8, (0.5, 1.5))


def _encoder() -> DinoVisionTransformer:
    torch.manual_seed(0)
    return DinoVisionTransformer(img_size=16, patch_size=4, embed_dim=16, depth=1, num_heads=2)


def test_teacher_is_an_ema_of_the_student_and_is_kept_at_the_end():
    encoder = _encoder()
    objective = DINOObjective(encoder, DINOConfig(teacher_momentum=0.9), image_size=16)
    start = {k: v.clone() for k, v in objective.teacher.state_dict().items()}
    with torch.no_grad():
        for p in encoder.parameters():
            p.add_(1.0)
    objective.after_step(encoder, step=0, total=10)  # momentum 0.9 at step 0
    for name, value in objective.teacher.state_dict().items():
        torch.testing.assert_close(value, start[name] + 0.1)
    objective.after_step(encoder, step=10, total=10)  # momentum 1.0 at the end: no change
    objective.finish(encoder)
    for name, value in encoder.state_dict().items():
        torch.testing.assert_close(value, objective.teacher.state_dict()[name])


def test_local_crops_are_whole_patches():
    objective = DINOObjective(_encoder(), DINOConfig(local_size_ratio=0.4), image_size=16)
    assert objective.local_size == 8  # 16 * 0.4 = 6.4 -> 2 patches of 4


def test_dino_pretraining_runs_logs_diagnostics_and_keeps_the_frozen_teacher():
    encoder = _encoder()
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (40, 16, 16, 3), dtype=np.uint8)
    next_index = np.where(np.arange(40) % 10 == 9, -1, np.arange(1, 41))
    config = PretrainConfig(
        steps=6,
        batch_size=8,
        warmup_steps=2,
        pool=1,
        objective=DINOConfig(out_dim=32, hidden_dim=32, bottleneck_dim=8, n_local_crops=2),
    )
    log = pretrain_encoder(encoder, frames, next_index, config, progress=False)
    assert config.objective_name == "dino"
    assert {"dino_loss", "ibot_loss", "teacher_entropy", "teacher_patch_entropy"} <= set(log[-1])
    # entropies of distributions over 32 prototypes lie in [0, log 32]
    assert all(0 <= log[-1][k] <= math.log(32) + 1e-4 for k in log[-1] if "entropy" in k)
    assert all(math.isfinite(v) for v in log[-1].values())
    assert not any(p.requires_grad for p in encoder.parameters())


def test_dino_config_errors_name_the_field():
    with pytest.raises(ValueError, match="teacher_temp"):
        DINOConfig(teacher_temp=0.0)
    with pytest.raises(ValueError, match="n_local_crops"):
        DINOConfig(n_local_crops=-1)
    with pytest.raises(ValueError, match="teacher_momentum"):
        DINOConfig(teacher_momentum=1.0)
