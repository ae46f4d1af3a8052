"""One process per run directory; a run stopped at any point, even before its manifest, continues."""

import threading
import time
from pathlib import Path

import pytest

from papercoder.errors import InputError
from papercoder.llm import CallLog, ScriptedProvider
from papercoder.rundir.lock import RunLock, remove_leftovers
from papercoder.run import run_paper
from tests.pipeline.run_answers import answer

PAPER = str(Path(__file__).resolve().parents[2] / "examples" / "prototype-classifier.md")


def go(run: Path, **kwargs):
    kwargs.setdefault("stages", ["plan"])
    return run_paper(PAPER, out_dir=run, provider=ScriptedProvider(answer), show_progress=False, **kwargs)


def test_a_second_process_on_a_run_directory_is_refused_with_who_holds_it(tmp_path):
    run = tmp_path / "run"
    go(run)
    with RunLock(run):
        with pytest.raises(InputError, match=r"in use by another papercoder process \(pid \d+\).*--wait"):
            go(run, resume=True)
    assert go(run, resume=True).status == "done"  # free again


def test_wait_waits_for_the_other_process(tmp_path):
    run = tmp_path / "run"
    go(run)
    held = RunLock(run).acquire()
    threading.Timer(0.4, held.release).start()
    start = time.monotonic()
    result = go(run, resume=True, wait=True)
    assert result.status == "done" and time.monotonic() - start >= 0.3


def test_a_new_run_on_a_directory_in_use_is_refused(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    with RunLock(run):
        with pytest.raises(InputError, match="in use"):
            go(run)


@pytest.mark.parametrize("resume", [False, True])
def test_a_run_killed_before_its_manifest_is_taken_as_new_and_keeps_its_answers(tmp_path, resume):
    run = tmp_path / "run"
    run.mkdir()
    with CallLog(run / "calls.sqlite"):
        pass
    (run / "run.log").write_text("2026-01-01T00:00:00Z run: starting\n")
    (run / ".manifest.json.tmp999999999").write_text("{")
    result = go(run, resume=resume)
    assert result.status == "done" and (run / "manifest.json").is_file()
    assert not (run / ".manifest.json.tmp999999999").exists()


def test_leftover_temp_files_of_dead_processes_are_removed_and_live_ones_kept(tmp_path):
    import os

    dead = tmp_path / "planning" / ".plan.md.tmp999999999"
    dead.parent.mkdir()
    dead.write_text("partial")
    mine = tmp_path / f".paper.md.tmp{os.getpid()}"
    mine.write_text("being written")
    assert remove_leftovers(tmp_path) == [dead]
    assert mine.exists()
