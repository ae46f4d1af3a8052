"""Batch runs: finding papers, bounded parallelism, resuming, and the summary table."""

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

import papercoder.run
from tests.evaluate.evalkit import PAPER, SMALL_REPO, judge, make_repo
from papercoder.cli import app
from papercoder.errors import InputError, PapercoderError
from papercoder.evaluate import inputs
from papercoder.batch import BatchOptions, discover_papers, run_batch


@dataclass
class Total:
    cost: float


@dataclass
class FakeRun:
    run_dir: Path
    repo: Path
    status: str
    total: Total = field(default_factory=lambda: Total(0.25))


class StandIn:
    """Replaces run_paper: writes a tiny run directory, counts calls and concurrency."""

    def __init__(self, fail: set[str] = frozenset(), delay: float = 0.0):
        self.fail = set(fail)
        self.delay = delay
        self.calls: list[str] = []
        self.active = 0
        self.peak = 0
        self.lock = threading.Lock()

    def __call__(self, source, *, out_dir, resume, show_progress, **kwargs):
        with self.lock:
            self.calls.append(Path(source).name)
            self.active += 1
            self.peak = max(self.peak, self.active)
        try:
            time.sleep(self.delay)
            if Path(source).name in self.fail:
                raise PapercoderError("the model refused")
            assert resume is True and show_progress is False
            make_repo(out_dir / "repo", SMALL_REPO)
            (out_dir / "manifest.json").write_text("{}")
            return FakeRun(run_dir=out_dir, repo=out_dir / "repo", status="done")
        finally:
            with self.lock:
                self.active -= 1


def papers_folder(root: Path, names=("alpha.md", "beta.pdf", "gamma.md")) -> Path:
    root.mkdir()
    for name in names:
        (root / name).write_text("paper")
    (root / "README.md").write_text("not a paper")
    (root / "notes.docx").write_text("not a paper either")
    return root


def test_discover_folder_and_csv(tmp_path):
    folder = papers_folder(tmp_path / "papers")
    (folder / "latex-src").mkdir()
    (folder / "latex-src" / "main.tex").write_text("\\documentclass{article}")
    assert [Path(p).name for p in discover_papers(folder)] == ["alpha.md", "beta.pdf", "gamma.md", "latex-src"]
    csv = tmp_path / "list.csv"
    csv.write_text("title,paper\nA,papers/alpha.md\nB,arxiv:2401.00001\n,\n")
    assert discover_papers(csv) == [str(tmp_path / "papers" / "alpha.md"), "arxiv:2401.00001"]
    with pytest.raises(InputError):
        discover_papers(tmp_path / "missing")


def test_batch_resumes_skipping_done_papers(tmp_path, monkeypatch):
    folder = papers_folder(tmp_path / "papers")
    first = StandIn(fail={"beta.pdf"})
    monkeypatch.setattr(papercoder.run, "run_paper", first)
    options = BatchOptions(out=tmp_path / "out", jobs=2)
    records = run_batch(discover_papers(folder), options)
    assert [(r["slug"], r["status"]) for r in records] == [("alpha", "done"), ("beta", "failed"), ("gamma", "done")]
    assert records[1]["error"] == "the model refused"
    assert (tmp_path / "out" / "results" / "alpha.json").is_file()

    second = StandIn()
    monkeypatch.setattr(papercoder.run, "run_paper", second)
    records = run_batch(discover_papers(folder), options)
    assert second.calls == ["beta.pdf"]  # only the failed paper ran again
    assert [r["status"] for r in records] == ["done", "done", "done"]
    assert records[0]["skipped"] and not records[1].get("skipped")
    summary = (tmp_path / "out" / "summary.md").read_text()
    for word in ("paper", "status", "cost", "time", "eval", "grade", "alpha", "(earlier)", "$0.2500"):
        assert word in summary


def test_batch_runs_at_most_jobs_papers_at_once(tmp_path, monkeypatch):
    folder = papers_folder(tmp_path / "papers", names=[f"p{i}.md" for i in range(5)])
    stand_in = StandIn(delay=0.15)
    monkeypatch.setattr(papercoder.run, "run_paper", stand_in)
    run_batch(discover_papers(folder), BatchOptions(out=tmp_path / "out", jobs=2))
    assert len(stand_in.calls) == 5 and stand_in.peak == 2


def test_batch_cli_with_eval_scores_each_repository_and_asking_for_more_reruns(tmp_path, monkeypatch):
    folder = papers_folder(tmp_path / "papers", names=["alpha.md"])
    stand_in = StandIn()
    monkeypatch.setattr(papercoder.run, "run_paper", stand_in)
    monkeypatch.setattr(inputs, "load_paper", lambda source: PAPER)
    monkeypatch.setattr(inputs, "open_judge", lambda model, **kw: judge(lambda m: '{"critiques": [], "score": 4}'))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["batch", str(folder), "--eval", "-n", "3", "-o", str(out)])
    assert result.exit_code == 0, result.output
    record = json.loads((out / "results" / "alpha.json").read_text())
    assert record["eval"] == 4 and record["eval_valid"] == 3
    assert (out / "runs" / "alpha" / "eval" / "eval.json").is_file()
    assert "alpha" in result.output and "4.00" in result.output

    again = CliRunner().invoke(app, ["batch", str(folder), "--eval", "-n", "3", "-o", str(out)])
    assert "already done" in again.output and len(stand_in.calls) == 1
    rubric = tmp_path / "rubric.json"
    rubric.write_text(json.dumps({"id": "r", "requirements": "all", "weight": 1, "sub_tasks": [
        {"id": "a", "requirements": "loss", "weight": 1, "task_category": "Code Development", "sub_tasks": []}]}))
    monkeypatch.setattr(inputs, "open_judge", lambda model, **kw: judge(lambda m: '{"explanation": "y", "score": 1}'))
    graded = CliRunner().invoke(app, ["batch", str(folder), "--grade", str(rubric), "-o", str(out)])
    assert graded.exit_code == 0, graded.output
    assert len(stand_in.calls) == 2  # grading was asked for: the paper was not done yet
    assert "100.0%" in graded.output


def test_without_ray_the_ray_executor_says_how_to_install_it(tmp_path, monkeypatch):
    import sys

    folder = papers_folder(tmp_path / "papers", names=["alpha.md"])
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
    monkeypatch.setattr(papercoder.run, "run_paper", StandIn())
    with pytest.raises(InputError, match=r"pip install 'papercoder\[ray\]'"):
        run_batch(discover_papers(folder), BatchOptions(out=tmp_path / "out", executor="ray", model="openai:x"))


def test_a_failed_or_degraded_paper_makes_the_batch_exit_1(tmp_path, monkeypatch):
    folder = papers_folder(tmp_path / "papers", names=["alpha.md", "beta.md"])
    monkeypatch.setattr(papercoder.run, "run_paper", StandIn(fail={"beta.md"}))
    result = CliRunner().invoke(app, ["batch", str(folder), "-o", str(tmp_path / "out")])
    assert result.exit_code == 1 and "1 of 2 papers not done: beta" in result.output
    assert "[1/2]" in result.output and "[2/2]" in result.output
