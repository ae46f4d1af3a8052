"""The command line itself: version, help, one-line errors."""

import subprocess
import sys

from papercoder import __version__


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "papercoder", *args], capture_output=True, text=True, timeout=120)


def test_version():
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"papercoder {__version__}"


def test_help_lists_commands():
    result = run_cli("--help")
    assert result.returncode == 0
    assert "Usage" in result.stdout


def test_the_cli_and_ingest_import_no_model_stack(tmp_path):
    """--help and ingest start fast: no provider SDK, not even papercoder's model layer."""
    import subprocess
    import sys

    paper = tmp_path / "p.md"
    paper.write_text("# A Paper\n\n## Method\n\nWe do it.\n", encoding="utf-8")
    code = (
        "import sys\nfrom papercoder.cli import main\n"
        f"try:\n    main(['ingest', {str(paper)!r}, '-o', {str(tmp_path / 'out.md')!r}])\nexcept SystemExit:\n    pass\n"
        "loaded = [m for m in sys.modules if m.startswith('papercoder.llm') or m in ('openai', 'anthropic', 'llama_cpp')]\n"
        "print('LOADED', loaded)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "LOADED []" in done.stdout, done.stdout + done.stderr
    assert "We do it." in (tmp_path / "out.md").read_text(encoding="utf-8")
