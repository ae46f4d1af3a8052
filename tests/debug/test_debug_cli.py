"""`papercoder check` and `papercoder debug` from the command line."""

import json

import pytest
from typer.testing import CliRunner

pytest.importorskip("numpy")

from tests.debug.planted_bugs import CASES  # noqa: E402

from papercoder.cli import app  # noqa: E402
from papercoder.llm import LLM  # noqa: E402
from papercoder.repo import git  # noqa: E402

runner = CliRunner()


def test_check_text_and_json(tmp_path):
    case = next(c for c in CASES if c.name == "wrong-import-name")
    run_dir = tmp_path / "run"
    case.build(run_dir / "repo")
    (run_dir / "manifest.json").write_text("{}")
    result = runner.invoke(app, ["check", str(run_dir)])
    assert result.exit_code == 1
    assert "main.py:6: local-import: 'LinearModle' is not defined in model.py (did you mean 'LinearModel'?)" in result.stdout
    result = runner.invoke(app, ["check", str(run_dir / "repo"), "--json"])
    findings = json.loads(result.stdout)
    assert result.exit_code == 1 and findings[0]["file"] == "main.py" and findings[0]["line"] == 6
    clean = next(c for c in CASES if c.name == "numpy-shape-mismatch").build(tmp_path / "clean")
    result = runner.invoke(app, ["check", str(clean)])
    assert result.exit_code == 0 and result.stdout == "no findings\n"


def test_check_rejects_a_file(tmp_path):
    (tmp_path / "x.py").write_text("")
    result = runner.invoke(app, ["check", str(tmp_path / "x.py")])
    assert result.exit_code != 0


def test_debug_a_plain_folder(tmp_path, monkeypatch):
    case = next(c for c in CASES if c.name == "numpy-shape-mismatch")
    repo = case.build(tmp_path / "repo")
    seen = {}

    def fake_open_model(spec, *, base_url=None, log_path=None, max_cost=None):
        seen.update(spec=spec, log_path=log_path, max_cost=max_cost)
        return LLM(case.provider())

    import papercoder.llm.models

    monkeypatch.setattr(papercoder.llm.models, "open_model", fake_open_model)  # the command imports it when run
    result = runner.invoke(app, ["debug", str(repo), "-m", "openai:gpt-4.1", "--max-cost", "0.5", "--max-iterations", "2"])
    assert result.exit_code == 0, result.output
    assert "debugging: passed after 1 repair round(s)" in result.stdout
    assert seen == {"spec": "openai:gpt-4.1", "log_path": repo / ".papercoder/calls.sqlite", "max_cost": 0.5}
    assert git.log(repo)[0].startswith("papercoder debug: iteration 1: 1 edit(s) to model.py")
    result = runner.invoke(app, ["debug", str(repo), "--json", "--cmd", "exit 4", "--max-iterations", "0"])
    assert result.exit_code == 1 and json.loads(result.stdout)["status"] == "iteration-limit"
