"""The multi-step (rollout) loss: teacher forcing exactly at one step, known values on a
linear latent system, gradients through the fed-back predictions, and the planner's rollout."""

import pytest
import torch
from torch import nn

from worldmodels.predictor import LatentPredictor, PredictorConfig
from worldmodels.predictor_loss import (
    LatentError,
    MultiStepLoss,
    Windows,
    open_loop_rollout,
    teacher_forced_loss,
)
from worldmodels.vit import DinoVisionTransformer
from worldmodels.world_model import WorldModel


class LinearLatent(nn.Module):
    """z_{t+1} = w * z_t + a_t, per frame (Markov), for tokens of one scalar (P = D = 1)."""

    def __init__(self, w: float) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w))

    def forward(self, z: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return self.w * z + actions[..., None]  # (B, T, 1, 1)


def _scalar_windows(frames: list[float], actions: list[float]) -> Windows:
    """One window of len(actions) frames from len(actions) + 1 scalar frames."""
    z = torch.tensor(frames)[None, :, None, None]  # (1, T+1, 1, 1)
    return Windows(z[:, :-1], torch.tensor(actions)[None, :, None], z[:, 1:])


def _predictor(seed: int = 0, action_dim: int = 2) -> LatentPredictor:
    torch.manual_seed(seed)
    config = PredictorConfig(
        token_dim=8, n_tokens=4, action_dim=action_dim, dim=16, depth=2, num_heads=2
    )
    predictor = LatentPredictor(config)
    nn.init.normal_(predictor.token_out.weight, std=0.3)  # not the identity map
    return predictor


def test_one_step_is_teacher_forcing_exactly():
    predictor = _predictor()
    torch.manual_seed(1)
    windows = Windows(torch.randn(5, 3, 4, 8), torch.randn(5, 3, 2), torch.randn(5, 3, 4, 8))
    loss = MultiStepLoss(n_frames=3, steps=1, num_hist=2, weight=3.0, decay=0.5)
    assert torch.equal(loss(predictor, windows), teacher_forced_loss(predictor, windows))


def test_three_steps_on_a_linear_system_give_the_hand_computed_loss():
    # w = 2, frames 1, 2, 3, 5 and actions 0.5, -1, 2.
    # Teacher forcing on 2 frames: predictions 2.5, 3 of targets 2, 3: (0.25 + 0) / 2 = 0.125.
    # Open loop from frame 0: 2.5, then 2 * 2.5 - 1 = 4 (target 3, error 1), then
    # 2 * 4 + 2 = 10 (target 5, error 25); decay 0.5: (1 * 1 + 0.5 * 25) / 1.5 = 9.
    windows = _scalar_windows([1.0, 2.0, 3.0, 5.0], [0.5, -1.0, 2.0])
    loss = MultiStepLoss(n_frames=2, steps=3, num_hist=1, weight=0.5, decay=0.5)
    assert loss(LinearLatent(2.0), windows).item() == pytest.approx(0.125 + 0.5 * 9)


def test_gradients_reach_the_first_step_through_the_fed_back_prediction():
    # loss(w) = (w z0 + a0 - z1)^2 + (w (w z0 + a0) + a1 - z2)^2 with z0 = 1, a0 = 0.5,
    # z1 = 2, a1 = -1, z2 = 3: errors e1 = 0.5, e2 = 1 at w = 2, and
    # dloss/dw = 2 e1 z0 + 2 e2 (2 w z0 + a0) = 1 + 9 = 10 (a detached feedback gives 6).
    model = LinearLatent(2.0)
    windows = _scalar_windows([1.0, 2.0, 3.0], [0.5, -1.0])
    MultiStepLoss(n_frames=1, steps=2, num_hist=1)(model, windows).backward()
    assert model.w.grad.item() == pytest.approx(10.0)


def test_the_proprio_weight_adds_the_mse_of_the_proprio_entries_only():
    # 2 tokens of 3 entries; the proprio token (the last) holds p = 2 entries, then padding.
    # Frame errors: visual token (1, 1, 1) -> 1 each; proprio token (2, 0, pad 3) -> 4, 0, 9.
    # MSE over the 6 entries: (3 + 4 + 0 + 9) / 6 = 16/6; proprio MSE over its 2 entries:
    # (4 + 0) / 2 = 2; weight 0.5 -> 16/6 + 1.
    target = torch.zeros(1, 1, 2, 3)
    pred = torch.tensor([[[[1.0, 1.0, 1.0], [2.0, 0.0, 3.0]]]])
    assert LatentError()(pred, target).item() == pytest.approx(16 / 6)
    assert LatentError(2, 0.5)(pred, target).item() == pytest.approx(16 / 6 + 1)
    two_frames = torch.cat([pred, 2 * pred], dim=1)  # the second frame errs 4x
    per_frame = LatentError(2, 0.5).per_frame(two_frames, torch.zeros(1, 2, 2, 3))
    torch.testing.assert_close(per_frame, torch.tensor([16 / 6 + 1, 4 * (16 / 6 + 1)]))


def test_the_proprio_weight_reaches_the_open_loop_term():
    # One token of one entry, all of it proprio: the weighted error is (1 + w) x the MSE, in
    # the teacher-forced and in the open-loop term (the hand-computed linear system above).
    windows = _scalar_windows([1.0, 2.0, 3.0, 5.0], [0.5, -1.0, 2.0])
    loss = MultiStepLoss(2, 3, 1, 0.5, 0.5, LatentError(proprio_dim=1, proprio_weight=3.0))
    assert loss(LinearLatent(2.0), windows).item() == pytest.approx(4 * (0.125 + 0.5 * 9))


def test_a_proprio_weight_needs_a_proprio_token():
    with pytest.raises(ValueError, match="proprio_dim"):
        LatentError(proprio_dim=0, proprio_weight=1.0)
    with pytest.raises(ValueError, match="proprio_weight must be >= 0"):
        LatentError(proprio_dim=2, proprio_weight=-1.0)


def test_longer_windows_than_the_loss_needs_are_cut_and_shorter_ones_refused():
    windows = _scalar_windows([1.0, 2.0, 3.0, 5.0, 8.0], [0.5, -1.0, 2.0, 0.0])
    loss = MultiStepLoss(n_frames=2, steps=3, num_hist=1, weight=0.5, decay=0.5)
    cut = Windows(windows.inputs[:, :3], windows.actions[:, :3], windows.targets[:, :3])
    assert loss(LinearLatent(2.0), windows) == loss(LinearLatent(2.0), cut)
    with pytest.raises(ValueError, match="needs windows of 4 frames, got 3"):
        MultiStepLoss(n_frames=1, steps=4)(LinearLatent(2.0), cut)
    with pytest.raises(ValueError, match="MultiStepLoss.decay must be > 0, got 0.0"):
        MultiStepLoss(n_frames=1, steps=2, decay=0.0)


@pytest.mark.parametrize("num_hist", [1, 2, 6], ids=["sliding-1", "sliding-2", "cached"])
def test_the_training_rollout_is_the_planners(num_hist):
    # WorldModel.rollout (key-value cache where the window never slides, else a sliding
    # window of num_hist frames) and the loss's rollout through forward agree.
    predictor = _predictor(action_dim=3)
    encoder = DinoVisionTransformer(img_size=32, patch_size=16, embed_dim=8, depth=1, num_heads=2)
    mean, std = torch.tensor([0.5, -1.0, 0.0]), torch.tensor([2.0, 0.5, 1.0])
    world_model = WorldModel(encoder, predictor, 32, 1, num_hist, mean, std).eval()
    torch.manual_seed(2)
    z_hist, past = torch.randn(3, 2, 4, 8), torch.randn(3, 1, 3)
    actions = torch.randn(3, 5, 3)
    with torch.no_grad():
        planned = world_model.rollout(z_hist, actions[:, None], past)[:, 0]  # (B, H, P, D)
        trained = open_loop_rollout(
            predictor,
            z_hist,
            world_model.normalize_actions(past),
            world_model.normalize_actions(actions),
            num_hist,
        )
    torch.testing.assert_close(trained, planned, rtol=1e-5, atol=1e-5)
