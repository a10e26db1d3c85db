"""DINO self-distillation (Caron et al. 2021, "Emerging Properties in Self-Supervised
Vision Transformers"), the objective DINOv2 (Oquab et al. 2023) builds on.

A student (the encoder being trained plus a projection head) matches the output
distribution of a teacher over ``out_dim`` prototypes. The teacher is an
exponential moving average of the student and sees only the global crops; the
student sees global and local crops (multi-crop), so it learns local-to-global
correspondences. Collapse is countered by centering the teacher's outputs and
sharpening them with a low temperature. Centering is either DINO's running mean
of the logits (``centering="ema"``, momentum ``center_momentum``) or, by default,
the Sinkhorn-Knopp balancing DINOv2 uses (from SwAV). As in DINOv2, an iBOT term
(Zhou et al. 2022) makes masked student patch tokens predict the teacher's
patch tokens (``ibot_weight``; 0 gives DINO alone).

Measured limits, on the point maze's frames (one small ball on a fixed maze):
with DINOv2's LayerScale 1e-5 and Sinkhorn centering the image-level teacher
stays uniform (entropy log K): the cls token barely depends on the image. With
LayerScale 1.0, running-mean centering and milder crops it sharpens, but every
image gets the same distribution (per-sample entropy = marginal entropy, about
1.3 of log 256 after 1500 steps): the image-level term collapses to a constant,
while the iBOT patch targets differ across patches (0.5 against 1.8). The
resulting encoder plans better than a random one (0.47 against 0.37 success)
and far worse than VICReg's (0.97), which the bundled encoder uses
(:mod:`worldmodels.vicreg`).
After training, the teacher's backbone is the encoder kept, as in the paper.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from worldmodels.augment import augment
from worldmodels.multicrop import random_resized_crops
from worldmodels.vit import DinoVisionTransformer, imagenet_normalize


@dataclass(frozen=True)
class DINOConfig:
    """Settings of the DINO objective; checks itself."""

    out_dim: int = 1024  # prototypes (65536 in the paper, for ImageNet)
    hidden_dim: int = 512
    bottleneck_dim: int = 128
    student_temp: float = 0.1
    teacher_temp: float = 0.04
    centering: str = "sinkhorn"  # "sinkhorn" (DINOv2) or "ema" (DINO's running mean)
    center_momentum: float = 0.9  # "ema" centering only
    teacher_momentum: float = 0.996  # start of the cosine schedule to 1.0
    n_local_crops: int = 4
    global_scale: tuple[float, float] = (0.5, 1.0)
    local_scale: tuple[float, float] = (0.1, 0.4)
    local_size_ratio: float = 0.5  # local crop side / image side, rounded to whole patches
    ibot_weight: float = 1.0  # masked patch-token loss (iBOT, as in DINOv2); 0: DINO alone
    mask_ratio: tuple[float, float] = (0.1, 0.5)  # share of student patches masked, per image

    def __post_init__(self) -> None:
        for name in ("out_dim", "hidden_dim", "bottleneck_dim"):
            if getattr(self, name) < 1:
                raise ValueError(f"DINOConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.centering not in ("sinkhorn", "ema"):
            raise ValueError(
                f"DINOConfig.centering must be 'sinkhorn' or 'ema', got {self.centering!r}"
            )
        if self.n_local_crops < 0:
            raise ValueError(f"DINOConfig.n_local_crops must be >= 0, got {self.n_local_crops}")
        if self.teacher_temp <= 0 or self.student_temp <= 0:
            raise ValueError(
                "DINOConfig.teacher_temp and student_temp must be > 0, got "
                f"{self.teacher_temp}, {self.student_temp}"
            )
        for name in ("center_momentum", "teacher_momentum"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"DINOConfig.{name} must be in [0, 1), got {getattr(self, name)}")
        if not 0 < self.local_size_ratio <= 1:
            raise ValueError(
                f"DINOConfig.local_size_ratio must be in (0, 1], got {self.local_size_ratio}"
            )


class DINOHead(nn.Module):
    """Projection head: 3-layer MLP, l2-normalised bottleneck, weight-normalised prototypes.

    Args:
        in_dim: backbone embedding dim D.
        out_dim: number of prototypes K.
    """

    def __init__(self, in_dim: int, out_dim: int, hidden_dim: int, bottleneck_dim: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(in_dim, hidden_dim),
            nn.GELU(),
            nn.Linear(hidden_dim, hidden_dim),
            nn.GELU(),
            nn.Linear(hidden_dim, bottleneck_dim),
        )
        self.last_layer = weight_norm(nn.Linear(bottleneck_dim, out_dim, bias=False))
        # the paper fixes the prototypes' norm to 1 (norm_last_layer=True)
        self.last_layer.parametrizations.weight.original0.data.fill_(1.0)
        self.last_layer.parametrizations.weight.original0.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, D) -> (B, K) logits."""
        return self.last_layer(F.normalize(self.mlp(x), dim=-1))


