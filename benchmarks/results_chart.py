"""The results chart: success at the last step per environment and method, with 95% Wilson
intervals as error bars, and the anchors' published figures marked as theirs."""

from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from benchmarks.results_table import Anchors

ANCHOR_MARKERS = ("D", "^", "s", "v", "P", "X")


def plot_results(path: Path, entries: list[dict], anchors: Anchors) -> None:
    """Grouped bar chart written as a PNG (Agg backend).

    Args:
        path: output file.
        entries: ``benchmarks.results_table.table_entries``, in table order; one group of bars
            per environment, one bar per method (same colour for a method in every group).
        anchors: their figures, one marker per anchor at each environment it reports.
    """
    env_ids = list(dict.fromkeys(e["env_id"] for e in entries))
    methods = list(dict.fromkeys(e["method"] for e in entries))
    colours = {m: f"C{i % 10}" for i, m in enumerate(methods)}
    figure = Figure(figsize=(max(6.0, 1.0 + 0.45 * len(entries) + 0.6 * len(env_ids)), 4.5))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    width, labelled = 0.8, set()
    for g, env_id in enumerate(env_ids):
        group = [e for e in entries if e["env_id"] == env_id]
        bar = width / len(group)
        for i, e in enumerate(group):
            x = g - width / 2 + bar * (i + 0.5)
            low, high = e["success_ci95"]
            rate = e["success_rate"]
            axes.bar(
                x,
                rate,
                bar * 0.9,
                yerr=[[max(0.0, rate - low)], [max(0.0, high - rate)]],  # float rounding
                capsize=3,
                color=colours[e["method"]],
                label=None if e["method"] in labelled else e["method"],
            )
            labelled.add(e["method"])
        for a, anchor in enumerate(anchors.anchors):
            if env_id in anchor.success:
                label = f"{anchor.label} (theirs)"
                axes.plot(
                    g + width / 2 + 0.08,
                    anchor.success[env_id],
                    ANCHOR_MARKERS[a % len(ANCHOR_MARKERS)],
                    color="black",
                    markerfacecolor="none",
                    label=None if label in labelled else label,
                )
                labelled.add(label)
    axes.set_xticks(range(len(env_ids)), [e.removeprefix("wmplan/") for e in env_ids])
    axes.set_ylim(0.0, 1.05)
    axes.set_ylabel("success at the last step (95% Wilson CI)")
    axes.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    figure.tight_layout()
    figure.savefig(path, dpi=120)
