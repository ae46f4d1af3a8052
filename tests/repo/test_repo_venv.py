"""--venv: a virtual environment per repository, first on the sandbox's PATH."""

from papercoder.repo.sandbox import Limits, run_sandboxed
from papercoder.repo.venv import ensure_venv


def test_venv_is_made_once_and_used_by_the_run(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "requirements.txt").write_text("# nothing needed\n")
    venv = tmp_path / "venv"
    made = ensure_venv(venv, repo / "requirements.txt")
    assert made.ok and (venv / "bin/python").exists()
    again = ensure_venv(venv, repo / "requirements.txt")
    assert again.ok and again.message == "requirements already installed"
    result = run_sandboxed(repo, ["python", "-c", "import sys; print(sys.prefix)"], venv=venv, limits=Limits(timeout=20))
    assert result.ok and result.stdout.strip() == str(venv)
