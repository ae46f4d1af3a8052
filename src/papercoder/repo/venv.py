"""An optional virtual environment per generated repository, with its requirements installed.

pip runs outside the sandbox (it needs the network) with a timeout, and reuses pip's own cache.
With ``system_site_packages`` the environment sees the base interpreter's packages, so a large
install such as torch is reused instead of downloaded again.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass
class VenvResult:
    """The environment, and whether its requirements installed."""

    path: Path
    ok: bool
    message: str = ""


def ensure_venv(
    venv: Path,
    requirements: Path,
    *,
    system_site_packages: bool = True,
    timeout: float = 900.0,
    extra: list[str] | None = None,
) -> VenvResult:
    """Create ``venv`` if needed and install ``requirements`` (and ``extra``) when they changed."""
    python = venv / "bin" / "python"
    if not python.exists():
        # seeing the system's packages, the base interpreter's pip serves: skip the slow ensurepip
        options = ["--system-site-packages", "--without-pip"] if system_site_packages else []
        made = subprocess.run([sys.executable, "-m", "venv", *options, str(venv)], capture_output=True, text=True, timeout=300)
        if made.returncode == 0 and subprocess.run([str(python), "-c", "import pip"], capture_output=True).returncode != 0:
            made = subprocess.run([str(python), "-m", "ensurepip", "--default-pip"], capture_output=True, text=True, timeout=300)
        if made.returncode != 0:
            return VenvResult(venv, False, f"could not create a virtual environment: {made.stderr.strip()[-500:]}")
    wanted = requirements.read_text(encoding="utf-8") if requirements.is_file() else ""
    wanted += "".join(f"\n{name}" for name in extra or [])
    digest = hashlib.sha256(wanted.encode()).hexdigest()
    stamp = venv / ".papercoder-requirements"
    if stamp.exists() and stamp.read_text() == digest:
        return VenvResult(venv, True, "requirements already installed")
    command = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
    if requirements.is_file():
        command += ["-r", str(requirements)]
    command += list(extra or [])
    if command[-1] == "--no-input":
        stamp.write_text(digest)
        return VenvResult(venv, True, "nothing to install")
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return VenvResult(venv, False, f"pip install did not finish within {timeout:.0f}s")
    if done.returncode != 0:
        tail = (done.stderr.strip() or done.stdout.strip())[-1500:]
        return VenvResult(venv, False, f"pip install failed:\n{tail}")
    stamp.write_text(digest)
    return VenvResult(venv, True, "requirements installed")
