"""What is configured and whether it works: the data behind ``papercoder models``.

Keys are reported as set or not set, never shown. Servers are asked for their model list with a
short timeout, so an unreachable one is reported rather than waited on.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from papercoder.config import Config
from papercoder.errors import PapercoderError
from papercoder.llm.models import choose_model
from papercoder.llm.registry import PROVIDERS
from papercoder.llm.types import Check

__all__ = ["Check", "check_setup"]


def check_setup(config: Config, *, base_url: str | None = None, env: Mapping[str, str] | None = None,
                probe: bool = True) -> tuple[str, list[Check]]:
    """The model a run would use (with why), and every provider's checks from the provider table."""
    env = os.environ if env is None else env
    try:
        choice = choose_model(base_url=base_url, config=config, env=env)
        default = f"{choice.spec} (from {choice.reason})"
    except PapercoderError as exc:
        default = f"none: {exc}"
    checks = [Check("config files", ", ".join(str(p) for p in config.sources) or "none", True)]
    for kind in PROVIDERS.values():
        checks += kind.checks(config, base_url, env, probe)
    return default, checks
