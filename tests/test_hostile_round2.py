"""Hardening, round two: what a hostile test of the commands added since found, each a test that
failed before its fix (issue 28)."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
from pathlib import Path

import pytest

from papercoder.repo.sandbox import Limits, isolation, run_sandboxed
from papercoder.reproduce.executors import LocalExecutor
from papercoder.reproduce.reproduction import reproduce

SECRET = "sk-hostile-0123456789abcdef"
needs_pid_namespace = pytest.mark.skipif(not isolation().pid_namespace, reason="this machine allows no PID namespace")


def _repo(tmp_path: Path, script: str) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "reproduce.sh").write_text(script)
    (repo / "README.md").write_text("# r\n")
    return repo


@needs_pid_namespace
def test_reproduce_sh_cannot_read_the_key_from_any_process(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    script = (
        "echo \"pids: $(ls /proc | grep -c '^[0-9]')\"\n"
        "cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n' | grep -a sk-hostile && echo FOUND-IN-PROC\n"
        "env | grep -a sk-hostile && echo FOUND-IN-ENV\n"
        "echo done\n"
    )
    result = reproduce(_repo(tmp_path, script), tmp_path / "out", LocalExecutor(), timeout=60)
    log = (Path(result.folder) / "reproduce.log").read_text()
    assert "done" in log and "FOUND" not in log and SECRET not in log
    assert int(log.split("pids: ")[1].split()[0]) < 10  # its own /proc: only the script's few processes


def test_a_log_that_prints_the_key_reversed_or_in_base64_is_redacted(tmp_path, monkeypatch):
    monkeypatch.setenv("MY_SERVICE_TOKEN", SECRET)  # a key the script could have been given some other way
    encoded = base64.b64encode(SECRET.encode()).decode()
    script = f"echo plain {SECRET}; echo reversed {SECRET[::-1]}; echo b64 {encoded}; echo done\n"
    result = reproduce(_repo(tmp_path, script), tmp_path / "out", LocalExecutor(), timeout=60)
    log = (Path(result.folder) / "reproduce.log").read_text()
    assert "done" in log and SECRET not in log and SECRET[::-1] not in log and encoded not in log
    assert log.count("[redacted]") == 3 and SECRET not in result.log_tail


@needs_pid_namespace
def test_the_sandbox_has_its_own_hostname_and_no_capabilities(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "probe.py").write_text(
        "import socket\n"
        "try:\n    socket.sethostname('pwned-by-generated-code')\n    print('SETHOSTNAME-WORKED')\n"
        "except PermissionError:\n    print('sethostname refused')\n"
        "print('caps', [l for l in open('/proc/self/status') if l.startswith('CapEff')][0].split()[1])\n"
    )
    before = socket.gethostname()
    run = run_sandboxed(repo, "python probe.py", limits=Limits(timeout=60))
    assert run.ok, run.stderr
    assert "sethostname refused" in run.stdout and "SETHOSTNAME-WORKED" not in run.stdout
    assert int(run.stdout.split("caps ")[1].split()[0], 16) == 0
    assert socket.gethostname() == before


@needs_pid_namespace
def test_shared_memory_made_in_the_sandbox_does_not_reach_the_host(tmp_path):
    key = 0x5E000000 + os.getpid() % 0xFFFF  # a key of this test's own
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "shm.py").write_text(
        f"import ctypes\nlibc = ctypes.CDLL(None)\nprint('segment', libc.shmget({key}, 4096, 0o1000 | 0o600))\n"
    )
    run = run_sandboxed(repo, "python shm.py", limits=Limits(timeout=60))
    assert run.ok and int(run.stdout.split("segment ")[1]) >= 0
    listed = subprocess.run(["ipcs", "-m"], capture_output=True, text=True).stdout if Path("/usr/bin/ipcs").exists() else ""
    if f"{key:#010x}" in listed:  # left on the host: remove it, then fail
        subprocess.run(["ipcrm", "-M", str(key)], capture_output=True)
        pytest.fail("a shared memory segment made in the sandbox was left on the host")


# --- numbers that are not what they seem --------------------------------------------------------

from papercoder.rubric import node_from_dict, score_tree  # noqa: E402


@pytest.mark.parametrize("weight", [float("inf"), float("nan"), 1e308, -1])
def test_a_rubric_weight_that_is_not_a_usable_number_is_one_line(weight):
    from papercoder.errors import InputError

    tree = {"id": "root", "requirements": "r", "weight": 1, "sub_tasks": [
        {"id": "a", "requirements": "a", "weight": weight, "task_category": "Code Development", "sub_tasks": []}]}
    with pytest.raises(InputError, match="weights must be finite numbers"):
        node_from_dict(tree)


def test_large_but_valid_weights_do_not_overflow_the_weighted_mean():
    tree = node_from_dict({"id": "root", "requirements": "r", "weight": 1, "sub_tasks": [
        {"id": "a", "requirements": "a", "weight": 1e6, "sub_tasks": []},
        {"id": "b", "requirements": "b", "weight": 1e6, "sub_tasks": []}]})
    assert score_tree(tree, {"a": 1.0, "b": 0.0})["root"] == 0.5


@pytest.mark.parametrize("score", [7, -3, "NaN"])
def test_from_judgements_refuses_scores_outside_zero_to_one(tmp_path, score, capsys):
    from papercoder.cli import main

    graded = {"id": "root", "requirements": "r", "weight": 1, "score": 0.5, "sub_tasks": [
        {"id": "a", "requirements": "a", "weight": 1, "score": float(score) if score == "NaN" else score,
         "task_category": "Code Development", "sub_tasks": []}]}
    path = tmp_path / "graded.json"
    path.write_text(json.dumps(graded))
    with pytest.raises(SystemExit) as stopped:
        main(["grade", "--from-judgements", str(path)])
    err = capsys.readouterr().err
    assert stopped.value.code not in (0, None) and "scores run from 0 to 1" in err and "Traceback" not in err


@pytest.mark.parametrize("usage", [{"input_tokens": -500, "output_tokens": 10}, {"input_tokens": "lots", "output_tokens": 10}])
def test_usage_that_cannot_be_trusted_is_an_unknown_cost_and_counts_at_its_worst(usage):
    from papercoder.llm import LLM, FakeReply, ScriptedProvider
    from papercoder.llm.types import Usage

    provider = ScriptedProvider(lambda messages: FakeReply(text="ok", usage=Usage(**usage)))
    provider.model = "openai:gpt-4.1"
    llm = LLM(provider, max_cost=5.0)
    completion = llm.complete([{"role": "user", "content": "hello " * 400}], max_tokens=1000)
    assert completion.cost is None and completion.usage.unreliable
    assert llm.total().cost_unknown and llm._spent > 0  # the budget saw the worst case, not $0.00


# --- run directories and repositories that lead elsewhere ----------------------------------------


def _run_with_linked_repo(tmp_path: Path) -> Path:
    secret = tmp_path / "home" / ".ssh"
    secret.mkdir(parents=True)
    (secret / "id_rsa").write_text("-----BEGIN PRIVATE KEY-----\nnot for the page\n")
    run = tmp_path / "run"
    run.mkdir()
    (run / "manifest.json").write_text(json.dumps({"source": "p.md", "status": "done", "stages": {}}))
    (run / "paper.md").write_text("# P\n")
    (run / "repo").symlink_to(secret)
    return run


@pytest.mark.parametrize("argv", [["report", "{run}"], ["export", "{run}", "--paperbench", "{out}"], ["check", "{run}"],
                                  ["verify", "{run}"], ["debug", "{run}"], ["plan", "{run}"]])
def test_a_run_whose_repo_is_a_symlink_out_is_refused_by_every_command(tmp_path, argv, capsys):
    from papercoder.cli import main

    run = _run_with_linked_repo(tmp_path)
    args = [a.format(run=run, out=tmp_path / "out") for a in argv]
    with pytest.raises(SystemExit) as stopped:
        main(args)
    err = capsys.readouterr().err
    assert stopped.value.code not in (0, None) and "is a symbolic link" in err and "Traceback" not in err, err
    assert not (run / "report.html").exists() or "BEGIN PRIVATE KEY" not in (run / "report.html").read_text()
    assert not (tmp_path / "home" / ".ssh" / ".git").exists()


def test_export_copies_regular_files_only_and_sees_code_a_gitignore_hides(tmp_path):
    import stat

    from papercoder.export.paperbench import export_submission

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "reproduce.sh").write_text("python main.py\n")
    (repo / "main.py").write_text("print('x')\n")
    (repo / ".gitignore").write_text("*.py\n")
    os.mkfifo(repo / "a-fifo")
    if os.geteuid() == 0:
        os.mknod(repo / "zero", stat.S_IFCHR | 0o666, os.makedev(1, 5))  # /dev/zero, inside the repository
    result = export_submission(repo, tmp_path / "out")
    assert any("a-fifo (not a regular file)" == entry for entry in result.left_out)
    assert os.geteuid() != 0 or "zero (not a regular file)" in result.left_out
    assert any("main.py" in problem and "not committed" in problem for problem in result.problems)


# --- the report trusts nothing it reads ----------------------------------------------------------


@pytest.fixture(scope="module")
def planned_run(tmp_path_factory):
    from tests.pipeline.run_answers import answer
    from tests.pipeline.run_fixtures import EXAMPLE_PAPER

    from papercoder.llm import ScriptedProvider
    from papercoder.run import run_paper

    root = tmp_path_factory.mktemp("report")
    run_paper(str(EXAMPLE_PAPER), out_dir=root / "run", provider=ScriptedProvider(answer), stages=["plan", "analyze", "code"],
              show_progress=False)
    return root / "run"


def _page(run: Path, capsys) -> str:
    from papercoder.cli import main

    try:
        main(["report", str(run)])
    except SystemExit as stopped:
        assert stopped.code in (0, None), capsys.readouterr().err
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return (run / "report.html").read_text()


def test_a_commit_id_that_is_an_option_never_reaches_git(planned_run, tmp_path, capsys):
    pwned = tmp_path / "PWNED"
    (planned_run / "debug").mkdir(exist_ok=True)
    (planned_run / "debug" / "report.json").write_text(json.dumps(
        {"status": "passed", "notes": [{"number": 1, "commit": f"--output={pwned}", "applied": []}]}))
    _page(planned_run, capsys)
    assert not pwned.exists()


def test_numbers_that_are_markup_are_not_rendered_and_forms_are_blocked(planned_run, capsys):
    payload = '<meta http-equiv="refresh" content="0;url=https://example.invalid"><form action="x">'
    (planned_run / "debug").mkdir(exist_ok=True)
    (planned_run / "debug" / "report.json").write_text(json.dumps(
        {"status": "failed", "iterations": payload, "lines_changed": payload, "lines_total": [1], "notes": []}))
    (planned_run / "verify").mkdir(exist_ok=True)
    (planned_run / "verify" / "report.json").write_text(json.dumps(
        {"status": "done", "coverage_before": payload, "leaves": payload, "failing": payload, "rounds": [{"number": payload, "asked": payload, "coverage": "x"}]}))
    page = _page(planned_run, capsys)
    assert "<meta http-equiv=\"refresh\"" not in page and "<form" not in page
    assert "form-action 'none'" in page


@pytest.mark.parametrize("damage", ["[1, 2]", '"a string"', "{" * 20000 + "}" * 20000, '{"sub_tasks": 5}', "nonsense"])
def test_damaged_json_of_every_kind_gives_a_page_with_a_warning(planned_run, capsys, damage):
    for path in ("debug/report.json", "verify/report.json", "planning/tasks.json", "planning/checklist.json", "eval/grade-x.json"):
        target = planned_run / path
        target.parent.mkdir(exist_ok=True)
        target.write_text(damage)
    page = _page(planned_run, capsys)
    assert "<html" in page.lower()


def test_reproduce_ends_when_its_script_does_and_leaves_nothing_running(tmp_path):
    import time

    marker = tmp_path / "still-running"
    script = f"(sleep 30; touch {marker}) &\nsetsid bash -c 'sleep 30; touch {marker}' &\necho started\n"
    begun = time.monotonic()
    result = reproduce(_repo(tmp_path, script), tmp_path / "out", LocalExecutor(), timeout=120)
    assert result.ok and time.monotonic() - begun < 20  # not the background children's 30 s
    if isolation().pid_namespace:  # the namespace ends with the script: setsid children included
        time.sleep(0.5)
        out = subprocess.run(["pgrep", "-f", f"touch {marker}"], capture_output=True, text=True).stdout
        assert not out.strip()


def test_an_edit_aimed_outside_the_repository_is_refused_and_listed_even_after_a_good_retry(tmp_path):
    import asyncio

    from papercoder.llm import LLM, FakeReply, ScriptedProvider
    from papercoder.pipeline.repair import edit_loop

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "main.py").write_text("x = 1\n")
    outside = "../escape.py\n<<<<<<< SEARCH\n=======\nprint('out')\n>>>>>>> REPLACE\n"
    good = "main.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n"
    llm = LLM(ScriptedProvider([FakeReply(text=outside + "\n" + good), FakeReply(text="Nothing more.")]))
    applied, failed, _ = asyncio.run(edit_loop(llm, repo, [{"role": "user", "content": "fix"}]))
    assert applied == ["main.py (block 2)"] and not (tmp_path / "escape.py").exists()
    assert any(item.startswith("../escape.py: refused") for item in failed)
