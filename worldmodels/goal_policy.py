"""A goal-conditioned policy on a world model's frozen latents, learned from the logged
trajectories by hindsight relabelling, as a proposal for the planner.

Each logged frame is paired with the last frame of its episode as the goal that episode
reached, and an MLP regresses the next block of K raw actions (the world model's frame skip)
from the two latent states: goal-conditioned supervised learning (GCSL: Ghosh et al.,
"Learning to Reach Goals via Iterated Supervised Learning", ICLR 2021; the relabelling of
hindsight experience replay, Andrychowicz et al. 2017). No reward and no task: like the
predictor it learns from the trajectories alone. The planner rolls it through the world model
and scores its sequence among the candidates (`planner.policy_prior`), as TD-MPC2 (Hansen,
Su, Wang, ICLR 2024) mixes its policy's trajectories into MPPI's samples: the energy still
decides what is executed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import safetensors.torch
import torch
from torch import Tensor, nn

from worldmodels.atomic import atomic_write
from worldmodels.errors import CheckpointError
from worldmodels.train_loop import TrainConfig, TrainingTask, train_loop
from worldmodels.training_data import EpisodeOrder, FlatEpisodes, last_frames

WEIGHTS_FILE = "policy.safetensors"
CONFIG_FILE = "policy.json"


@dataclass(frozen=True)
class PolicyConfig:
    """Shape of a `GoalPolicy`.

    Attributes:
        n_tokens: P, tokens of a latent state (the proprio token included).
        token_dim: D, their width.
        action_dim: K * A, the raw actions of one world-model block.
        width: hidden width of the MLP.
        depth: hidden layers.
    """

    n_tokens: int
    token_dim: int
    action_dim: int
    width: int = 512
    depth: int = 3


class GoalPolicy(nn.Module):
    """pi(z, z_goal) -> the next block of raw actions: an MLP on both flattened latent states,
    z-scored by the training data's statistics, whose output is un-z-scored by the actions'."""

    def __init__(self, config: PolicyConfig) -> None:
        super().__init__()
        if min(config.n_tokens, config.token_dim, config.action_dim, config.width) < 1:
            raise ValueError(f"PolicyConfig sizes must be >= 1, got {config}")
        if config.depth < 1:
            raise ValueError(f"PolicyConfig.depth must be >= 1, got {config.depth}")
        self.config = config
        n_in = 2 * config.n_tokens * config.token_dim
        layers: list[nn.Module] = []
        for i in range(config.depth):
            layers += [nn.Linear(n_in if i == 0 else config.width, config.width), nn.GELU()]
        self.net = nn.Sequential(*layers, nn.Linear(config.width, config.action_dim))
        self.register_buffer("input_mean", torch.zeros(n_in))
        self.register_buffer("input_std", torch.ones(n_in))
        self.register_buffer("action_mean", torch.zeros(config.action_dim))
        self.register_buffer("action_std", torch.ones(config.action_dim))

    def forward(self, z: Tensor, z_goal: Tensor) -> Tensor:
        """(..., P, D) latent states and broadcastable (..., P, D) goals -> (..., K * A) raw
        actions (not clipped to any bounds)."""
        z, z_goal = torch.broadcast_tensors(z, z_goal)
        x = (torch.cat([z.flatten(-2), z_goal.flatten(-2)], -1) - self.input_mean) / self.input_std
        return self.action_mean + self.action_std * self.net(x)


@dataclass(frozen=True)
class PolicyTrainConfig(TrainConfig):
    """The policy's settings besides the loop's (`TrainConfig`).

    Attributes:
        frameskip: K, raw actions per block: the world model's frame skip.
        width, depth: the MLP's (`PolicyConfig`).
        val_fraction: share of the episodes held out for the logged validation error.
        log_every: steps between log rows.
    """

    frameskip: int = 1
    width: int = 512
    depth: int = 3
    val_fraction: float = 0.05
    log_every: int = 500

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.frameskip < 1:
            raise ValueError(f"frameskip must be >= 1, got {self.frameskip}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must lie in [0, 1), got {self.val_fraction}")


def block_starts(next_index: np.ndarray, frameskip: int) -> tuple[np.ndarray, np.ndarray]:
    """The frames followed by K = ``frameskip`` logged actions of their episode.

    Args:
        next_index: (F,) index of each frame's successor in its episode, -1 at an end.
        frameskip: K >= 1.

    Returns:
        (S,) start frames and (S, K) the frames whose actions make each block.
    """
    chain = [np.arange(len(next_index))]
    for _ in range(frameskip - 1):
        prev = chain[-1]
        chain.append(np.where(prev >= 0, next_index[np.maximum(prev, 0)], -1))
    frames = np.stack(chain, 1)  # (F, K)
    ok = (frames >= 0).all(1) & (next_index[np.maximum(frames[:, -1], 0)] >= 0)
    return np.flatnonzero(ok), frames[ok]


def train_goal_policy(
    z: Tensor,
    data: FlatEpisodes | EpisodeOrder,
    actions: np.ndarray,
    config: PolicyTrainConfig,
    progress: bool = True,
    checkpoint: Path | None = None,
) -> tuple[GoalPolicy, list[dict[str, float]]]:
    """Fits a policy to the logged blocks of actions, each frame's goal its episode's last.

    Args:
        z: (F, P, D) frozen latent state of every frame of ``data``.
        data: the episodes, for their order (``next_index``, ``episode_of``).
        actions: (F, A) raw action taken from each frame.
        config: settings.
        progress: show a progress bar.
        checkpoint: optional training-state file; a run that finds one resumes from it.

    Returns:
        The policy (eval mode, no grad) and log rows (the training MSE of the z-scored
        actions and, with held-out episodes, theirs: ``val_mse``).

    Raises:
        ValueError: when the sizes disagree or no frame is followed by a whole block.
    """
    n_frames = len(data.next_index)
    if z.shape[0] != n_frames or len(actions) != n_frames:
        raise ValueError(
            f"z holds {z.shape[0]} frames and actions {len(actions)}, the data {n_frames}"
        )
    starts, frames = block_starts(np.asarray(data.next_index), config.frameskip)
    if len(starts) == 0:
        raise ValueError(f"no episode is longer than one block of {config.frameskip} actions")
    torch.manual_seed(config.seed)
    goal_of = torch.as_tensor(last_frames(np.asarray(data.episode_of)), device=z.device)
    blocks = torch.as_tensor(actions[frames].reshape(len(starts), -1), device=z.device)
    starts_t = torch.as_tensor(starts, device=z.device)
    rng = np.random.default_rng(config.seed)
    episodes = np.unique(data.episode_of)
    n_val = int(config.val_fraction * len(episodes))
    held_out = np.isin(data.episode_of[starts], rng.choice(episodes, n_val, replace=False))
    pool, val = np.flatnonzero(~held_out), np.flatnonzero(held_out)[:4096]

    policy = GoalPolicy(
        PolicyConfig(z.shape[1], z.shape[2], blocks.shape[1], config.width, config.depth)
    ).to(z.device)
    inputs = torch.cat([z[starts_t].flatten(1), z[goal_of[starts_t]].flatten(1)], 1)
    policy.input_mean.copy_(inputs[pool].mean(0))
    policy.input_std.copy_(inputs[pool].std(0).clamp_min(1e-6))
    policy.action_mean.copy_(blocks[pool].mean(0))
    policy.action_std.copy_(blocks[pool].std(0).clamp_min(1e-6))

    def mse(module: nn.Module, rows: Tensor) -> Tensor:
        s = starts_t[rows]
        predicted = module(z[s], z[goal_of[s]])
        return ((predicted - blocks[rows]) / policy.action_std).square().mean()

    def loss(module: nn.Module, batch: np.ndarray) -> tuple[Tensor, dict[str, float]]:
        return mse(module, torch.as_tensor(batch, device=z.device)), {}

    def evaluate(_: np.ndarray) -> dict[str, float]:
        if len(val) == 0:
            return {}
        return {"val_mse": mse(policy, torch.as_tensor(val, device=z.device)).item()}

    task = TrainingTask("train goal policy", policy, pool, loss, evaluate, config.log_every)
    log = train_loop(config, task, rng, progress, checkpoint)
    return policy.eval().requires_grad_(False), log


def save_goal_policy(policy: GoalPolicy, directory: str | Path, extra: dict | None = None) -> None:
    """Writes ``policy.safetensors`` and ``policy.json`` (its config and ``extra``)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in policy.state_dict().items()}
    atomic_write(
        directory / WEIGHTS_FILE, lambda tmp: safetensors.torch.save_file(tensors, str(tmp))
    )
    meta = {"format": "wmplan-goal-policy", "version": 1,
            "policy": asdict(policy.config), "extra": extra or {}}  # fmt: skip
    atomic_write(directory / CONFIG_FILE, lambda tmp: tmp.write_text(json.dumps(meta, indent=2)))


def load_goal_policy(directory: str | Path, device: str | torch.device = "cpu") -> GoalPolicy:
    """The policy saved by `save_goal_policy` (eval mode, no grad).

    Raises:
        FileNotFoundError: a file is missing.
        CheckpointError: the config or the weights are unreadable or do not match.
    """
    directory = Path(directory)
    config_path, weights_path = directory / CONFIG_FILE, directory / WEIGHTS_FILE
    for path in (config_path, weights_path):
        if not path.is_file():
            raise FileNotFoundError(f"goal-policy file not found: {path}")
    try:
        policy = GoalPolicy(PolicyConfig(**json.loads(config_path.read_text())["policy"]))
        policy.load_state_dict(safetensors.torch.load_file(weights_path), strict=True)
    except (
        KeyError,
        TypeError,
        ValueError,
        RuntimeError,
        OSError,
        safetensors.SafetensorError,
    ) as err:
        raise CheckpointError(config_path, "policy", f"does not load: {err}") from err
    if not all(torch.isfinite(t).all() for t in policy.state_dict().values()):
        raise CheckpointError(weights_path, "weights", "hold NaN or inf")
    return policy.to(device).eval().requires_grad_(False)
