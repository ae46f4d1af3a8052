"""Bad input on every command: one `error:` line, a non-zero exit, never a traceback."""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import pytest

from papercoder.cli import main

PAPER = str(Path(__file__).resolve().parents[1] / "examples" / "prototype-classifier.md")
NOWHERE = ["-m", "openai:x", "--base-url", "http://127.0.0.1:9/v1"]  # a server that is never reached


def cli(argv: list[str], capsys, stdin: bytes | None = None) -> tuple[int, str]:
    """Run the CLI in this process; returns (exit code, stderr). A traceback fails the test."""
    old = sys.stdin
    if stdin is not None:
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8", errors="surrogateescape")
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.stdin = old
    return code, capsys.readouterr().err


def one_error_line(err: str) -> bool:
    lines = [line for line in err.splitlines() if line.strip()]
    return bool(lines) and lines[-1].startswith("error: ") and "Traceback" not in err


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    (tmp_path / "afile").write_text("x\n")
    return tmp_path


@pytest.mark.parametrize(
    "argv",
    [
        ["run", PAPER, "-o", "afile/sub", *NOWHERE],
        ["run", PAPER, "-o", "/proc/papercoder-test", *NOWHERE],
        ["run", PAPER, "-o", "afile", *NOWHERE],
        ["run", PAPER, "--stages", "", *NOWHERE],
        ["run", PAPER, "--max-cost", "nan", *NOWHERE],
        ["run", PAPER, "--max-cost", "inf", *NOWHERE],
        ["code", "afile"],
        ["plan", "nothing-here"],
        ["eval", ".", "--paper", PAPER, "-o", "afile", *NOWHERE],
        ["batch", ".", "-o", "afile"],
        ["ingest", "/dev/zero"],
        ["ingest", "afile/none.pdf"],
    ],
    ids=lambda argv: " ".join(argv[:4]),
)
def test_bad_paths_and_flags(here, capsys, argv):
    code, err = cli(argv, capsys)
    assert code != 0 and one_error_line(err), err


def test_a_fifo_is_refused_not_waited_on(here, capsys):
    os.mkfifo(here / "paper.fifo")
    code, err = cli(["ingest", str(here / "paper.fifo")], capsys)
    assert code == 2 and "not a regular file" in err


@pytest.mark.parametrize(
    "manifest",
    ["[]", "null", '{"stages": {"plan": "done"}}', '{"paper": "x"}', '{"stages": []}', "{not json"],
)
def test_a_damaged_manifest_is_one_line(here, capsys, manifest):
    run = here / "run"
    run.mkdir()
    (run / "manifest.json").write_text(manifest)
    (run / "paper.md").write_text("# P\n")
    code, err = cli(["run", PAPER, "-o", str(run), "--resume", *NOWHERE], capsys)
    assert code == 2 and one_error_line(err) and "manifest.json" in err, err


@pytest.mark.parametrize("junk", [b"not a database at all" * 100, b"SQLite format 3\x00" + b"\x01" * 50, None])
def test_a_damaged_call_log_is_one_line(here, capsys, junk):
    from papercoder.llm import CallLog
    from papercoder.errors import PapercoderError

    path = here / "calls.sqlite"
    if junk is None:
        path.mkdir()
    else:
        path.write_bytes(junk)
    with pytest.raises(PapercoderError, match="call log"):
        CallLog(path)


def test_a_config_file_in_latin1_is_one_line(here, capsys):
    (here / "papercoder.toml").write_bytes('model = "caf\xe9"\n'.encode("latin-1"))
    code, err = cli(["models", "--offline"], capsys)
    assert code == 2 and "UTF-8" in err


def test_a_malformed_base_url_is_reported_not_raised(here, capsys):
    code, err = cli(["models", "--base-url", "::::"], capsys)
    assert "Traceback" not in err


def test_random_bytes_on_stdin_to_ask_are_sent_as_text(here, capsys):
    from papercoder.testing.fake_openai import FakeOpenAIServer

    with FakeOpenAIServer(["fine"]) as server:
        code, err = cli(["ask", "-m", "openai:x", "--base-url", server.base_url, "-"], capsys, stdin=os.urandom(300))
    assert code == 0, err
    assert isinstance(server.requests[0].body["messages"][-1]["content"], str)


def test_a_rubric_nested_too_deeply_is_one_line(here, capsys):
    leaf = json.dumps({"id": "leaf", "requirements": "r", "weight": 1, "task_category": "Code Development"})
    opening = "".join(f'{{"id": "n{d}", "requirements": "r", "weight": 1, "sub_tasks": [' for d in range(3000))
    (here / "rubric.json").write_text(opening + leaf + "]}" * 3000)
    (here / "repo").mkdir()
    code, err = cli(["grade", "repo", "--rubric", "rubric.json", "--paper", PAPER, *NOWHERE], capsys)
    assert code == 2 and "deeper" in err, err
    (here / "deep.json").write_text("[" * 100_000)
    code, err = cli(["grade", "repo", "--rubric", "deep.json", "--paper", PAPER, *NOWHERE], capsys)
    assert code == 2 and one_error_line(err), err


@pytest.mark.parametrize("content", [b"\x89PNG\x00\x01binary", "paper\ncaf\xe9.pdf\n".encode("latin-1")])
def test_a_batch_csv_that_is_not_text_is_one_line(here, capsys, content):
    (here / "papers.csv").write_bytes(content)
    code, err = cli(["batch", "papers.csv", "-o", "out"], capsys)
    assert code == 2 and one_error_line(err), err


def test_a_latex_input_tree_that_repeats_is_refused_quickly(here, capsys):
    tex = here / "tex"
    tex.mkdir()
    for level in range(7):
        body = "".join(f"\\input{{l{level + 1}}}\n" for _ in range(8)) if level < 6 else "x\n"
        if level == 0:
            body = "\\documentclass{article}\\begin{document}\n" + body + "\\end{document}\n"
        (tex / ("main.tex" if level == 0 else f"l{level}.tex")).write_text(body)
    code, err = cli(["ingest", str(tex / "main.tex")], capsys)
    assert code == 2 and "more than" in err and "files" in err

