"""``papercoder doctor``: what a run on this machine will have, in one table, before anything is paid.

The model a run would use and why, its context window and where that number came from, the keys
found (never their values), whether the model's server answers, the sandbox's layers, git (the
repair history needs it), a container engine for ``reproduce --executor docker|podman``, Ray for
``batch --executor ray``. A run can proceed when the model can be reached and git is there.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass

from papercoder.config import Config
from papercoder.errors import PapercoderError
from papercoder.llm.images import reads_images
from papercoder.llm.models import build_provider, choose_model, resolve_window
from papercoder.llm.registry import PRESETS, PROVIDERS
from papercoder.llm.types import Check


@dataclass
class Row:
    """One line of the table; ``needed`` rows that are not ok stop a run."""

    name: str
    state: str
    ok: bool
    needed: bool = False


def diagnose(config: Config, *, model: str | None = None, base_url: str | None = None, probe: bool = True,
             env: Mapping[str, str] | None = None) -> list[Row]:
    """Every row of the table, the model first."""
    env = os.environ if env is None else env
    rows: list[Row] = []
    try:
        choice = choose_model(model, base_url=base_url, config=config, env=env)
        rows.append(Row("model", f"{choice.spec}{' at ' + choice.base_url if choice.base_url else ''} (from {choice.reason})", True, True))
        provider = build_provider(choice, config, env)
        if probe:
            window = resolve_window(provider, choice, config, env=env)
            what = "assumed: set --context-window or context_window" if window.assumed else window.source
            rows.append(Row("context window", f"{window.tokens:,} tokens ({what})", not window.assumed))
        vision, why = reads_images(provider.model, configured=config.vision, server=window.vision if probe else None,
                                   text_only=bool(getattr(provider, "text_only", False)))
        rows.append(Row("figures", ("sent as images" if vision else "captions only") + f" ({why})", True))
        kind = PROVIDERS[choice.provider]
        for check in kind.checks(config, base_url or choice.base_url, env, probe):
            rows.append(_row(check, needed=probe and check.name.startswith(("server", "api.", "local:", "llama"))))
    except PapercoderError as exc:
        rows.append(Row("model", str(exc), False, True))
    rows += _keys(config, env)
    rows += _machine()
    return rows


def _row(check: Check, *, needed: bool) -> Row:
    return Row(check.name, check.state, check.ok, needed)


def _keys(config: Config, env: Mapping[str, str]) -> list[Row]:
    names = {kind.key_env(config) for kind in PROVIDERS.values()} | {p.key_env for p in PRESETS.values()}
    return [Row(f"key {name}", "set" if env.get(name) else "not set", bool(env.get(name))) for name in sorted(n for n in names if n)]


def _machine() -> list[Row]:
    from papercoder.repo.sandbox import isolation
    from papercoder.reproduce.executors import ContainerExecutor

    found = isolation()
    layers = [name for name, on in (("network namespace", found.network), ("PID namespace", found.pid_namespace),
                                     ("own /proc and /tmp", found.mounts),
                                     (f"Landlock ABI {found.landlock_abi}", found.landlock_abi > 0),
                                     (f"process limit ({found.process_limit})", found.process_limit != "none")) if on]
    rows = [Row("sandbox", ", ".join(layers) or "no isolation layer available: generated code runs with your rights",
                bool(found.network and found.pid_namespace))]
    rows.append(Row("git", shutil.which("git") or "not installed: the debug and verify stages need it", bool(shutil.which("git")), True))
    engines = []
    for engine in ("docker", "podman"):
        why = ContainerExecutor(engine=engine).available() if shutil.which(engine) else f"{engine} is not installed"
        engines.append(f"{engine}: {'runs containers' if not why else why[:80]}")
        if not why:
            break
    rows.append(Row("reproduce in a container", "; ".join(engines), any("runs containers" in e for e in engines)))
    ray = importlib.util.find_spec("ray") is not None
    rows.append(Row("ray", "installed" if ray else "not installed: pip install 'papercoder[ray]' for batch --executor ray", ray))
    return rows


def can_run(rows: list[Row]) -> tuple[bool, str]:
    """Whether a run can proceed here, and the first reason why not."""
    for row in rows:
        if row.needed and not row.ok:
            return False, f"{row.name}: {row.state}"
    return True, ""
