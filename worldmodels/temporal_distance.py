"""Temporal distance: an embedding of latent states whose Euclidean distance counts the steps
between them along the shortest way the logged trajectories know.

The goal distance in the encoder's latent space measures how different two frames look: in a
maze it ranks positions across the walls, and a planner that minimises it stalls in dead ends.
HILP (Park, Kreiman, Levine, "Foundation Policies with Hilbert Representations", ICML 2024)
learns an embedding phi with a goal-conditioned value V(s, g) = -||phi(s) - phi(g)||, fitted by
IQL's expectile regression (Kostrikov, Nair, Levine, "Offline Reinforcement Learning with
Implicit Q-Learning", ICLR 2022) towards -1 + gamma V'(s', g) (0 once g is s itself), with V'
a slowly moving copy. The upper expectile keeps the shortest of the logged ways. Goals are the
state itself, a later state of its episode (geometric offset) or any state. No reward and no
task: like the predictor it learns from the trajectories alone, here on the frozen latent
states of a world model. `planner.energy.TemporalDistance` is its energy term.
"""

from __future__ import annotations

import copy
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

WEIGHTS_FILE = "head.safetensors"
CONFIG_FILE = "head.json"


@dataclass(frozen=True)
class HeadConfig:
    """Shape of a `TemporalDistanceHead`.

    Attributes:
        token_dim: D, the latent tokens' width.
        tokens: indices of the frame's tokens the head reads (-1: the proprio token last).
        width: hidden width of the MLP.
        dim: dimension of the embedding phi.
    """

    token_dim: int
    tokens: tuple[int, ...] = (-1,)
    width: int = 256
    dim: int = 32


class TemporalDistanceHead(nn.Module):
    """phi: an MLP on some tokens of a latent state; distance = ||phi(a) - phi(b)||."""

    def __init__(self, config: HeadConfig) -> None:
        super().__init__()
        if not config.tokens:
            raise ValueError("HeadConfig.tokens must name at least one token")
        self.config = config
        width, n_in = config.width, len(config.tokens) * config.token_dim
        self.net = nn.Sequential(
            nn.Linear(n_in, width), nn.LayerNorm(width), nn.GELU(),
            nn.Linear(width, width), nn.LayerNorm(width), nn.GELU(),
            nn.Linear(width, config.dim),
        )  # fmt: skip

    def forward(self, z: Tensor) -> Tensor:
        """(..., P, D) latent states -> (..., dim) embeddings."""
        return self.net(z[..., list(self.config.tokens), :].flatten(-2))

    def distance(self, a: Tensor, b: Tensor) -> Tensor:
        """(..., P, D) and (broadcastable) (..., P, D) -> (...) steps from one to the other."""
        return (self(a) - self(b)).norm(dim=-1)


@dataclass(frozen=True)
class TemporalDistanceTrainConfig(TrainConfig):
    """HILP's settings besides the loop's (`TrainConfig`).

    Attributes:
        tokens, width, dim: the head's (`HeadConfig`).
        gamma: discount; distances saturate near 1 / (1 - gamma) steps.
        expectile: IQL's tau; above 0.5 the fit leans to the shortest logged way.
        target_ema: step of the target copy towards the trained head after each update.
        p_current, p_future: shares of goals that are the state itself and a later state of
            its episode; the rest are random states.
        log_every: steps between log rows.
    """

    tokens: tuple[int, ...] = (-1,)
    width: int = 256
    dim: int = 32
    gamma: float = 0.99
    expectile: float = 0.95
    target_ema: float = 0.005
    p_current: float = 0.2
    p_future: float = 0.5
    log_every: int = 500

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "tokens", tuple(int(t) for t in self.tokens))  # hydra: a list
        if not self.tokens:
            raise ValueError("tokens must name at least one token")
        if not 0.0 < self.gamma < 1.0:
            raise ValueError(f"gamma must lie in (0, 1), got {self.gamma}")
        if not 0.5 <= self.expectile < 1.0:
            raise ValueError(f"expectile must lie in [0.5, 1), got {self.expectile}")
        if not 0.0 < self.target_ema <= 1.0:
            raise ValueError(f"target_ema must lie in (0, 1], got {self.target_ema}")
        if min(self.p_current, self.p_future) < 0 or self.p_current + self.p_future > 1:
            raise ValueError(
                f"p_current and p_future must be >= 0 with a sum <= 1, got {self.p_current} "
                f"and {self.p_future}"
            )


