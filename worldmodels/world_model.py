"""The world model: a frozen image encoder plus a latent dynamics predictor.

``encode`` turns pixels into a small grid of patch tokens (the encoder's patch
tokens average-pooled by ``pool``; the documented reduction that keeps planning
cheap on CPU), and ``rollout`` predicts the tokens of future frames under
candidate action sequences, autoregressively, with a sliding window of the
last ``num_hist`` frames as context (DINO-WM's history).

A model whose predictor takes proprioception (``proprio_dim > 0``) appends a
proprio token to each frame's visual tokens (see ``worldmodels.predictor``):
the z-scored proprioceptive vector times ``proprio_scale``, zero-padded to D.
Its squared error in a goal distance thus weighs ``proprio_scale**2`` per
z-scored unit against one visual-token entry (DINO-WM's proprio weight).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from worldmodels.predictor import LatentPredictor
from worldmodels.vit import DinoVisionTransformer, imagenet_normalize


def pool_patch_tokens(tokens: torch.Tensor, grid: tuple[int, int], pool: int) -> torch.Tensor:
    """Average-pool a patch-token grid.

    Args:
        tokens: (B, h*w, D) patch tokens in row-major grid order.
        grid: (h, w) patch grid.
        pool: pooling factor; 1 keeps every token.

    Returns:
        (B, (h//pool)*(w//pool), D).
    """
    if pool == 1:
        return tokens
    B, _, D = tokens.shape
    h, w = grid
    x = tokens.transpose(1, 2).reshape(B, D, h, w)
    return F.avg_pool2d(x, pool).flatten(2).transpose(1, 2)


def _check_statistics(name: str, mean: torch.Tensor, std: torch.Tensor, dim: int) -> None:
    """Raise a ValueError naming the shapes or values received unless ``mean`` and ``std`` are
    (dim,), finite, and ``std`` positive."""
    if mean.shape != (dim,) or std.shape != (dim,):
        raise ValueError(
            f"{name} statistics must have shape ({dim},), got "
            f"{tuple(mean.shape)} and {tuple(std.shape)}"
        )
    if not (mean.isfinite().all() and std.isfinite().all() and (std > 0).all()):
        raise ValueError(
            f"{name} statistics must be finite with std > 0, got mean {mean.tolist()} and "
            f"std {std.tolist()}"
        )


class WorldModel(nn.Module):
    """Frozen encoder + predictor, with action normalisation statistics.

    Args:
        encoder: DINOv2-architecture ViT, used frozen.
        predictor: latent dynamics predictor over pooled tokens.
        image_size: side of the square images the model takes.
        pool: average-pooling factor on the patch grid.
        num_hist: frames of context the rollout keeps.
        action_mean, action_std: (A,) statistics used to z-score actions.
        proprio_mean, proprio_std: (p,) statistics used to z-score proprioception; required
            when the predictor takes it (``predictor.config.proprio_dim > 0``).
        proprio_scale: factor on the z-scored proprioception in the proprio token.
        frameskip: K, environment steps per predicted frame: an action of the model is a block
            of K raw environment actions, time-major (DINO-WM's frame skip), so the
            predictor's action dim is K times the environment's. 1: one step per frame.
    """

    def __init__(
        self,
        encoder: DinoVisionTransformer,
        predictor: LatentPredictor,
        image_size: int,
        pool: int,
        num_hist: int,
        action_mean: torch.Tensor,
        action_std: torch.Tensor,
        proprio_mean: torch.Tensor | None = None,
        proprio_std: torch.Tensor | None = None,
        proprio_scale: float = 1.0,
        frameskip: int = 1,
    ) -> None:
        super().__init__()
        grid = encoder.patch_grid(image_size, image_size)
        if grid[0] % pool or grid[1] % pool:
            raise ValueError(f"pool={pool} does not divide the {grid} patch grid")
        n_tokens = (grid[0] // pool) * (grid[1] // pool)  # visual
        if n_tokens != predictor.config.n_tokens:
            raise ValueError(
                f"encoder gives {n_tokens} pooled tokens, predictor expects "
                f"{predictor.config.n_tokens}"
            )
        if not 1 <= num_hist <= predictor.config.max_frames:
            raise ValueError(
                f"num_hist must be in [1, {predictor.config.max_frames}], got {num_hist}"
            )
        action_dim = predictor.config.action_dim
        if frameskip < 1 or action_dim % frameskip:
            raise ValueError(
                f"frameskip must be >= 1 and divide the predictor's action dim ({action_dim}), "
                f"got {frameskip}"
            )
        _check_statistics("action", action_mean, action_std, action_dim)
        self.encoder = encoder.eval().requires_grad_(False)
        self.predictor = predictor
        self.image_size = image_size
        self.grid = grid
        self.pool = pool
        self.num_hist = num_hist
        self.frameskip = frameskip
        self.register_buffer("action_mean", action_mean.float().clone())
        self.register_buffer("action_std", action_std.float().clone())
        p = predictor.config.proprio_dim
        if p:
            if proprio_mean is None or proprio_std is None:
                raise ValueError(
                    f"a predictor taking proprio (p={p}) needs proprio_mean and proprio_std, "
                    f"got proprio_mean={proprio_mean!r} and proprio_std={proprio_std!r}"
                )
            _check_statistics("proprio", proprio_mean, proprio_std, p)
            self.register_buffer("proprio_mean", proprio_mean.float().clone())
            self.register_buffer("proprio_std", proprio_std.float().clone())
        self.proprio_scale = proprio_scale
        # (..., P, D) -> steps apart: `worldmodels.temporal_distance`, set by the loader
        self.temporal_distance: nn.Module | None = None
        # (z, z_goal) -> a block of raw actions: `worldmodels.goal_policy`, set by the loader
        self.goal_policy: nn.Module | None = None
        # further predictors of the same dynamics (`planner.ensemble.EnsembleDisagreement`),
        # set by the loader from the checkpoint's ensemble/ (a tuple: not submodules)
        self.ensemble: tuple[WorldModel, ...] = ()

    @property
    def device(self) -> torch.device:
        return self.action_mean.device

    @property
    def action_dim(self) -> int:
        """K * A: the dim of one model action, a block of ``frameskip`` raw actions."""
        return self.predictor.config.action_dim

    @property
    def env_action_dim(self) -> int:
        """A: the dim of one raw environment action."""
        return self.action_dim // self.frameskip

    @property
    def latent_action_dim(self) -> int:
        """d, the latent macro-actions of a high-level model; 0 for raw actions only."""
        return self.predictor.config.latent_action_dim

    @property
    def proprio_dim(self) -> int:
        """p: the proprioception the model takes (0: pixels only)."""
        return self.predictor.config.proprio_dim

    def visual_tokens(self, z: torch.Tensor) -> torch.Tensor:
        """The visual tokens (..., P_visual, D) of latent states (..., P, D)."""
        return z[..., : self.predictor.config.n_tokens, :]

    def normalize_actions(self, actions: torch.Tensor) -> torch.Tensor:
        """z-score actions (..., A) with the training statistics."""
        return (actions - self.action_mean) / self.action_std

    def _as_images(self, pixels: torch.Tensor) -> torch.Tensor:
        """(B, T, H, W, 3) or (B, T, 3, H, W), uint8 or float in [0, 1] -> (B*T, 3, H, W) float."""
        pixels = torch.as_tensor(pixels, device=self.device)
        if pixels.ndim != 5:
            raise ValueError(
                f"pixels must be (B, T, H, W, 3) or (B, T, 3, H, W), got {tuple(pixels.shape)}"
            )
        if pixels.shape[-1] == 3 and pixels.shape[2] != 3:
            pixels = pixels.permute(0, 1, 4, 2, 3)
        if pixels.shape[2:] != (3, self.image_size, self.image_size):
            raise ValueError(
                f"images must be {self.image_size}x{self.image_size} RGB for this world model, "
                f"got pixels of shape {tuple(pixels.shape)}"
            )
        images = pixels.float() / 255.0 if pixels.dtype == torch.uint8 else pixels.float()
        return images.flatten(0, 1)

    @torch.no_grad()
    def encode(self, pixels: torch.Tensor, proprio: torch.Tensor | None = None) -> torch.Tensor:
        """Encode frames with the frozen encoder.

        Args:
            pixels: (B, T, H, W, 3) or (B, T, 3, H, W), uint8 or float in [0, 1].
            proprio: (B, T, p) raw proprioception; required when the model takes it
                (``proprio_dim > 0``), ignored otherwise.

        Returns:
            z: (B, T, P, D) pooled patch tokens, then the proprio token if the model has one.
        """
        B, T = pixels.shape[:2]
        images = imagenet_normalize(self._as_images(pixels))
        tokens = self.encoder.forward_features(images)["x_norm_patchtokens"]
        z = pool_patch_tokens(tokens, self.grid, self.pool).unflatten(0, (B, T))
        if not self.proprio_dim:
            return z
        if proprio is None:
            raise ValueError(
                f"this world model takes proprioception ({self.proprio_dim} values per frame); "
                "pass proprio (B, T, p) with the pixels"
            )
        proprio = torch.as_tensor(proprio, dtype=torch.float32, device=self.device)
        if proprio.shape != (B, T, self.proprio_dim):
            raise ValueError(
                f"proprio must be (B, T, p) = {(B, T, self.proprio_dim)}, "
                f"got {tuple(proprio.shape)}"
            )
        scaled = self.proprio_scale * (proprio - self.proprio_mean) / self.proprio_std
        token = F.pad(scaled, (0, z.shape[-1] - self.proprio_dim))[:, :, None]  # (B, T, 1, D)
        return torch.cat([z, token], dim=2)

    def rollout(
        self,
        z_hist: torch.Tensor,
        actions: torch.Tensor,
        past_actions: torch.Tensor | None = None,
        use_cache: bool = True,
        latent_actions: bool = False,
    ) -> torch.Tensor:
        """Predict future tokens for N candidate action sequences per problem.

        The last history frame is the current one and takes the first candidate
        action. Earlier history frames are used only when ``past_actions`` says
        which actions led from each to the next; without them the rollout starts
        from the current frame alone. Predicted frames then fill a sliding
        context window of ``num_hist`` frames.

        When the window never slides (T + H - 1 <= num_hist), the rollout uses a
        key-value cache (`LatentPredictor.extend`): the T - 1 earlier history frames
        are computed once per problem and shared by all N candidates, and each step
        computes only the newest frame. The result equals the uncached rollout.

        With ``frameskip`` K > 1, a frame is K environment steps and A = K * (raw action
        dim): each action is a block of K raw actions, time-major.

        Args:
            z_hist: (B, T, P, D) encoded history, last entry the current frame.
            actions: (B, N, H, A) raw (environment-scale) candidate actions.
            past_actions: optional (B, T-1, A) raw actions taken between history frames.
            use_cache: use the key-value cache where it is exact.
            latent_actions: ``actions`` and ``past_actions`` are latent macro-actions
                (B, N, H, d) in [-1, 1]^d of a high-level model (``latent_action_dim`` d of
                its predictor), given to the predictor as they are (no normalisation).

        Returns:
            (B, N, H, P, D) predicted tokens after each action.
        """
        B, N, H, A = actions.shape
        expected = self.latent_action_dim if latent_actions else self.action_dim
        if latent_actions and not expected:
            raise ValueError("latent actions given to a world model without latent actions")
        if expected != A:
            kind = "latent actions" if latent_actions else "actions"
            raise ValueError(f"{kind} have dim {A}, world model expects {expected}")
        normalize = (lambda a: a) if latent_actions else self.normalize_actions
        if z_hist.ndim != 4 or z_hist.shape[0] != B:
            raise ValueError(f"z_hist must be (B={B}, T, P, D), got {tuple(z_hist.shape)}")
        T, P, D = z_hist.shape[1:]
        if past_actions is None:
            z_hist, T = z_hist[:, -1:], 1
            past_actions = actions.new_zeros(B, 0, A)
        elif past_actions.shape != (B, T - 1, A):
            raise ValueError(
                f"past_actions must be (B, T-1, A) = {(B, T - 1, A)}, "
                f"got {tuple(past_actions.shape)}"
            )
        act = normalize(actions).reshape(B * N, H, A)
        if use_cache and self.num_hist >= T + H - 1:
            preds = self._rollout_cached(z_hist, normalize(past_actions), act, latent_actions)
            return preds.view(B, N, H, P, D)
        # every candidate starts from the same history
        ctx_z = z_hist[:, None].expand(B, N, T, P, D).reshape(B * N, T, P, D)
        ctx_a = normalize(past_actions)[:, None].expand(B, N, T - 1, A)
        ctx_a = ctx_a.reshape(B * N, T - 1, A)
        preds = []
        for h in range(H):
            window_z = ctx_z[:, -self.num_hist :]
            window_a = torch.cat([ctx_a, act[:, h : h + 1]], dim=1)[:, -self.num_hist :]
            z_next = self.predictor(window_z, window_a, latent_actions)[:, -1]  # (B*N, P, D)
            preds.append(z_next)
            ctx_z = torch.cat([window_z, z_next[:, None]], dim=1)
            ctx_a = window_a
        return torch.stack(preds, dim=1).view(B, N, H, P, D)

    def _rollout_cached(
        self,
        z_hist: torch.Tensor,
        past_actions: torch.Tensor,
        actions: torch.Tensor,
        latent_actions: bool = False,
    ) -> torch.Tensor:
        """The rollout through the key-value cache.

        Args:
            z_hist: (B, T, P, D) history.
            past_actions: (B, T-1, A) normalised actions between history frames.
            actions: (B*N, H, A) normalised candidate actions, candidates of a problem adjacent.
            latent_actions: the actions are latent macro-actions (d entries).

        Returns:
            (B*N, H, P, D) predictions.
        """
        B, T, P, D = z_hist.shape
        N = actions.shape[0] // B
        cache = None
        if T > 1:  # history shared by the candidates: once per problem
            _, cache = self.predictor.extend(z_hist[:, :-1], past_actions, None, latent_actions)
            cache = [(k.repeat_interleave(N, 0), v.repeat_interleave(N, 0)) for k, v in cache]
        z = z_hist[:, -1:].repeat_interleave(N, 0)  # (B*N, 1, P, D)
        preds = []
        for h in range(actions.shape[1]):
            z, cache = self.predictor.extend(z, actions[:, h : h + 1], cache, latent_actions)
            preds.append(z[:, 0])
        return torch.stack(preds, dim=1)

    @torch.no_grad()
    def surprise(self, z: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Per-step prediction error against the observed next frame.

        The model's surprise in the sense of V-JEPA's intuitive-physics probe (Garrido et al.
        2025, "Intuitive physics understanding emerges from self-supervised pretraining on
        natural videos"): frame t+1 is predicted from the observed frames up to t (the last
        ``num_hist`` of them, fewer at the start) and the actions taken, and compared with
        its encoding. An object that teleports, or any event the dynamics cannot produce,
        shows as a spike.

        Args:
            z: (B, T, P, D) encodings of T >= 2 consecutive observations.
            actions: (B, T-1, A) raw actions taken between them.

        Returns:
            (B, T-1) mean squared error over tokens and dimensions; entry t is the error of
            the prediction of frame t+1.
        """
        B, T, P, D = z.shape
        if T < 2 or actions.shape != (B, T - 1, self.action_dim):
            raise ValueError(
                f"need z (B, T>=2, P, D) and actions (B, T-1, A) = ({B}, {T - 1}, "
                f"{self.action_dim}), got {tuple(z.shape)} and {tuple(actions.shape)}"
            )
        a = self.normalize_actions(actions)  # (B, T-1, A)
        W = self.num_hist
        errors = []
        # The first W-1 predictions see fewer than W frames: one call each.
        for t in range(min(W - 1, T - 1)):
            pred = self.predictor(z[:, : t + 1], a[:, : t + 1])[:, -1]  # (B, P, D)
            errors.append((pred - z[:, t + 1]).square().mean(dim=(1, 2))[:, None])
        # The rest see full windows of W frames: all in one batched call.
        if T - 1 >= W:
            windows_z = z[:, : T - 1].unfold(1, W, 1).permute(0, 1, 4, 2, 3)  # (B, S, W, P, D)
            windows_a = a.unfold(1, W, 1).transpose(2, 3)  # (B, S, W, A)
            S = windows_z.shape[1]
            pred = self.predictor(windows_z.flatten(0, 1), windows_a.flatten(0, 1))[:, -1]
            target = z[:, W:]  # (B, S, P, D)
            errors.append((pred.view(B, S, P, D) - target).square().mean(dim=(2, 3)))
        return torch.cat(errors, dim=1)