@torch.no_grad()
def sinkhorn_knopp(logits: torch.Tensor, temperature: float, n_iters: int = 3) -> torch.Tensor:
    """Teacher targets balanced over the batch (SwAV, Caron et al. 2020; DINOv2's centering).

    Alternately normalises the prototype marginals to 1/K and the sample marginals
    to 1/B, so every prototype is used equally often within the batch: neither a
    single prototype nor the uniform distribution can win.

    Args:
        logits: (B, K) teacher logits.

    Returns:
        (B, K) target distributions (rows sum to 1).
    """
    q = torch.exp((logits - logits.max()) / temperature).T  # (K, B)
    q /= q.sum()
    K, B = q.shape
    for _ in range(n_iters):
        q /= q.sum(dim=1, keepdim=True) * K
        q /= q.sum(dim=0, keepdim=True) * B
    return (q * B).T


def centred_targets(logits: torch.Tensor, center: torch.Tensor, temperature: float) -> torch.Tensor:
    """DINO's teacher targets: softmax of the logits (B, K) minus a running mean (K,)."""
    return F.softmax((logits - center) / temperature, dim=-1)


def dino_loss(
    student: list[torch.Tensor], targets: list[torch.Tensor], student_temp: float
) -> torch.Tensor:
    """Cross-entropy between teacher targets and student distributions.

    Every teacher view is compared with every student view except its own.

    Args:
        student: V tensors (B, K) of student logits; the first len(targets) are the
            global views, in the teacher's order.
        targets: G tensors (B, K) of teacher distributions (no gradient).

    Returns:
        Scalar loss averaged over the compared pairs.
    """
    log_probs = [F.log_softmax(s / student_temp, dim=-1) for s in student]
    losses = [
        -(q * log_p).sum(-1).mean()
        for i, q in enumerate(targets)
        for v, log_p in enumerate(log_probs)
        if v != i
    ]
    return torch.stack(losses).mean()


def _entropies(targets: torch.Tensor, prefix: str) -> dict[str, float]:
    """Collapse diagnostics of target distributions (M, K): mean entropy and that of their mean.

    Collapse to one prototype drives both to 0; collapse to the uniform drives the
    per-sample entropy to log K. A healthy teacher is sharp per sample (low) and
    uses many prototypes over the batch (marginal near log K).
    """
    entropy = -(targets * torch.log(targets + 1e-12)).sum(-1).mean()
    marginal = targets.mean(0)
    marginal_entropy = -(marginal * torch.log(marginal + 1e-12)).sum()
    return {
        f"{prefix}_entropy": entropy.item(),
        f"{prefix}_marginal_entropy": marginal_entropy.item(),
    }


