"""VICReg loss, augmentations and the pretraining loop."""

import numpy as np
import pytest
import torch

from worldmodels.augment import augment
from worldmodels.pretrain_encoder import PretrainConfig, effective_rank, pretrain_encoder
from worldmodels.vicreg import VICRegConfig, VICRegObjective, off_diagonal, vicreg_loss
from worldmodels.vit import DinoVisionTransformer


def test_vicreg_terms_on_known_inputs():
    # two identical views, each dimension a +-2 sign pattern: no invariance, variance or
    # covariance penalty (std 2 > 1, orthogonal columns)
    signs = torch.tensor([[1, 1], [1, -1], [-1, 1], [-1, -1]], dtype=torch.float32) * 2
    loss, terms = vicreg_loss(signs, signs.clone())
    assert terms["invariance"] == 0.0 and terms["variance"] == 0.0
    assert terms["covariance"] == pytest.approx(0.0, abs=1e-6) and loss.item() == pytest.approx(0.0)
    # a collapsed embedding pays the full variance hinge (std ~ 0.01 -> 1 - 0.01)
    collapsed = torch.zeros(4, 3)
    _, terms = vicreg_loss(collapsed, collapsed)
    assert terms["variance"] == pytest.approx(0.99, abs=1e-3)


def test_off_diagonal():
    m = torch.arange(9.0).view(3, 3)
    assert off_diagonal(m).tolist() == [1, 2, 3, 5, 6, 7]


def test_augment_without_jitter_is_identity_and_shifts_by_whole_pixels():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(5, 3, 16, 16)
    torch.testing.assert_close(augment(x, gen, max_shift=0, brightness=0, noise_std=0), x)
    y = augment(x, gen, max_shift=2, brightness=0, noise_std=0)
    # the centre of each image is the original centre moved by at most 2 pixels
    matches = [
        any(
            torch.equal(y[i, :, 4:12, 4:12], x[i, :, 4 + dy : 12 + dy, 4 + dx : 12 + dx])
            for dy in range(-2, 3)
            for dx in range(-2, 3)
        )
        for i in range(5)
    ]
    assert all(matches)


def test_effective_rank():
    z = torch.zeros(100, 4)
    z[:, 0] = torch.randn(100)
    assert effective_rank(z) == pytest.approx(1.0, abs=1e-3)
    assert effective_rank(torch.randn(2000, 4)) > 3.8


@pytest.mark.parametrize("per_token", [True, False])
def test_pretraining_lowers_the_loss_and_freezes(per_token):
    torch.manual_seed(0)
    encoder = DinoVisionTransformer(img_size=16, patch_size=8, embed_dim=8, depth=1, num_heads=2)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (40, 16, 16, 3), dtype=np.uint8)
    next_index = np.where(np.arange(40) % 10 == 9, -1, np.arange(1, 41))
    config = PretrainConfig(
        steps=30,
        batch_size=16,
        lr=3e-3,
        warmup_steps=5,
        pool=1,
        objective=VICRegConfig(expander_dim=None, per_token=per_token, cov_weight=0.04),
    )
    log = pretrain_encoder(encoder, frames, next_index, config, progress=False)
    assert log[-1]["loss"] < log[0]["loss"]
    assert not any(p.requires_grad for p in encoder.parameters())


def test_bf16_pretraining_runs_close_to_fp32():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (40, 16, 16, 3), dtype=np.uint8)
    next_index = np.where(np.arange(40) % 10 == 9, -1, np.arange(1, 41))
    logs = {}
    for precision in ("fp32", "bf16"):
        torch.manual_seed(0)
        encoder = DinoVisionTransformer(
            img_size=16, patch_size=8, embed_dim=8, depth=1, num_heads=2
        )
        objective = VICRegConfig(expander_dim=None, per_token=True, cov_weight=0.04)
        config = PretrainConfig(
            steps=10,
            batch_size=16,
            warmup_steps=2,
            pool=1,
            precision=precision,
            objective=objective,
        )
        logs[precision] = pretrain_encoder(encoder, frames, next_index, config, progress=False)
    fp32, bf16 = logs["fp32"][-1], logs["bf16"][-1]
    assert bf16["loss"] != fp32["loss"]  # bf16 really ran
    assert bf16["loss"] == pytest.approx(fp32["loss"], rel=0.01)


@pytest.mark.parametrize("global_weight", [0.0, 0.25, 1.0])
def test_global_term_mixes_vicreg_on_the_token_average(global_weight):
    # VICRegL: (1 - alpha) * mean of the per-token losses + alpha * VICReg of the token means
    torch.manual_seed(0)
    weights = torch.randn(3, 4, 5)  # represent: a fixed linear map to 4 tokens of width 5

    def represent(_: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bchw,ctd->btd", images, weights)

    config = VICRegConfig(expander_dim=None, per_token=True, global_weight=global_weight)
    objective = VICRegObjective(config, represent, n_tokens=4, embed_dim=5)
    first, second = torch.rand(8, 3, 6, 6), torch.rand(8, 3, 6, 6)
    generator = torch.Generator().manual_seed(1)
    loss, terms = objective.loss(torch.nn.Identity(), first, second, generator)

    views = augment(torch.cat([first, second]), torch.Generator().manual_seed(1), config.max_shift)
    rep = represent(torch.nn.Identity(), views)
    local = torch.stack([vicreg_loss(*rep[:, t].chunk(2))[0] for t in range(4)]).mean()
    whole = vicreg_loss(*rep.mean(dim=1).chunk(2))[0]
    expected = (1 - global_weight) * local + global_weight * whole
    assert loss.item() == pytest.approx(expected.item())
    assert ("global_variance" in terms) == (global_weight > 0)


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match="temporal_prob"):
        PretrainConfig(temporal_prob=1.5)
    with pytest.raises(ValueError, match="precision"):
        PretrainConfig(precision="fp16")
    with pytest.raises(ValueError, match="expander_dim must be None"):
        VICRegConfig(per_token=True, expander_dim=64)
    with pytest.raises(ValueError, match="objective must be"):
        PretrainConfig(objective={"per_token": True})
    with pytest.raises(ValueError, match="global_weight must be in"):
        VICRegConfig(expander_dim=None, per_token=True, global_weight=1.5)
    with pytest.raises(ValueError, match="needs per_token=True"):
        VICRegConfig(expander_dim=None, global_weight=0.5)
