"""The context window a model will use, and where that number came from.

A window that is guessed is a window that silently cuts papers, so every source is named: the
flag or config file, the server itself (vLLM and SGLang publish ``max_model_len`` on
``/v1/models``, llama.cpp's server ``n_ctx`` on ``/props``, Ollama the ``num_ctx`` a model runs
with on ``/api/ps`` and ``/api/show``, LM Studio ``loaded_context_length`` on
``/api/v0/models``), the price list, the GGUF file; else an assumption that is announced and
makes any shrinking of the paper a fallback. A server's answer is kept in the run directory, so a
resumed run asks nothing and uses the same number.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

PROBE_TIMEOUT = 5.0
OLLAMA_DEFAULT_NUM_CTX = 4096  # what Ollama runs a model with unless num_ctx is set (2048 before 0.6)
ASSUMED = "assumed"


@dataclass(frozen=True)
class Window:
    """A context window in tokens and where it came from (``source`` "assumed" when nobody said)."""

    tokens: int
    source: str
    server: str = ""  # "vllm", "llama.cpp", "ollama", "lmstudio", "openai-compatible", ""
    vision: bool | None = None  # whether the server says its model reads images (Ollama, llama.cpp), if it says

    @property
    def assumed(self) -> bool:
        return self.source == ASSUMED


def _root(base_url: str) -> str:
    """The server's root URL: ``http://host:11434/v1`` -> ``http://host:11434``."""
    return re.sub(r"/v1/?$", "", base_url.rstrip("/"))


def _get(url: str, key: str | None, *, body: dict | None = None) -> Any:
    import httpx

    headers = {"authorization": f"Bearer {key}"} if key else {}
    try:
        if body is None:
            response = httpx.get(url, headers=headers, timeout=PROBE_TIMEOUT)
        else:
            response = httpx.post(url, headers=headers, json=body, timeout=PROBE_TIMEOUT)
    except (httpx.HTTPError, httpx.InvalidURL):
        return None
    if response.status_code != 200:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _positive(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) and value > 0:
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip()) or None
    return None


def from_models_list(data: Any, model: str) -> Window | None:
    """vLLM's, SGLang's or OpenRouter's ``/v1/models``: the entry of ``model`` and its window."""
    entries = data.get("data") if isinstance(data, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or entry.get("id") != model:
            continue
        for field, server in (("max_model_len", "vllm"), ("context_length", "openai-compatible"),
                              ("max_context_length", "openai-compatible")):
            tokens = _positive(entry.get(field))
            if tokens:
                return Window(tokens, f"the server's /v1/models ({field})", server)
    return None


def from_llamacpp_props(data: Any) -> Window | None:
    """llama.cpp's server ``/props``: ``n_ctx`` (per slot when it runs several)."""
    if not isinstance(data, dict):
        return None
    settings = data.get("default_generation_settings")
    tokens = _positive(settings.get("n_ctx")) if isinstance(settings, dict) else None
    tokens = tokens or _positive(data.get("n_ctx"))
    modalities = data.get("modalities")
    vision = modalities.get("vision") if isinstance(modalities, dict) and isinstance(modalities.get("vision"), bool) else None
    return Window(tokens, "the server's /props (n_ctx)", "llama.cpp", vision) if tokens else None


def from_ollama(show: Any, running: Any, model: str) -> Window | None:
    """Ollama: the context a loaded model runs with (``/api/ps``), else the ``num_ctx`` of its
    Modelfile (``/api/show``), else Ollama's default; never the model's trained length, which
    Ollama does not use unless told to."""
    if not isinstance(show, dict):
        return None
    capabilities = show.get("capabilities")
    vision = ("vision" in capabilities) if isinstance(capabilities, list) else None
    window = _ollama_window(show, running, model)
    return Window(window.tokens, window.source, window.server, vision)


def _ollama_window(show: dict, running: Any, model: str) -> Window:
    for entry in (running.get("models") or []) if isinstance(running, dict) else []:
        if isinstance(entry, dict) and entry.get("name") in (model, f"{model}:latest") and _positive(entry.get("context_length")):
            return Window(_positive(entry["context_length"]), "Ollama's /api/ps (the loaded model's context)", "ollama")
    parameters = show.get("parameters")
    if isinstance(parameters, str):
        found = re.search(r"(?m)^\s*num_ctx\s+(\d+)", parameters)
        if found and int(found.group(1)) > 0:
            return Window(int(found.group(1)), "Ollama's /api/show (num_ctx of the Modelfile)", "ollama")
    return Window(OLLAMA_DEFAULT_NUM_CTX, "Ollama's default num_ctx (the model sets none)", "ollama")


def from_lmstudio(data: Any) -> Window | None:
    if not isinstance(data, dict):
        return None
    tokens = _positive(data.get("loaded_context_length")) or _positive(data.get("max_context_length"))
    return Window(tokens, "LM Studio's /api/v0/models", "lmstudio") if tokens else None


def probe_server(base_url: str, model: str, key: str | None = None) -> Window | None:
    """Ask an OpenAI-compatible server for ``model``'s context window; None when it says nothing."""
    root = _root(base_url)
    window = from_models_list(_get(base_url.rstrip("/") + "/models", key), model)
    if window:
        return window
    show = _get(root + "/api/show", key, body={"model": model, "name": model})
    if isinstance(show, dict) and ("parameters" in show or "model_info" in show or "details" in show):
        return from_ollama(show, _get(root + "/api/ps", key), model)
    window = from_llamacpp_props(_get(root + "/props", key))
    if window:
        return window
    return from_lmstudio(_get(f"{root}/api/v0/models/{model}", key))


def cached(path: Path | None, server: str, model: str) -> Window | None:
    """The window kept in the run for this server and model, if any."""
    if path is None or not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8")).get(f"{server}|{model}")
        vision = data.get("vision") if data else None
        return Window(int(data["tokens"]), str(data["source"]), str(data.get("server", "")),
                      vision if isinstance(vision, bool) else None) if data else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def remember(path: Path | None, server: str, model: str, window: Window) -> None:
    """Keep a server's answer in the run (``server-window.json``)."""
    if path is None:
        return
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        data = data if isinstance(data, dict) else {}
        data[f"{server}|{model}"] = asdict(window)
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    except (OSError, ValueError):
        pass  # a convenience: the next run asks the server again