def train_temporal_distance(
    z: Tensor,
    data: FlatEpisodes | EpisodeOrder,
    config: TemporalDistanceTrainConfig,
    progress: bool = True,
    checkpoint: Path | None = None,
) -> tuple[TemporalDistanceHead, list[dict[str, float]]]:
    """Fits a head to the logged trajectories' temporal distances (HILP, module docstring).

    Args:
        z: (F, P, D) frozen latent state of every frame of ``data`` (``encode_frames`` or
            ``encode_episodes``).
        data: the episodes, for their order (``next_index``, ``episode_of``).
        config: settings.
        progress: show a progress bar.
        checkpoint: optional training-state file; a run that finds one resumes from it.

    Returns:
        The head (eval mode, no grad) and log rows (loss, the mean distance of one logged
        step and of random pairs of states).
    """
    if z.shape[0] != len(data.next_index):
        raise ValueError(f"z holds {z.shape[0]} frames, the data {len(data.next_index)}")
    torch.manual_seed(config.seed)
    head_config = HeadConfig(z.shape[-1], tuple(config.tokens), config.width, config.dim)
    head = TemporalDistanceHead(head_config).to(z.device)
    target = copy.deepcopy(head).requires_grad_(False)
    model = nn.ModuleDict({"head": head, "target": target})
    generator = torch.Generator().manual_seed(config.seed)
    next_index = torch.as_tensor(data.next_index)
    last = torch.as_tensor(last_frames(data.episode_of))
    n_frames = len(next_index)

    def goals(frames: Tensor) -> Tensor:
        u = torch.rand(len(frames), generator=generator)
        offset = (
            torch.floor(
                torch.log(torch.rand(len(frames), generator=generator)) / np.log(config.gamma)
            ).long()
            + 1
        )  # geometric, >= 1
        future = torch.minimum(frames + offset, last[frames])
        anywhere = torch.randint(n_frames, (len(frames),), generator=generator)
        goal = torch.where(u < config.p_current + config.p_future, future, anywhere)
        return torch.where(u < config.p_current, frames, goal)

    def loss(module: nn.Module, batch: np.ndarray) -> tuple[Tensor, dict[str, float]]:
        frames = torch.as_tensor(batch)
        goal = goals(frames)
        s, s_next, g = z[frames], z[next_index[frames]], z[goal]
        with torch.no_grad():
            reached = goal == frames
            bootstrap = -1.0 - config.gamma * target.distance(s_next, g)
            q = torch.where(reached.to(z.device), torch.zeros_like(bootstrap), bootstrap)
        adv = q + module["head"].distance(s, g)
        weight = torch.where(adv > 0, config.expectile, 1.0 - config.expectile)
        return (weight * adv.square()).mean(), {}

    def evaluate(batch: np.ndarray) -> dict[str, float]:
        frames = torch.as_tensor(batch)
        others = torch.randint(n_frames, (len(frames),), generator=torch.Generator())
        return {
            "step_distance": head.distance(z[frames], z[next_index[frames]]).mean().item(),
            "random_pair_distance": head.distance(z[frames], z[others]).mean().item(),
        }

    def update_target(_: int) -> None:
        with torch.no_grad():
            for t, p in zip(target.parameters(), head.parameters(), strict=True):
                t.lerp_(p, config.target_ema)

    pool = np.flatnonzero(data.next_index >= 0)
    task = TrainingTask(
        "train temporal distance", model, pool, loss, evaluate, log_every=config.log_every,
        after_step=update_target, generators={"goals": generator},
    )  # fmt: skip
    log = train_loop(config, task, np.random.default_rng(config.seed), progress, checkpoint)
    return head.eval().requires_grad_(False), log


def save_temporal_distance(
    head: TemporalDistanceHead, directory: str | Path, extra: dict | None = None
) -> None:
    """Writes ``head.safetensors`` and ``head.json`` (its config and ``extra``) to ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in head.state_dict().items()}
    atomic_write(
        directory / WEIGHTS_FILE, lambda tmp: safetensors.torch.save_file(tensors, str(tmp))
    )
    meta = {"format": "wmplan-temporal-distance", "version": 1,
            "head": asdict(head.config), "extra": extra or {}}  # fmt: skip
    atomic_write(directory / CONFIG_FILE, lambda tmp: tmp.write_text(json.dumps(meta, indent=2)))


def load_temporal_distance(
    directory: str | Path, device: str | torch.device = "cpu"
) -> TemporalDistanceHead:
    """The head saved by `save_temporal_distance` (eval mode, no grad).

    Raises:
        FileNotFoundError: a file is missing.
        CheckpointError: the config or the weights are unreadable or do not match.
    """
    directory = Path(directory)
    config_path, weights_path = directory / CONFIG_FILE, directory / WEIGHTS_FILE
    for path in (config_path, weights_path):
        if not path.is_file():
            raise FileNotFoundError(f"temporal-distance head file not found: {path}")
    try:
        raw = json.loads(config_path.read_text())["head"]
        config = HeadConfig(**{**raw, "tokens": tuple(raw["tokens"])})
        head = TemporalDistanceHead(config)
        head.load_state_dict(safetensors.torch.load_file(weights_path), strict=True)
    except (KeyError, TypeError, ValueError, RuntimeError, OSError) as err:
        raise CheckpointError(config_path, "head", f"does not load: {err}") from err
    return head.to(device).eval().requires_grad_(False)
