"""The results report: rows from synthetic results.json files, the table against known
answers, the anchors as published, clear errors, and the app's three files."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.report import wilson_interval
from benchmarks.results_rows import (
    earlier_rows,
    gather_rows,
    merge_rows,
    policy_results,
    read_rows,
)
from benchmarks.results_table import (
    Protocol,
    load_anchors,
    markdown_table,
    report_json,
    table_entries,
)

ANCHORS = Path(__file__).resolve().parents[2] / "benchmarks" / "conf" / "anchors.yaml"
PROTOCOL = Protocol(min_pairs=50, first_seed=100000)


def bench_results(env_id: str, planner: str, successes: int, reached: int, n: int, **config):
    """A results.json as wmplan-bench writes it (only the keys the report reads, and episodes)."""
    return {
        "summary": {
            "n_episodes": n,
            "success_rate": successes / n,
            "success_ci95_low": wilson_interval(successes, n)[0],
            "success_ci95_high": wilson_interval(successes, n)[1],
            "reached_rate": reached / n,
            "mean_final_distance": 0.3,
            "plan_latency_p50_s": 0.5,
            "plan_latency_p95_s": 0.7,
            "plan_batch_size": n,
            "plan_latency_per_problem_p50_s": 0.5 / n,
        },
        "episodes": [],
        "plan_times_s": [0.5],
        "world_model": "somewhere",
        "config": {
            "env_id": env_id,
            "planner": {"name": planner, "horizon": 5},
            "seed": config.get("seed", 100000),
            "max_steps": config.get("max_steps", 50),
            "n_episodes": n,
        },
    }


def write(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


@pytest.fixture
def runs(tmp_path):
    """A suite of two bench runs (multirun subfolders) and a reach-rates run."""
    suite, reach = tmp_path / "suite", tmp_path / "reach"
    write(suite / "0" / "results.json", bench_results("wmplan/Wall-v0", "cem", 40, 45, 50))
    write(
        suite / "1" / "results.json",
        bench_results("wmplan/PointMaze-v0", "mppi", 29, 30, 30, max_steps=20, seed=7),
    )
    outcomes = {
        "wmplan/Wall-v0": {
            "expert": [(True, True)] * 50,
            "random": [(False, False)] * 48 + [(False, True), (True, True)],
        }
    }
    write(reach / "results.json", policy_results(outcomes, 100000))
    return [suite, reach]


def test_the_anchors_are_the_published_figures():
    anchors = {a.label: a for a in load_anchors(ANCHORS).anchors}
    assert anchors["DINO-WM paper, MPC-CEM"].success == {
        "wmplan/PointMaze-v0": 0.98,
        "wmplan/Wall-v0": 0.96,
        "wmplan/Reacher-v0": 0.92,
        "wmplan/PushT-v0": 0.90,
    }
    swm = anchors["stable-worldmodel DINO-WM, 50 steps"]
    assert swm.budget == 50
    assert swm.success == {
        "wmplan/Wall-v0": 1.00,  # their Two-Room
        "wmplan/Reacher-v0": 0.79,
        "wmplan/PushT-v0": 0.74,
        "wmplan/Cube-v0": 0.86,
    }
    assert anchors["LeWM"].success == {"wmplan/PushT-v0": 0.96}
    assert all(a.source for a in anchors.values())
    assert set(load_anchors(ANCHORS).protocol) >= {"wmplan/Wall-v0", "wmplan/Reacher-v0"}


def test_known_answer_table(runs):
    anchors = load_anchors(ANCHORS)
    entries = table_entries(gather_rows(runs), anchors, PROTOCOL)
    # environments in registration order; planners, then the expert, then random
    assert [(e["env_id"], e["method"]) for e in entries] == [
        ("wmplan/PointMaze-v0", "mppi"),
        ("wmplan/Wall-v0", "cem"),
        ("wmplan/Wall-v0", "scripted expert"),
        ("wmplan/Wall-v0", "random policy"),
    ]
    maze, cem, expert, random = entries
    assert (cem["successes"], cem["reached"], cem["n_pairs"], cem["budget"]) == (40, 45, 50, 50)
    assert cem["success_ci95"] == list(wilson_interval(40, 50))
    assert cem["success_rate"] == 0.8 and cem["reached_rate"] == 0.9
    assert maze["success_ci95"] == list(wilson_interval(29, 30))
    assert expert["success_ci95"] == list(wilson_interval(50, 50))
    assert random["success_ci95"] == list(wilson_interval(1, 50))
    assert (random["successes"], random["reached"]) == (1, 2)
    assert expert["plan_latency_p50_s"] is None and cem["plan_latency_p50_s"] == 0.5
    assert cem["anchors"] == {
        "DINO-WM paper, MPC-CEM": 0.96,
        "stable-worldmodel DINO-WM, 50 steps": 1.00,
        "LeWM": None,
    }
    # protocol: the budget and pairs from the results, then the environment's note
    note = anchors.protocol["wmplan/Wall-v0"]
    assert cem["protocol"] == (
        f"budget 50 steps vs stable-worldmodel DINO-WM, 50 steps 50; 50 pairs; {note}"
    )
    assert maze["protocol"].startswith(
        "budget 20 steps (registered 50); 30 pairs (fewer than 50); seeds from 7, not 100000; "
    )
    assert "no world model" in expert["protocol"] and "no world model" in random["protocol"]

    table = markdown_table(entries, anchors)
    lo, hi = wilson_interval(40, 50)
    assert (
        f"| wmplan/Wall-v0 | cem | 0.80 [{lo:.2f}, {hi:.2f}] | 0.90 | 50 | 50 | 500 ms (B=50) "
        f"| 0.96 | 1.00 | – | {cem['protocol']} |"
    ) in table
    header = table.splitlines()[0]
    for label in ("DINO-WM paper, MPC-CEM", "stable-worldmodel DINO-WM, 50 steps", "LeWM"):
        assert f"| {label} (theirs) |" in header
        assert f"**{label}** (theirs)" in table  # its source below the table
    assert report_json(entries, anchors)["rows"] == entries


def test_the_report_skips_its_own_results_json(runs, tmp_path):
    anchors = load_anchors(ANCHORS)
    entries = table_entries(gather_rows(runs), anchors, PROTOCOL)
    write(runs[0] / "report" / "results.json", report_json(entries, anchors))
    assert len(gather_rows(runs)) == len(entries)


def test_an_earlier_reports_rows_round_trip_and_fill_what_new_runs_lack(runs, tmp_path):
    anchors = load_anchors(ANCHORS)
    old = gather_rows(runs)
    path = write(tmp_path / "old" / "results.json",
                 report_json(table_entries(old, anchors, PROTOCOL), anchors))  # fmt: skip

    def key(row):
        return row.env_id, row.method

    assert sorted(earlier_rows(path), key=key) == sorted(old, key=key)  # every field and source
    new = [read_rows(write(tmp_path / "new" / "results.json",
                           bench_results("wmplan/Wall-v0", "cem", 50, 50, 50)))[0]]  # fmt: skip
    merged = merge_rows(new, earlier_rows(path))
    assert merged[0] == new[0] and len(merged) == 4
    assert sorted((r.env_id, r.method, r.successes) for r in merged) == [
        ("wmplan/PointMaze-v0", "mppi", 29),
        ("wmplan/Wall-v0", "cem", 50),  # the new run, not the earlier 40
        ("wmplan/Wall-v0", "random policy", 1),
        ("wmplan/Wall-v0", "scripted expert", 50),
    ]
    with pytest.raises(ValueError, match="not a results report"):
        earlier_rows(runs[1] / "results.json")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "cannot read a results file"),
        ('["a list"]', "expected a JSON object"),
        ('{"other": 1}', "neither a wmplan-bench results file"),
        ('{"summary": {"n_episodes": 3}, "config": {}}', "no key"),
        ('{"kind": "reach_rates", "runs": [{"env_id": "x"}]}', "no key"),
    ],
)
def test_a_garbled_results_json_is_named(tmp_path, content, message):
    path = write(tmp_path / "run" / "results.json", content)
    with pytest.raises(ValueError, match=message) as error:
        read_rows(path)
    assert str(path) in str(error.value)
    with pytest.raises(ValueError, match=message):
        gather_rows([tmp_path])


def test_a_rate_that_is_no_count_is_named(tmp_path):
    data = bench_results("wmplan/Wall-v0", "cem", 1, 1, 3)
    data["summary"]["success_rate"] = 0.5
    path = write(tmp_path / "results.json", data)
    with pytest.raises(ValueError, match=r"success_rate 0.5 is not a count out of 3") as error:
        read_rows(path)
    assert str(path) in str(error.value)


def test_missing_folders_and_duplicates_are_named(tmp_path, runs):
    with pytest.raises(ValueError, match=f"runs folder {tmp_path / 'nowhere'} does not exist"):
        gather_rows([tmp_path / "nowhere"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=f"no results.json under {tmp_path / 'empty'}"):
        gather_rows([tmp_path / "empty"])
    copy = write(tmp_path / "again" / "results.json", (runs[0] / "0" / "results.json").read_text())
    with pytest.raises(ValueError, match=f"two results for wmplan/Wall-v0 with cem: .*{copy}"):
        gather_rows([*runs, tmp_path / "again"])


def test_a_bad_anchor_is_named(tmp_path):
    path = write(
        tmp_path / "anchors.yaml",
        "anchors:\n  - {label: X, source: s, success: {wmplan/Wall-v0: 96}}\n",
    )
    with pytest.raises(ValueError, match=r"X wmplan/Wall-v0 success 96 not in \[0, 1\]"):
        load_anchors(path)


def test_app_writes_table_json_and_chart(runs, tmp_path):
    out = tmp_path / "out"
    done = subprocess.run(
        [
            sys.executable, "-m", "benchmarks.results_report", f"runs=[{runs[0]},{runs[1]}]",
            f"out={out}", f"hydra.run.dir={tmp_path / 'hydra'}",
        ],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| wmplan/Wall-v0 | cem | 0.80" in (out / "results.md").read_text()
    report = json.loads((out / "results.json").read_text())
    assert report["kind"] == "results_report" and len(report["rows"]) == 4
    assert (out / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
