"""The results table: our success rates with 95% Wilson intervals beside the anchors' published
figures (labelled as theirs) and, per row, what differs in protocol from them.

The anchors and the per-environment protocol notes are data (``benchmarks/conf/anchors.yaml``),
read by ``load_anchors``; the rows come from ``benchmarks.results_rows``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

import envs
from benchmarks.report import wilson_interval
from benchmarks.results_rows import REPORT_KIND, ResultRow, registered_budget

POLICY_ORDER = ("scripted expert", "random policy")  # after the planners, in this order
POLICY_NOTES = {
    "scripted expert": "reference policy, no world model: reads the true state",
    "random policy": "reference policy, no world model: uniform random actions",
}


@dataclass(frozen=True)
class Protocol:
    """What our protocol asks of every row besides the registered budget.

    Attributes:
        min_pairs: start/goal pairs per environment, at least.
        first_seed: reset seed of the first pair (wmplan-bench's ``seed``).
    """

    min_pairs: int = 50
    first_seed: int = 100000


@dataclass(frozen=True)
class Anchor:
    """A published result to compare with.

    Attributes:
        label: column header (``(theirs)`` is appended in the table).
        source: the publication and what the figures are.
        budget: steps per episode when the source states one for every task, else None.
        pairs: evaluation pairs when the source states them, else None.
        success: success rate per wmplan environment id.
    """

    label: str
    source: str
    budget: int | None
    pairs: int | None
    success: dict[str, float]


@dataclass(frozen=True)
class Anchors:
    """The anchors and, per environment id, a note on how their protocols differ from ours."""

    anchors: list[Anchor]
    protocol: dict[str, str]


def load_anchors(path: Path) -> Anchors:
    """Read the anchors file (``benchmarks/conf/anchors.yaml`` is the format's example).

    Raises:
        ValueError: naming ``path`` and the entry that is missing or out of range.
    """
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("anchors"), list):
        raise ValueError(f"{path}: expected a mapping with a list under 'anchors', got {data!r}")
    anchors = []
    for entry in data["anchors"]:
        missing = {"label", "source", "success"} - set(entry)
        if missing:
            raise ValueError(f"{path}: anchor {entry!r} lacks {sorted(missing)}")
        for env_id, rate in entry["success"].items():
            if not 0.0 <= float(rate) <= 1.0:
                raise ValueError(
                    f"{path}: {entry['label']} {env_id} success {rate!r} not in [0, 1]"
                )
        anchors.append(
            Anchor(
                label=entry["label"],
                source=" ".join(entry["source"].split()),
                budget=entry.get("budget"),
                pairs=entry.get("pairs"),
                success={k: float(v) for k, v in entry["success"].items()},
            )
        )
    protocol = {k: " ".join(v.split()) for k, v in (data.get("protocol") or {}).items()}
    return Anchors(anchors=anchors, protocol=protocol)


def protocol_note(row: ResultRow, anchors: Anchors, protocol: Protocol) -> str:
    """What differs in this row's protocol from the anchors' and from ours (issue 13).

    Budget, pairs and seeds come from the row, compared with the registered budget,
    ``protocol`` and the budgets/pairs the anchors state; then the environment's note for a
    planner, or what the reference policy is.
    """
    theirs = [a for a in anchors.anchors if row.env_id in a.success]
    registered = registered_budget(row.env_id)
    budget = f"budget {row.budget} steps"
    if registered is not None and registered != row.budget:
        budget += f" (registered {registered})"
    budgets = [f"{a.label} {a.budget}" for a in theirs if a.budget is not None]
    if budgets:
        budget += f" vs {', '.join(budgets)}"
    pairs = f"{row.n_pairs} pairs"
    if row.n_pairs < protocol.min_pairs:
        pairs += f" (fewer than {protocol.min_pairs})"
    stated = [f"{a.label} {a.pairs}" for a in theirs if a.pairs is not None]
    if stated:
        pairs += f" vs {', '.join(stated)}"
    parts = [budget, pairs]
    if row.first_seed != protocol.first_seed:
        parts.append(f"seeds from {row.first_seed}, not {protocol.first_seed}")
    if row.kind == "policy":
        parts.append(POLICY_NOTES.get(row.method, "reference policy, no world model"))
    elif not theirs:
        parts.append("no published anchor")
    elif row.env_id in anchors.protocol:
        parts.append(anchors.protocol[row.env_id])
    return "; ".join(parts)


def _order(row: ResultRow) -> tuple:
    """Environments in registration order, planners by name, then the expert and random."""
    env_rank = envs.ENV_IDS.index(row.env_id) if row.env_id in envs.ENV_IDS else len(envs.ENV_IDS)
    method_rank = POLICY_ORDER.index(row.method) + 1 if row.method in POLICY_ORDER else 0
    return env_rank, row.env_id, row.kind != "planner", method_rank, row.method


def table_entries(rows: list[ResultRow], anchors: Anchors, protocol: Protocol) -> list[dict]:
    """One entry per row, in table order: the row's fields, its rates with the 95% Wilson
    interval of the last-step success, each anchor's figure for its environment (None where
    it reports none) and the protocol note."""
    entries = []
    for row in sorted(rows, key=_order):
        low, high = wilson_interval(row.successes, row.n_pairs)
        entries.append(
            {
                **asdict(row),
                "success_rate": row.successes / row.n_pairs,
                "success_ci95": [low, high],
                "reached_rate": row.reached / row.n_pairs,
                "registered_budget": registered_budget(row.env_id),
                "anchors": {a.label: a.success.get(row.env_id) for a in anchors.anchors},
                "protocol": protocol_note(row, anchors, protocol),
            }
        )
    return entries


def _latency(entry: dict) -> str:
    """Median replan time and its batch, or a dash for policies."""
    if entry["plan_latency_p50_s"] is None:
        return "–"
    return f"{entry['plan_latency_p50_s'] * 1e3:.0f} ms (B={entry['plan_batch_size']})"


def markdown_table(entries: list[dict], anchors: Anchors) -> str:
    """The table in markdown, then the anchors' sources."""
    theirs = [f"{a.label} (theirs)" for a in anchors.anchors]
    header = [
        "environment",
        "method",
        "success, last step [95% CI]",
        "reached, any step",
        "pairs",
        "budget",
        "plan p50",
        *theirs,
        "protocol vs anchors",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for e in entries:
        low, high = e["success_ci95"]
        figures = [
            "–" if e["anchors"][a.label] is None else f"{e['anchors'][a.label]:.2f}"
            for a in anchors.anchors
        ]
        cells = [
            e["env_id"],
            e["method"],
            f"{e['success_rate']:.2f} [{low:.2f}, {high:.2f}]",
            f"{e['reached_rate']:.2f}",
            str(e["n_pairs"]),
            str(e["budget"]),
            _latency(e),
            *figures,
            e["protocol"],
        ]
        lines.append("| " + " | ".join(cells) + " |")
    sources = [f"- **{a.label}** (theirs): {a.source}" for a in anchors.anchors]
    return "\n".join(
        [
            *lines,
            "",
            "Success is the environment's own test at the last step of the budget; the interval is "
            "the 95% Wilson score interval over the pairs. Columns marked (theirs) are published "
            "figures under their own protocols, not measured here.",
            "",
            *sources,
            "",
        ]
    )


def report_json(entries: list[dict], anchors: Anchors) -> dict:
    """The report as JSON: its kind (skipped when results are gathered), rows and anchors."""
    return {
        "kind": REPORT_KIND,
        "rows": entries,
        "anchors": [asdict(a) for a in anchors.anchors],
    }
