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
