"""python -m benchmarks.encode_memory: both ways encode the same latents (the app refuses to
report otherwise) and each reports its peak memory and time."""

import json
import subprocess
import sys
from pathlib import Path

POINTMAZE = Path(__file__).resolve().parents[2] / "worldmodels" / "assets" / "pointmaze"


def test_the_app_reports_both_ways_on_equal_latents(tmp_path):
    collect = [sys.executable, "-m", "benchmarks.collect", f"out={tmp_path / 'data'}",
               "n_episodes=3", "episode_length=5", f"hydra.run.dir={tmp_path / 'h0'}"]  # fmt: skip
    subprocess.run(collect, check=True, capture_output=True, timeout=300)
    app = [sys.executable, "-m", "benchmarks.encode_memory", f"dataset={tmp_path / 'data'}",
           f"world_model={POINTMAZE}", f"hydra.run.dir={tmp_path / 'h1'}"]  # fmt: skip
    done = subprocess.run(app, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "h1" / "encode_memory.json").read_text())
    results = report["results"]
    assert results["in_memory"]["frames"] == results["from_disk"]["frames"] == 3 * 6
    assert results["in_memory"]["latents_sha256"] == results["from_disk"]["latents_sha256"]
    assert all(r["peak_rss_gb"] > 0 and r["seconds"] > 0 for r in results.values())
