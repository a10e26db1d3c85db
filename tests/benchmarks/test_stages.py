"""The recipe's chain runner (`benchmarks.stages`): a stage's files before its commands,
records that skip finished stages and rerun their dependents, stage selection, a failing
command named, and a killed chain taking its running command with it."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.stages import Command, Stage, read_records, run_chain


def test_a_stages_files_are_written_before_its_commands_which_read_them(tmp_path, monkeypatch):
    source = tmp_path / "in.txt"
    reader = [sys.executable, "-c", f"print(open({str(source)!r}).read())"]
    monkeypatch.setattr(Command, "argv", lambda self: reader)
    stage = Stage("read", (Command("wmplan-collect", ()),), files={str(source): "planned"})
    run_chain([stage], tmp_path, progress=False)
    assert "planned" in (tmp_path / "logs" / "read.log").read_text()


def _file_chain(out: Path, text: str = "a") -> list[Stage]:
    return [
        Stage("one", files={str(out / "one.txt"): text}, outputs=(str(out / "one.txt"),)),
        Stage("two", files={str(out / "two.txt"): "b"}, needs=("one",)),
        Stage("three", files={str(out / "three.txt"): "c"}, needs=("two",)),
        Stage("other", files={str(out / "other.txt"): "d"}),
    ]


def test_complete_stages_are_skipped_and_a_rerun_stage_reruns_its_dependents(tmp_path):
    assert set(run_chain(_file_chain(tmp_path), tmp_path, progress=False).values()) == {"ran"}
    assert set(read_records(tmp_path)) == {"one", "two", "three", "other"}
    again = run_chain(_file_chain(tmp_path), tmp_path, progress=False)
    assert set(again.values()) == {"skipped"}
    changed = run_chain(_file_chain(tmp_path, text="new"), tmp_path, progress=False)
    assert changed == {"one": "ran", "two": "ran", "three": "ran", "other": "skipped"}
    assert (tmp_path / "one.txt").read_text() == "new"
    (tmp_path / "one.txt").unlink()  # an output gone: the stage is not complete
    assert run_chain(_file_chain(tmp_path, "new"), tmp_path, ["one"], progress=False) == {
        "one": "ran"
    }
    assert set(read_records(tmp_path)) == {"one", "other"}  # two, three: stale


def test_stage_selection_checks_names_and_needs(tmp_path):
    with pytest.raises(ValueError, match=r"unknown stages \['four'\]"):
        run_chain(_file_chain(tmp_path), tmp_path, ["one", "four"], progress=False)
    with pytest.raises(ValueError, match=r"stage 'three' needs \['two'\] first"):
        run_chain(_file_chain(tmp_path), tmp_path, ["one", "three"], progress=False)


def test_a_failing_command_names_itself_and_leaves_its_stage_incomplete(tmp_path):
    bad = Command("wmplan-collect", ("no_such_key=1",), (f"hydra.run.dir={tmp_path / 'h'}",))
    stages = [*_file_chain(tmp_path)[:1], Stage("bad", (bad,), needs=("one",))]
    with pytest.raises(RuntimeError, match="wmplan-collect no_such_key=1 .* exited with status"):
        run_chain(stages, tmp_path, progress=False)
    assert set(read_records(tmp_path)) == {"one"}
    assert "no_such_key" in (tmp_path / "logs" / "bad.log").read_text()


_CHAIN_WITH_A_SLEEPER = """
import sys
from pathlib import Path
from benchmarks.stages import Command, Stage, run_chain
out = Path(sys.argv[1])
sleeper = "import os, time; open({!r}, 'w').write(str(os.getpid())); time.sleep(120)"
Command.argv = lambda self: [sys.executable, "-c", sleeper.format(str(out / "pid"))]
run_chain([Stage("sleep", (Command("wmplan-collect", ()),))], out, progress=False)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux's")
def test_a_chain_killed_on_its_own_takes_its_running_command_with_it(tmp_path):
    chain = subprocess.Popen([sys.executable, "-c", _CHAIN_WITH_A_SLEEPER, str(tmp_path)])
    pid_file, deadline = tmp_path / "pid", time.monotonic() + 60
    while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    command_pid = int(pid_file.read_text())
    chain.send_signal(signal.SIGTERM)  # the chain alone, not its process group
    chain.wait(timeout=30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(command_pid, 0)
        except ProcessLookupError:
            break  # gone
        time.sleep(0.05)
    else:
        os.kill(command_pid, signal.SIGKILL)
        pytest.fail("the chain's command outlived the chain")
