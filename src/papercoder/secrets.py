"""Secrets: which environment variables hold them, and cutting their values out of text.

The one place that knows what a secret looks like: the sandbox keeps variables that
:func:`looks_secret` out of generated code's environment (the first wall), and :func:`redact`
is the second wall: values are cut out of every text that leaves papercoder.

The sandbox keeps keys away from generated code; should one get through anyway (printed into an
error the debug stage sends back to the model, say), no model request, call-log row, run log or
report may carry it. :func:`redact` replaces the value of every secret environment variable
papercoder knows of (the provider keys, the variable ``api_key_env`` names, and any variable
whose name says key, token, secret, password, credential...) with ``[redacted]``.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from pathlib import Path

MARK = "[redacted]"
# names that say a variable holds a credential, and prefixes of cloud and provider credentials
SECRET_MARKERS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH", "SESSION", "COOKIE")
CLOUD_PREFIXES = ("AWS_", "AZURE_", "GOOGLE_", "GCP_", "GCLOUD_", "HF_", "HUGGING", "OPENAI", "ANTHROPIC", "GITHUB_", "GH_")
MIN_LENGTH = 8  # shorter values ("1", "true") would blank out ordinary text
KNOWN = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENROUTER_API_KEY", "DEEPSEEK_API_KEY", "HF_TOKEN")
_extra_names: set[str] = set()


def register(name: str | None) -> None:
    """Treat the variable ``name`` as secret too (e.g. the one ``api_key_env`` names)."""
    if name:
        _extra_names.add(name)


def secret_values(env: Mapping[str, str] | None = None) -> list[str]:
    """The values to cut out, longest first (so a value inside another goes with it)."""
    env = os.environ if env is None else env
    values = {
        value
        for name, value in env.items()
        if (name in KNOWN or name in _extra_names or any(m in name.upper() for m in SECRET_MARKERS))
        and len(value.strip()) >= MIN_LENGTH
    }
    return sorted(values, key=len, reverse=True)


def looks_secret(name: str) -> bool:
    """Whether an environment variable name suggests a key, token or cloud credential."""
    upper = name.upper()
    return any(marker in upper for marker in SECRET_MARKERS) or upper.startswith(CLOUD_PREFIXES)


def variants(value: str) -> list[str]:
    """A secret as a script might print it: as it is, reversed, in base64 (standard or URL-safe,
    with or without padding) and in hex."""
    raw = value.encode()
    forms = [value, value[::-1], raw.hex()]
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        encoded = encode(raw).decode()
        forms += [encoded, encoded.rstrip("=")]
    return sorted({f for f in forms if len(f) >= MIN_LENGTH}, key=len, reverse=True)


def redact(text: str, env: Mapping[str, str] | None = None) -> str:
    """``text`` with every secret value, and the simple transformations of :func:`variants`,
    replaced by ``[redacted]``."""
    if not text:
        return text
    for value in secret_values(env):
        for form in variants(value):
            if form in text:
                text = text.replace(form, MARK)
    return text


def redact_file(path: Path) -> bool:
    """Redact a text file in place (a log a script wrote); True when something was cut out."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    cleaned = redact(text)
    if cleaned == text:
        return False
    path.write_text(cleaned, encoding="utf-8")
    return True