class DINOObjective(nn.Module):
    """DINO on one encoder: owns the student head, the EMA teacher and the center.

    Args:
        encoder: the student backbone, trained by the caller's optimiser.
        config: DINO settings.
        image_size: side of the (square) training frames.
    """

    def __init__(self, encoder: DinoVisionTransformer, config: DINOConfig, image_size: int) -> None:
        super().__init__()
        self.config = config
        self.image_size = image_size
        patch = encoder.patch_size
        self.local_size = max(patch, round(image_size * config.local_size_ratio / patch) * patch)
        self.head = DINOHead(
            encoder.embed_dim, config.out_dim, config.hidden_dim, config.bottleneck_dim
        )
        self.teacher = copy.deepcopy(encoder).requires_grad_(False)
        self.teacher_head = copy.deepcopy(self.head).requires_grad_(False)
        self.register_buffer("center", torch.zeros(config.out_dim))

    def loss(
        self,
        encoder: DinoVisionTransformer,
        first: torch.Tensor,
        second: torch.Tensor,
        generator: torch.Generator,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """DINO loss of one batch of positive pairs.

        Args:
            encoder: the student backbone.
            first, second: (B, 3, S, S) images in [0, 1]; the two global crops are
                taken one from each, the local crops from ``first``.
            generator: random source of the crops and jitter.

        Returns:
            The scalar loss and diagnostics (teacher entropy, KL to the uniform).
        """
        cfg = self.config

        def crops(images: torch.Tensor, size: int, scale: tuple[float, float]) -> torch.Tensor:
            views = random_resized_crops(images, generator, size, tuple(scale))
            return imagenet_normalize(augment(views, generator, max_shift=0))

        global_views = [crops(x, self.image_size, cfg.global_scale) for x in (first, second)]
        local_views = [
            crops(first, self.local_size, cfg.local_scale) for _ in range(cfg.n_local_crops)
        ]
        with torch.no_grad():
            teacher = [self.teacher.forward_features(v) for v in global_views]
            teacher_cls = [self.teacher_head(f["x_norm_clstoken"]) for f in teacher]  # (B, K)
        masks = [self._random_masks(v, encoder.patch_size, generator) for v in global_views]
        student = [encoder.forward_features(v, m) for v, m in zip(global_views, masks, strict=True)]
        student += [encoder.forward_features(v) for v in local_views]
        student_cls = [self.head(f["x_norm_clstoken"]) for f in student]
        with torch.no_grad():
            targets = [self._targets(t) for t in teacher_cls]
        loss = dino_loss(student_cls, targets, cfg.student_temp)
        terms = {"dino_loss": loss.item(), **_entropies(targets[0], "teacher")}
        if cfg.ibot_weight > 0:  # masked patch tokens predict the teacher's (iBOT)
            patch_losses, patch_targets = [], []
            for s_feat, t_feat, mask in zip(student, teacher, masks, strict=False):
                with torch.no_grad():
                    target = self._targets(self.teacher_head(t_feat["x_norm_patchtokens"][mask]))
                log_p = F.log_softmax(
                    self.head(s_feat["x_norm_patchtokens"][mask]) / cfg.student_temp, dim=-1
                )
                patch_losses.append(-(target * log_p).sum(-1).mean())
                patch_targets.append(target)
            ibot = torch.stack(patch_losses).mean()
            loss = loss + cfg.ibot_weight * ibot
            terms |= {"ibot_loss": ibot.item(), **_entropies(patch_targets[0], "teacher_patch")}
        return loss, terms

    def _targets(self, logits: torch.Tensor) -> torch.Tensor:
        """Teacher distributions (M, K) from logits (M, K), by the configured centering."""
        cfg = self.config
        if cfg.centering == "sinkhorn":
            return sinkhorn_knopp(logits, cfg.teacher_temp)
        targets = centred_targets(logits, self.center, cfg.teacher_temp)
        self.center.lerp_(logits.mean(0), 1 - cfg.center_momentum)
        return targets

    def _random_masks(
        self, images: torch.Tensor, patch_size: int, generator: torch.Generator
    ) -> torch.Tensor:
        """(B, Np) bool masks, each hiding a share of patches drawn from ``mask_ratio``."""
        B, _, H, W = images.shape
        n_patches = (H // patch_size) * (W // patch_size)
        low, high = self.config.mask_ratio
        ratio = low + (high - low) * torch.rand(B, 1, generator=generator, device=images.device)
        scores = torch.rand(B, n_patches, generator=generator, device=images.device)
        ranks = scores.argsort(dim=1).argsort(dim=1)  # a uniform random rank per patch
        n_masked = (ratio * n_patches).round().clamp(min=1)
        return ranks < n_masked  # (B, Np)

    @torch.no_grad()
    def after_step(self, encoder: DinoVisionTransformer, step: int, total: int) -> None:
        """EMA update of the teacher, momentum on a cosine schedule to 1 (as in the paper)."""
        base = self.config.teacher_momentum
        momentum = 1 - (1 - base) * (math.cos(math.pi * step / max(1, total)) + 1) / 2
        for dst, src in (
            (self.teacher, encoder),
            (self.teacher_head, self.head),
        ):
            for t, s in zip(dst.parameters(), src.parameters(), strict=True):
                t.mul_(momentum).add_(s.detach(), alpha=1 - momentum)

    @torch.no_grad()
    def finish(self, encoder: DinoVisionTransformer) -> None:
        """Copy the teacher backbone into ``encoder``: the teacher is the model kept."""
        encoder.load_state_dict(self.teacher.state_dict())
