"""The controller executes a world model's action blocks (frame skip K = 2).

A point moves in the plane by each raw action, x_{t+1} = x_t + a_t. Its image stores the position
in pixel (0, 0) (two channels, 0.05 per grey level, 128 is the origin). The world model predicts
one frame per K = 2 environment steps: its actions are blocks (a_t, a_{t+1}) flattened
time-major to (K * 2,), and its rollout integrates each block, z_{h+1} = z_h + a_t + a_{t+1}.
Plans are (H, 4); `act` returns raw actions (2,), one per environment step.
"""

import numpy as np
import pytest
import torch

from planner import GoalDistance, MPCController, make_planner, shift_plan
from tests.point_world_model import LEVELS_PER_UNIT, render

K, A, HORIZON = 2, 2, 4


class BlockPointWorldModel:
    """The point's position as latent (P = 1, D = 2); one frame per block of K raw actions."""

    device = torch.device("cpu")
    proprio_dim = 0
    frameskip = K

    def __init__(self) -> None:
        self.encoded = 0  # frames encoded, goal included
        self.rollouts: list[tuple[torch.Tensor, torch.Tensor | None]] = []  # (actions, past)

    def encode(self, pixels: torch.Tensor) -> torch.Tensor:
        """(B, T, H, W, 3) uint8 -> (B, T, 1, 2)."""
        self.encoded += pixels.shape[0] * pixels.shape[1]
        return ((pixels[..., 0, 0, :2].float() - 128) / LEVELS_PER_UNIT)[:, :, None]

    def rollout(self, z_hist: torch.Tensor, actions: torch.Tensor, past_actions=None):
        """(B, T, 1, 2), (B, N, H, K*2) -> (B, N, H, 1, 2): each block's actions summed."""
        self.rollouts.append((actions, past_actions))
        moves = actions.unflatten(-1, (K, A)).sum(dim=-2)  # (B, N, H, 2)
        return z_hist[:, -1, None, None] + moves.cumsum(dim=2)[..., None, :]


def controller(replan_every: int = 1, history: int = 1, n_iters: int = 10) -> MPCController:
    planner = make_planner(
        "cem",
        horizon=HORIZON,
        action_dim=K * A,
        low=-0.5,
        high=0.5,
        n_samples=100,
        n_elites=10,
        n_iters=n_iters,
    )
    generator = torch.Generator().manual_seed(0)
    return MPCController(
        BlockPointWorldModel(),
        planner,
        replan_every,
        cost=GoalDistance("all"),
        history=history,
        generator=generator,
    )


def test_a_batch_of_points_reaches_their_goals_with_raw_actions():
    position = np.array([[0.0, 0.0], [1.0, -1.0]])
    goal = np.array([[2.0, -1.5], [-1.0, 0.5]])
    mpc = controller()
    assert mpc.frameskip == K
    mpc.reset({"pixels": render(goal)})
    for _ in range(12):
        action = mpc.act({"pixels": render(position)})
        assert action.shape == (2, A) and action.dtype == np.float32
        assert np.abs(action).max() <= 0.5
        position = position + action
    # Tolerance: CEM's sampling noise on the last small corrections, plus 0.025 quantisation.
    assert (np.linalg.norm(goal - position, axis=1) < 0.15).all()
    assert len(mpc.plan_times_s) == 12 // K
    assert mpc.last_result.actions.shape == (2, HORIZON, K * A)


@pytest.mark.parametrize("replan_every", [1, 2])
def test_raw_actions_are_the_planned_blocks_rows_and_plans_come_every_k_steps(
    record_plans, replan_every
):
    mpc = controller(replan_every=replan_every, n_iters=2)
    calls = record_plans(mpc)
    mpc.reset(render(np.array([2.0, 2.0])))
    position, actions, planned_at = np.zeros(2), [], []
    for step in range(8):
        n_plans = len(calls)
        actions.append(mpc.act(render(position)))
        position = position + actions[-1]
        if len(calls) > n_plans:
            planned_at.append(step)
    # A plan at every replan_every-th block boundary, i.e. every K * replan_every steps.
    steps_per_plan = K * replan_every
    assert planned_at == list(range(0, 8, steps_per_plan))
    # The raw action of step t is row t % K of the block being executed.
    for step, action in enumerate(actions):
        _, result = calls[step // steps_per_plan]
        block = result.actions[0, (step // K) % replan_every].view(K, A)  # (K, A)
        assert np.array_equal(action, block[step % K].numpy())
    # The warm start drops the executed blocks: one block per replan_every.
    (_, first), (second_init, _) = calls[:2]
    assert torch.equal(second_init, shift_plan(first.actions, replan_every))


def test_encodes_once_per_block_and_keeps_past_blocks_in_the_history():
    mpc = controller(history=2, n_iters=1)
    world_model = mpc.world_model
    mpc.reset(render(np.array([1.0, 1.0])))
    position, returned = np.zeros(2), []
    for _ in range(6):
        returned.append(mpc.act(render(position)))
        position = position + returned[-1]
    assert world_model.encoded == 1 + 6 // K  # the goal, then each block boundary
    # The latest plan's past actions: the block executed between the two history frames.
    _, past_actions = world_model.rollouts[-1]
    executed_block = np.concatenate(returned[2:4])  # (K * A,), time-major
    assert past_actions.shape == (1, 1, K * A)
    assert np.array_equal(past_actions[0, 0].numpy(), executed_block)


def test_surprise_compares_block_boundaries():
    mpc = controller(n_iters=3)
    mpc.reset(render(np.array([2.0, 2.0])))
    position = np.zeros(2)
    for _ in range(K):
        position = position + mpc.act(render(position))
    assert mpc.surprise is None
    # Moving as predicted: explained up to the 0.025 pixel quantisation.
    for _ in range(K):
        position = position + mpc.act(render(position))
    assert mpc.surprise.shape == (1,) and mpc.surprise[0] < 0.025**2
    # Teleported by (1.5, -2) within the block: seen at the next boundary, not before.
    position = position + mpc.act(render(position)) + np.array([1.5, -2.0])
    before = mpc.surprise.clone()
    position = position + mpc.act(render(position))
    assert torch.equal(mpc.surprise, before)
    mpc.act(render(position))
    assert mpc.surprise[0] == pytest.approx((1.5**2 + 2.0**2) / 2, rel=0.05)


def test_planner_action_dim_must_be_whole_blocks():
    planner = make_planner("cem", horizon=HORIZON, action_dim=3)
    with pytest.raises(ValueError, match=r"action_dim \(3\) must be a multiple .* frameskip \(2"):
        MPCController(BlockPointWorldModel(), planner)
