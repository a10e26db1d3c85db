"""Resumable stages: a chain of console commands, each stage skipped once complete.

A :class:`Stage` is a few commands of the project (``wmplan-collect``, ``wmplan-train``, ...)
run as subprocesses, plus files written directly (before the commands, which may read them).
Every command resumes by itself (collection fills missing episodes, training continues from
its training state), so a stage killed half way is simply run again. When a stage finishes,
its record (a fingerprint of the settings that determine its result) is written atomically
to ``stages.json`` in the output folder; a stage whose record matches and whose outputs
exist is skipped. Running a stage drops the records of the stages that depend on it, so they
run again on its new result.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import logging
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from worldmodels.atomic import atomic_write

logger = logging.getLogger(__name__)

RECORDS_FILE = "stages.json"
SCRIPTS = {  # console script -> the module it runs
    "wmplan-collect": "benchmarks.collect",
    "wmplan-train": "benchmarks.train",
    "wmplan-bench": "benchmarks.bench",
    "wmplan-collect-planned": "benchmarks.collect_planned",
}


@dataclass(frozen=True)
class Command:
    """One console command: ``script *args *runtime_args``.

    Args:
        script: a console script of :data:`SCRIPTS`.
        args: hydra overrides that determine the result (part of the stage's fingerprint).
        runtime_args: overrides that do not (device, threads, workers, hydra's run dir).
    """

    script: str
    args: tuple[str, ...]
    runtime_args: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.script not in SCRIPTS:
            raise ValueError(f"unknown script {self.script!r}; known: {', '.join(SCRIPTS)}")

    def argv(self) -> list[str]:
        """The process to start: this interpreter running the script's module."""
        return [sys.executable, "-m", SCRIPTS[self.script], *self.args, *self.runtime_args]

    def __str__(self) -> str:
        return shlex.join([self.script, *self.args, *self.runtime_args])


@dataclass(frozen=True)
class Stage:
    """A named step of a chain.

    Args:
        name: the stage's name (``stages=[...]`` selects by it).
        commands: run in order; each resumes by itself when run again.
        files: text files written (atomically) before the commands, path -> content.
        outputs: paths that exist once the stage is complete.
        needs: names of the stages whose results this one reads.
    """

    name: str
    commands: tuple[Command, ...] = ()
    files: dict[str, str] = field(default_factory=dict)
    outputs: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()

    def fingerprint(self) -> str:
        """SHA-256 of what determines the stage's result: its commands' args and its files."""
        content = {
            "commands": [[c.script, *c.args] for c in self.commands],
            "files": self.files,
        }
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def read_records(out: Path) -> dict[str, dict]:
    """The records of the complete stages in ``out/stages.json`` (empty if none)."""
    path = out / RECORDS_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def write_records(out: Path, records: dict[str, dict]) -> None:
    """Writes ``out/stages.json`` atomically."""
    text = json.dumps(records, indent=2)
    atomic_write(out / RECORDS_FILE, lambda p: p.write_text(text))


def is_complete(stage: Stage, records: dict[str, dict]) -> bool:
    """Whether ``stage`` finished with its current settings and its outputs are still there."""
    record = records.get(stage.name)
    return (
        record is not None
        and record["fingerprint"] == stage.fingerprint()
        and all(Path(p).exists() for p in stage.outputs)
    )


def dependents(stages: Sequence[Stage], name: str) -> list[str]:
    """Names of the stages that read, directly or not, the result of stage ``name``."""
    found: list[str] = []
    for stage in stages:
        if any(n == name or n in found for n in stage.needs):
            found.append(stage.name)
    return found


def select(stages: Sequence[Stage], names: Sequence[str] | None) -> list[Stage]:
    """The stages to run, in chain order: all when ``names`` is None.

    Raises:
        ValueError: on a name that is no stage of the chain.
    """
    known = [s.name for s in stages]
    if names is None:
        return list(stages)
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise ValueError(f"unknown stages {unknown}; the chain is {known}")
    return [s for s in stages if s.name in names]


def check_needs(stages: Sequence[Stage], selected: Sequence[Stage], records: dict) -> None:
    """Raises ValueError when a selected stage needs one that is neither complete nor selected."""
    by_name = {s.name: s for s in stages}
    chosen = {s.name for s in selected}
    for stage in selected:
        missing = [
            n for n in stage.needs if n not in chosen and not is_complete(by_name[n], records)
        ]
        if missing:
            raise ValueError(
                f"stage {stage.name!r} needs {missing} first; add them to stages=, got "
                f"{[s.name for s in selected]}"
            )


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent() -> None:
    """In the child, before exec: have Linux send it SIGTERM when the chain's process dies.

    Without it, a chain killed on its own (``kill PID``, not its whole process group) leaves
    its running command behind, still writing into the output folder that the next run of the
    chain resumes from.
    """
    ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def run_command(command: Command, log: Path) -> None:
    """Runs ``command`` with its output appended to ``log``; on Linux the command ends when
    this process does, however it is killed.

    Raises:
        RuntimeError: when the command fails, naming it, its exit status and the log.
    """
    with log.open("a") as file:
        file.write(f"\n$ {command}\n")
        file.flush()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        done = subprocess.run(
            command.argv(),
            stdout=file,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
    if done.returncode != 0:
        raise RuntimeError(f"`{command}` exited with status {done.returncode}; see {log}")


def run_stage(stage: Stage, log: Path) -> None:
    """Writes the files of ``stage``, then runs its commands (logging to ``log``)."""
    for path, text in stage.files.items():
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        atomic_write(Path(path), lambda p, text=text: p.write_text(text))
    for command in stage.commands:
        run_command(command, log)


def run_chain(
    stages: Sequence[Stage],
    out: Path,
    names: Sequence[str] | None = None,
    progress: bool = True,
) -> dict[str, str]:
    """Runs the selected stages of a chain in order, skipping those already complete.

    Each stage logs to ``out/logs/<name>.log``; once it finishes, its record goes into
    ``out/stages.json`` (atomically). Killed at any point, the same call continues with the
    first incomplete stage, which resumes from its commands' own checkpoints.

    Args:
        stages: the whole chain, in order (``needs`` only name earlier stages).
        out: the output folder.
        names: the stages to run (None: all).
        progress: a progress bar over the stages.

    Returns:
        Stage name -> ``"skipped"`` or ``"ran"``, for the selected stages.
    """
    selected = select(stages, names)
    (out / "logs").mkdir(parents=True, exist_ok=True)
    records = read_records(out)
    check_needs(stages, selected, records)
    outcome: dict[str, str] = {}
    bar = tqdm(selected, desc="recipe", unit="stage", disable=not progress)
    for stage in bar:
        bar.set_postfix_str(stage.name)
        if is_complete(stage, records):
            logger.info("stage %s: complete, skipped", stage.name)
            outcome[stage.name] = "skipped"
            continue
        for name in [stage.name, *dependents(stages, stage.name)]:
            records.pop(name, None)
        write_records(out, records)
        log = out / "logs" / f"{stage.name}.log"
        logger.info("stage %s: running (log %s)", stage.name, log)
        start = time.monotonic()
        run_stage(stage, log)
        seconds = round(time.monotonic() - start, 1)
        records[stage.name] = {"fingerprint": stage.fingerprint(), "seconds": seconds}
        write_records(out, records)
        logger.info("stage %s: done in %.1f s", stage.name, seconds)
        outcome[stage.name] = "ran"
    return outcome
