"""Improved cross-entropy method (iCEM) over action sequences."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from planner.base import PlanRun
from planner.cem import CEM


def colored_noise(
    shape: tuple[int, ...],
    beta: float,
    generator: torch.Generator,
    device: torch.device,
) -> Tensor:
    """Gaussian noise with power spectral density 1 / f**beta along the last axis.

    Drawn in the frequency domain and brought back with an inverse real FFT, as in the
    `colorednoise` package iCEM uses (Timmer and Koenig 1995). The zero frequency gets the
    power of the lowest non-zero one, 1 / n; every entry has unit variance. beta = 0 is white
    noise; larger beta gives smoother sequences.

    Args:
        shape: (..., n) output shape; the noise is correlated along the last axis.
        beta: exponent >= 0 of the power law.
        generator: random generator on `device`.
        device: where to draw the noise.

    Returns:
        float32 tensor of `shape`.
    """
    n = shape[-1]
    freqs = torch.fft.rfftfreq(n, device=device)  # (F,)
    freqs[0] = 1.0 / n
    amplitude = freqs ** (-beta / 2)  # (F,)
    parts = torch.randn((*shape[:-1], freqs.shape[0], 2), generator=generator, device=device)
    real, imag = amplitude * parts[..., 0], amplitude * parts[..., 1]  # (..., F)

    # The zero (and for even n the Nyquist) frequency is real: its real part carries both parts'
    # variance. Weight of each frequency in the variance of a time step: 2 there, 4 elsewhere.
    weight = torch.full_like(amplitude, 4.0)
    real_only = [0, freqs.shape[0] - 1] if n % 2 == 0 else [0]
    real[..., real_only] *= math.sqrt(2)
    imag[..., real_only] = 0.0
    weight[real_only] = 2.0
    std = (weight * amplitude.square()).sum().sqrt() / n
    return torch.fft.irfft(torch.complex(real, imag), n=n) / std


class ICEM(CEM):
    """iCEM, Pinneri et al. 2020, "Sample-efficient Cross-Entropy Method for Real-time Planning".

    CEM (see `CEM`) with the paper's changes for a single `plan` call:

    - colored noise: samples are drawn with power spectral density 1 / f**beta along the
      horizon (beta = 0 is CEM's white noise; the paper uses 2 to 3.5), so they are smooth;
    - population decay: iteration i draws max(n_elites, n_samples * decay**-i) samples;
    - elite keeping: the best fraction `keep_elites` of the previous iteration's elites is
      scored again among the next iteration's candidates;
    - the current mean is a candidate every iteration (the paper adds it in the last one),
      and the best sequence evaluated over all iterations is returned.

    Across MPC steps (`uses_carry`): the kept elites of the last iteration are returned as
    `PlanResult.elites`; `MPCController` shifts them like the plan and passes them back as
    `carry`, and they are scored in the next plan's first iteration, as in the paper. The mean
    and standard deviation are refitted with momentum `alpha` as in CEM.
    The paper's settings: decay 1.25, keep_elites 0.3, alpha 0.1, 3 to 4 iterations.
    """

    uses_carry = True

    def __init__(
        self,
        *,
        horizon: int,
        action_dim: int,
        low: float | Tensor = -1.0,
        high: float | Tensor = 1.0,
        n_samples: int = 300,
        n_elites: int = 30,
        n_iters: int = 10,
        alpha: float = 0.1,
        beta: float = 2.0,
        decay: float = 1.25,
        keep_elites: float = 0.3,
        init_std: float | Tensor | None = None,
        min_std: float | Tensor = 0.0,
        device: str | torch.device = "cpu",
    ) -> None:
        """Checks and stores the parameters.

        Args:
            horizon: H >= 1.
            action_dim: A >= 1.
            low: lower bound, a float or an (A,) tensor.
            high: upper bound, a float or an (A,) tensor.
            n_samples: new samples >= 1 per problem in the first iteration.
            n_elites: 1 <= K <= n_samples candidates refitted to; also the least number of
                new samples per iteration.
            n_iters: iterations >= 1.
            alpha: momentum in [0, 1) on the mean and standard deviation; 0 refits fully.
            beta: exponent >= 0 of the colored noise; 0 is white noise.
            decay: population decay >= 1; iteration i draws n_samples * decay**-i samples.
            keep_elites: fraction in [0, 1] of the elites carried to the next iteration.
            init_std: initial standard deviation, a float or an (A,) tensor > 0; defaults to
                (high - low) / 2.
            min_std: floor on the standard deviation, a float or an (A,) tensor >= 0.
            device: where candidates live when `plan` gets no `init`.

        Raises:
            ValueError: naming the offending field.
        """
        super().__init__(
            horizon=horizon,
            action_dim=action_dim,
            low=low,
            high=high,
            n_samples=n_samples,
            n_elites=n_elites,
            n_iters=n_iters,
            alpha=alpha,
            init_std=init_std,
            min_std=min_std,
            device=device,
        )
        if not (math.isfinite(beta) and beta >= 0):
            raise ValueError(f"beta ({beta}) must be finite and >= 0")
        if not (math.isfinite(decay) and decay >= 1):
            raise ValueError(f"decay ({decay}) must be finite and >= 1")
        if not 0.0 <= keep_elites <= 1.0:
            raise ValueError(f"keep_elites ({keep_elites}) must be in [0, 1]")
        self.beta = beta
        self.decay = decay
        self.keep_elites = keep_elites

    def population(self, iteration: int) -> int:
        """New samples drawn in iteration `iteration` (0-based): never fewer than n_elites."""
        return max(self.n_elites, int(self.n_samples * self.decay**-iteration))

    def _optimize(self, run: PlanRun) -> Tensor:
        """Runs iCEM from `run.init`; returns the final mean (B, H, A)."""
        mean = run.init  # (B, H, A)
        B, H, A = mean.shape
        std = self.init_std.to(mean.device).expand(B, H, A)
        min_std = self.min_std.to(mean.device)
        n_keep = int(self.keep_elites * self.n_elites)
        kept = run.carry  # elites carried over from the previous iteration (or plan)
        for iteration in run.iterations(self.n_iters):
            # Sample: colored noise along the horizon around the mean; add the mean itself and
            # the kept elites, clamp.
            shape = (B, self.population(iteration), A, H)
            noise = colored_noise(shape, self.beta, run.generator, mean.device).transpose(2, 3)
            samples = mean[:, None] + std[:, None] * noise  # (B, N_i, H, A)
            candidates = run.clamp(torch.cat([mean[:, None], kept, samples], dim=1))

            # Score.
            cost = run.evaluate(candidates)  # (B, N)

            # Select the K lowest-energy candidates, sorted best first.
            _, elites = self.select_elites(candidates, cost)  # (B, K, H, A)
            kept = elites[:, :n_keep]
            run.elites = kept

            # Update: refit to the elites, smoothed by momentum.
            mean, std = self.refit(mean, std, elites, min_std)
        return mean
