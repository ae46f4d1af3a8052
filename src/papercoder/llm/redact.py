"""The second wall around secrets: their values are cut out of every text that leaves papercoder.

The sandbox keeps keys away from generated code; should one get through anyway (printed into an
error the debug stage sends back to the model, say), no model request, call-log row, run log or
report may carry it. :func:`redact` replaces the value of every secret environment variable
papercoder knows of (the provider keys, the variable ``api_key_env`` names, and any variable
whose name says key, token, secret, password, credential...) with ``[redacted]``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

MARK = "[redacted]"
MIN_LENGTH = 8  # shorter values ("1", "true") would blank out ordinary text
KNOWN = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENROUTER_API_KEY", "DEEPSEEK_API_KEY", "HF_TOKEN")
_extra_names: set[str] = set()


def register(name: str | None) -> None:
    """Treat the variable ``name`` as secret too (e.g. the one ``api_key_env`` names)."""
    if name:
        _extra_names.add(name)


def secret_values(env: Mapping[str, str] | None = None) -> list[str]:
    """The values to cut out, longest first (so a value inside another goes with it)."""
    from papercoder.repo.sandbox import SECRET_MARKERS

    env = os.environ if env is None else env
    values = {
        value
        for name, value in env.items()
        if (name in KNOWN or name in _extra_names or any(m in name.upper() for m in SECRET_MARKERS))
        and len(value.strip()) >= MIN_LENGTH
    }
    return sorted(values, key=len, reverse=True)


def redact(text: str, env: Mapping[str, str] | None = None) -> str:
    """``text`` with every secret value replaced by ``[redacted]``."""
    if not text:
        return text
    for value in secret_values(env):
        if value in text:
            text = text.replace(value, MARK)
    return text
