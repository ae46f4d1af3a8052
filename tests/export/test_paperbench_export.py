"""papercoder export --paperbench: a submission PaperBench's grader accepts."""

from __future__ import annotations

import os
import subprocess

from typer.testing import CliRunner

from papercoder.cli import app
from papercoder.export.paperbench import MAX_FILE_BYTES, check_submission, export_submission


def _repo(root):
    (root / "src").mkdir(parents=True)
    (root / "main.py").write_text("print('hi')\n")
    (root / "src" / "model.py").write_text("X = 1\n")
    (root / "reproduce.sh").write_text("#!/usr/bin/env bash\npython main.py\n")
    for junk in (".venv/lib/x.py", "__pycache__/main.cpython-311.pyc", ".papercoder/calls.sqlite", "src/__pycache__/m.pyc"):
        (root / junk).parent.mkdir(parents=True, exist_ok=True)
        (root / junk).write_text("junk")
    with open(root / "weights.bin", "wb") as handle:  # sparse: large, but no disk
        handle.truncate(MAX_FILE_BYTES + 1)
    return root


def test_the_export_is_a_committed_repository_without_caches(tmp_path):
    result = export_submission(_repo(tmp_path / "repo"), tmp_path / "out")
    submission = tmp_path / "out" / "submission"
    assert result.problems == [] and check_submission(submission) == []
    tracked = subprocess.run(["git", "ls-files"], cwd=submission, capture_output=True, text=True).stdout.split()
    assert sorted(tracked) == ["README.md", "main.py", "reproduce.sh", "src/model.py"]
    assert os.access(submission / "reproduce.sh", os.X_OK)
    assert any(item.startswith("weights.bin") for item in result.left_out)
    # what PaperBench does before grading loses nothing
    subprocess.run(["git", "clean", "-fd"], cwd=submission, check=True)
    assert (submission / "src" / "model.py").read_text() == "X = 1\n"


def test_a_broken_submission_is_named(tmp_path):
    result = export_submission(_repo(tmp_path / "repo"), tmp_path / "out")
    submission = result.submission
    (submission / "extra.py").write_text("new")
    subprocess.run(["git", "rm", "-q", "reproduce.sh"], cwd=submission, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"], cwd=submission, check=True)
    problems = check_submission(submission)
    assert any("reproduce.sh is not committed" in p for p in problems)
    assert any("not committed" in p and "extra.py" in p for p in problems)


def test_the_command_refuses_a_repository_without_reproduce_sh_and_a_used_folder(tmp_path):
    repo = _repo(tmp_path / "repo")
    done = CliRunner().invoke(app, ["export", str(repo), "--paperbench", str(tmp_path / "out")])
    assert done.exit_code == 0 and "valid PaperBench submission" in done.stdout
    again = CliRunner().invoke(app, ["export", str(repo), "--paperbench", str(tmp_path / "out")])
    assert again.exit_code != 0 and "not empty" in str(again.exception)
    (repo / "reproduce.sh").unlink()
    missing = CliRunner().invoke(app, ["export", str(repo), "--paperbench", str(tmp_path / "other")])
    assert missing.exit_code != 0 and "no reproduce.sh" in str(missing.exception)
