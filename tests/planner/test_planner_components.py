"""Pieces of the new planners: iCEM's colored noise and population, MPPI's smoothing."""

import pytest
import torch

from planner import ICEM, make_planner
from planner.icem import colored_noise
from planner.mppi import smoothing_matrix


@pytest.mark.parametrize("horizon", [1, 2, 5, 8])
@pytest.mark.parametrize("beta", [0.0, 2.0, 3.5])
def test_colored_noise_has_unit_variance_at_every_step(horizon, beta):
    generator = torch.Generator().manual_seed(0)
    noise = colored_noise((20000, horizon), beta, generator, torch.device("cpu"))
    assert noise.shape == (20000, horizon) and noise.dtype == torch.float32
    assert (noise.std(dim=0) - 1).abs().max() < 0.03
    assert noise.mean(dim=0).abs().max() < 0.03


def test_colored_noise_is_smoother_for_larger_beta():
    def neighbour_correlation(beta: float) -> float:
        generator = torch.Generator().manual_seed(0)
        noise = colored_noise((20000, 16), beta, generator, torch.device("cpu"))
        return torch.corrcoef(noise.T)[7, 8].item()

    white, pink, red = (neighbour_correlation(beta) for beta in (0.0, 1.0, 2.0))
    assert abs(white) < 0.03 and white < pink < red and red > 0.7


def test_icem_population_decays_to_at_least_n_elites_and_keeps_elites():
    planner = ICEM(horizon=3, action_dim=1, n_samples=100, n_elites=10, n_iters=12, decay=1.5)
    sizes = []

    def energy(actions: torch.Tensor) -> torch.Tensor:
        sizes.append(actions.shape[1])
        return actions.square().sum(dim=(2, 3))

    planner.plan(energy, batch_size=1, generator=torch.Generator().manual_seed(0))
    news = [max(10, int(100 * 1.5**-i)) for i in range(12)]
    kept = [0] + [3] * 11  # int(0.3 * 10) elites from the previous iteration, after the first
    assert sizes == [1 + k + n for k, n in zip(kept, news, strict=True)]
    assert sizes[0] == 101 and sizes[-1] == 1 + 3 + 10


def test_smoothing_matrix_keeps_constants_and_zero_is_identity():
    matrix = smoothing_matrix(4, 0.5)
    assert torch.allclose(matrix.sum(dim=1), torch.ones(4))
    assert torch.allclose(matrix[3], torch.tensor([0.125, 0.125, 0.25, 0.5]))
    assert torch.equal(smoothing_matrix(4, 0.0), torch.eye(4))


def test_mppi_with_smoothing_still_reaches_a_constant_target():
    target = torch.tensor([[0.3, -0.2]])
    planner = make_planner(
        "mppi",
        horizon=5,
        action_dim=2,
        n_samples=100,
        n_iters=30,
        noise_std=0.1,
        temperature=0.01,
        smoothing=0.5,
    )
    result = planner.plan(
        lambda actions: (actions - target[:, None, None]).square().sum(dim=(2, 3)),
        batch_size=1,
        generator=torch.Generator().manual_seed(0),
    )
    assert (result.actions - target[:, None]).abs().max() < 0.05
