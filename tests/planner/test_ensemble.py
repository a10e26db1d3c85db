"""EnsembleDisagreement and the checkpoint's ensemble/: members load sharing the encoder, a
member on another encoder or with other statistics is refused by name, and the cost equals the
members' squared gaps to the world model's own rollout computed by hand."""

from __future__ import annotations

import shutil

import pytest
import torch

from planner.energy import WeightedSum
from planner.ensemble import EnsembleDisagreement
from planner.errors import EnergyError
from planner.latent_energy import LatentEnergy
from worldmodels.checkpoint import ENSEMBLE_DIR, load_world_model, save_world_model
from worldmodels.errors import CheckpointError
from worldmodels.predictor import LatentPredictor, PredictorConfig
from worldmodels.vit import DinoVisionTransformer
from worldmodels.world_model import WorldModel


def world_model(
    seed: int, encoder_seed: int = 0, action_std: float = 2.0, num_hist: int = 1
) -> WorldModel:
    torch.manual_seed(encoder_seed)
    encoder = DinoVisionTransformer(img_size=16, patch_size=8, embed_dim=8, depth=1, num_heads=2)
    torch.manual_seed(seed)
    config = PredictorConfig(token_dim=8, n_tokens=4, action_dim=2, dim=8, depth=1, num_heads=2)
    predictor = LatentPredictor(config)
    torch.nn.init.normal_(predictor.token_out.weight, std=0.3)  # members differ
    return WorldModel(encoder, predictor, image_size=16, pool=1, num_hist=num_hist,
                      action_mean=torch.tensor([0.1, -0.2]),
                      action_std=torch.tensor([0.5, action_std]))  # fmt: skip


@pytest.fixture
def ensemble_dir(tmp_path):
    directory = save_world_model(world_model(seed=0), tmp_path / "model")
    for seed in (1, 2):
        save_world_model(world_model(seed=seed), directory / ENSEMBLE_DIR / f"m{seed}")
    return directory


def test_members_load_sorted_sharing_the_encoder_and_roll_out_as_saved(ensemble_dir):
    loaded = load_world_model(ensemble_dir)
    assert len(loaded.ensemble) == 2
    assert all(m.encoder is loaded.encoder for m in loaded.ensemble)
    z, actions = torch.randn(1, 1, 4, 8), torch.randn(1, 3, 2, 2)
    with torch.no_grad():
        for member, seed in zip(loaded.ensemble, (1, 2), strict=True):
            torch.testing.assert_close(member.rollout(z, actions),
                                       world_model(seed).rollout(z, actions))  # fmt: skip
    assert load_world_model(ensemble_dir / ENSEMBLE_DIR / "m1").ensemble == ()


def test_a_history_override_reaches_the_members(tmp_path):
    directory = save_world_model(world_model(seed=0, num_hist=2), tmp_path / "model")
    save_world_model(world_model(seed=1, num_hist=2), directory / ENSEMBLE_DIR / "m1")
    assert load_world_model(directory).ensemble[0].num_hist == 2
    assert load_world_model(directory, num_hist=1).ensemble[0].num_hist == 1


def test_a_member_on_another_encoder_or_with_other_statistics_is_refused(ensemble_dir, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(ensemble_dir, other)
    save_world_model(world_model(seed=3, encoder_seed=1), other / ENSEMBLE_DIR / "m3")
    with pytest.raises(CheckpointError, match="another encoder"):
        load_world_model(other)
    shutil.rmtree(other / ENSEMBLE_DIR / "m3")
    save_world_model(world_model(seed=3, action_std=3.0), other / ENSEMBLE_DIR / "m3")
    with pytest.raises(CheckpointError, match="action_std"):
        load_world_model(other)


def test_the_cost_is_the_mean_squared_gap_of_the_members_continuing_the_first_frame(
    ensemble_dir,
):
    model = load_world_model(ensemble_dir)
    z_hist, actions = torch.randn(2, 1, 4, 8), torch.randn(2, 3, 4, 2)  # B=2, N=3, H=4
    with torch.no_grad():
        z_pred = model.rollout(z_hist, actions)  # (2, 3, 4, 4, 8)
        costs = {r: EnsembleDisagreement(r, tokens=[0, -1]).for_world_model(model)(
            z_pred, z_pred[:, 0, 0], actions) for r in ("all", "last")}  # fmt: skip
        expected_all, expected_last = torch.zeros(2, 3), torch.zeros(2, 3)
        for member in model.ensemble:
            for b in range(2):
                for n in range(3):  # by hand: one candidate at a time from its first frame
                    z = member.rollout(z_pred[b, n, 0][None, None], actions[b, n, 1:][None, None])
                    gap = (z[0, 0] - z_pred[b, n, 1:])[:, [0, 3]].square().mean(dim=(1, 2))
                    expected_all[b, n] += gap.mean() / 2
                    expected_last[b, n] += gap[-1] / 2
    torch.testing.assert_close(costs["all"], expected_all, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(costs["last"], expected_last, atol=1e-6, rtol=1e-5)
    assert (costs["all"] > 1e-4).all()  # the members do disagree


def test_members_equal_to_the_world_model_cost_nothing(ensemble_dir, tmp_path):
    same = tmp_path / "same"
    shutil.copytree(ensemble_dir, same)
    for name in ("m1", "m2"):
        shutil.rmtree(same / ENSEMBLE_DIR / name)
        save_world_model(world_model(seed=0), same / ENSEMBLE_DIR / name)
    model = load_world_model(same)
    energy = LatentEnergy(model, WeightedSum([(1.0, EnsembleDisagreement())]))
    costs = energy(torch.randn(1, 1, 4, 8), torch.randn(1, 4, 8), torch.randn(1, 5, 3, 2))
    torch.testing.assert_close(costs, torch.zeros(1, 5), atol=1e-10, rtol=0)


def test_misuse_is_named(ensemble_dir, tmp_path):
    plain = load_world_model(save_world_model(world_model(seed=0), tmp_path / "plain"))
    with pytest.raises(EnergyError, match="needs a world model with an ensemble"):
        EnsembleDisagreement().for_world_model(plain)
    with pytest.raises(EnergyError, match="not bound"):
        EnsembleDisagreement()(torch.zeros(1, 1, 2, 4, 8), torch.zeros(1, 4, 8),
                               torch.zeros(1, 1, 2, 2))  # fmt: skip
    bound = EnsembleDisagreement().for_world_model(load_world_model(ensemble_dir))
    with pytest.raises(EnergyError, match="at least 2 steps"):
        bound(torch.zeros(1, 1, 1, 4, 8), torch.zeros(1, 4, 8), torch.zeros(1, 1, 1, 2))
    with pytest.raises(EnergyError, match="tokens"):
        EnsembleDisagreement(tokens=[])
