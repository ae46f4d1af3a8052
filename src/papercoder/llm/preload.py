"""Import the model provider's SDK in the background while the paper is being read.

``import anthropic`` takes about 2 s and ``import openai`` about 1 s; doing it on the first model
call puts that time on the critical path. A run knows its provider before it reads the paper, so
it starts the import in a daemon thread then; the first call's own import waits for that one to
finish (Python's per-module import lock) instead of starting again.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading

from papercoder.llm.registry import PROVIDERS

SDK_MODULES = {kind.name: kind.sdk_module for kind in PROVIDERS.values() if kind.sdk_module}


def provider_of(spec: str | None, *, base_url: str | None = None, configured: str | None = None) -> str | None:
    """The provider a run will use, from what is known without contacting anything (None: unknown)."""
    from papercoder.llm.models import parse_model_spec

    spec = spec or configured
    if spec:
        try:
            return parse_model_spec(spec, base_url=base_url).provider
        except Exception:  # a bad spec is reported, with its fix, when the model is opened
            return None
    if base_url or os.environ.get("OPENAI_BASE_URL") or os.environ.get("OPENAI_API_KEY"):
        return "openai"
    if os.environ.get("ANTHROPIC_API_KEY"):
        return "anthropic"
    return "local"


def preload_sdk(provider: str | None) -> threading.Thread | None:
    """Start importing ``provider``'s SDK in a daemon thread; None when there is nothing to do."""
    module = SDK_MODULES.get(provider or "")
    if module is None or module in sys.modules:
        return None
    thread = threading.Thread(target=_import, args=(module,), name="papercoder-preload", daemon=True)
    thread.start()
    return thread


def _import(module: str) -> None:
    try:
        importlib.import_module(module)
    except Exception:  # not installed or broken: the provider says so, with the fix, when it is used
        pass
