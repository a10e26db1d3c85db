"""Which start/goal pairs wmplan-bench runs: a contiguous range, or an explicit list."""

import pytest

from benchmarks.episodes import pair_seeds


def test_the_default_is_n_consecutive_seeds_from_seed():
    assert pair_seeds(100000, 3, None) == [100000, 100001, 100002]


def test_an_explicit_list_replaces_the_range_in_its_order():
    assert pair_seeds(100000, 50, [300007, 300002]) == [300007, 300002]


@pytest.mark.parametrize("seeds", [[], [1, 1], [1.5], [True]])
def test_a_bad_list_is_refused(seeds):
    with pytest.raises(ValueError, match="seeds must"):
        pair_seeds(0, 1, seeds)
