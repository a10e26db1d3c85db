"""The results report: our planners, the scripted expert and the random policy on the benchmark
pairs, beside the anchors' published figures.

Gathers every ``results.json`` under the ``runs`` folders (``wmplan-bench`` runs and
``python -m benchmarks.reach_rates``) and writes into ``out``: ``results.md`` (markdown table:
success at the last step with its 95% Wilson interval, reached at any step, pairs, step
budget, plan latency p50, each anchor's figure labelled as theirs, and what differs in
protocol), ``results.json`` (the same rows) and ``results.png`` (bar chart, intervals as error
bars). The anchors and per-environment protocol notes are ``benchmarks/conf/anchors.yaml``.
Run ``python -m benchmarks.results_report runs=[runs/suite,runs/reach] out=docs/results``;
``earlier=[docs/results/results.json]`` carries an earlier report's rows for the environments
and methods the runs do not cover.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from benchmarks.results_chart import plot_results
from benchmarks.results_rows import earlier_rows, gather_rows, merge_rows
from benchmarks.results_table import (
    Protocol,
    load_anchors,
    markdown_table,
    report_json,
    table_entries,
)

logger = logging.getLogger(__name__)
ANCHORS = Path(__file__).parent / "conf" / "anchors.yaml"


@hydra.main(config_path="conf", config_name="results_report", version_base="1.3")
def main(cfg: DictConfig) -> None:
    anchors = load_anchors(Path(cfg.anchors) if cfg.anchors else ANCHORS)
    rows = gather_rows([Path(folder) for folder in cfg.runs])
    for report in cfg.earlier:  # earlier reports' rows, where the runs above lack them
        rows = merge_rows(rows, earlier_rows(Path(report)))
    entries = table_entries(rows, anchors, Protocol(**cfg.protocol))
    out = Path(cfg.out) if cfg.out else Path(HydraConfig.get().runtime.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = markdown_table(entries, anchors)
    (out / "results.md").write_text(table)
    (out / "results.json").write_text(json.dumps(report_json(entries, anchors), indent=2))
    plot_results(out / "results.png", entries, anchors)
    logger.info("%d rows from %s\n%s", len(entries), list(cfg.runs), table)
    logger.info("results.md, results.json and results.png in %s", out)


if __name__ == "__main__":
    main()
