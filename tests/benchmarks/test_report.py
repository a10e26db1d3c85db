"""Benchmark statistics against reference values."""

import numpy as np
import pytest

from benchmarks.report import format_table, summarize_episodes, wilson_interval


def test_wilson_interval_matches_reference():
    # statsmodels.stats.proportion.proportion_confint(8, 10, method="wilson")
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)
    assert wilson_interval(0, 30)[0] == 0.0 and wilson_interval(30, 30)[1] == pytest.approx(1.0)


def test_summary_and_table():
    summary = summarize_episodes(
        np.array([True, False, True, True]),
        np.array([True, True, True, True]),
        np.array([0.1, 0.9, 0.2, 0.3]),
        np.array([1.0, 2.0, 3.0]),
        np.array([4, 4, 4]),
    )
    assert summary["success_rate"] == 0.75 and summary["reached_rate"] == 1.0
    assert summary["mean_final_distance"] == pytest.approx(0.375)
    assert summary["plan_latency_p50_s"] == 2.0 and summary["plan_latency_per_problem_p50_s"] == 0.5
    assert "0.750" in format_table(summary, "t")


def test_regression_latency_per_problem_divides_by_the_problems_each_plan_planned():
    # n_episodes=2 with batch_size=30 divided by 30; a partial last batch by the full size
    def per_problem(times, problems):
        summary = summarize_episodes(np.ones(1, bool), np.ones(1, bool), np.zeros(1),
                                     np.array(times), np.array(problems))  # fmt: skip
        return summary["plan_latency_per_problem_p50_s"], summary["plan_batch_size"]

    assert per_problem([2.0, 2.0], [2, 2]) == (1.0, 2)
    assert per_problem([3.0, 1.0, 1.0, 1.0], [3, 1, 1, 1]) == (1.0, 3)  # 1 s per problem
