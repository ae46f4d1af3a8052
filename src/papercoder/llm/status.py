"""What is configured and whether it works: the data behind ``papercoder models``.

Keys are reported as set or not set, never shown. Servers are asked for their model list with a
short timeout, so an unreachable one is reported rather than waited on.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from papercoder.config import Config
from papercoder.errors import PapercoderError
from papercoder.llm.models import named_server

PROBE_TIMEOUT = 3.0


@dataclass
class Check:
    """One line of the report: a thing, its state, and whether that state is usable."""

    name: str
    state: str
    ok: bool


def check_setup(config: Config, *, base_url: str | None = None, env: Mapping[str, str] | None = None,
                probe: bool = True) -> tuple[str, list[Check]]:
    """The model a run would use (with why), and a check per provider."""
    from papercoder.llm.models import choose_model

    env = os.environ if env is None else env
    try:
        choice = choose_model(base_url=base_url, config=config, env=env)
        default = f"{choice.spec} (from {choice.reason})"
    except PapercoderError as exc:
        default = f"none: {exc}"
    checks = [
        Check("config files", ", ".join(str(p) for p in config.sources) or "none", True),
        *_openai_checks(config, base_url, env, probe),
        *_anthropic_checks(env, probe),
        *_local_checks(),
    ]
    return default, checks


def _openai_checks(config: Config, base_url: str | None, env: Mapping[str, str], probe: bool) -> list[Check]:
    key_name = config.api_key_env or "OPENAI_API_KEY"
    key = env.get(key_name)
    checks = [Check(key_name, "set" if key else "not set", bool(key))]
    url = named_server(base_url, config, env)
    if url:
        checks.append(_probe_openai(f"server {url}", url, key) if probe else Check(f"server {url}", "not checked", True))
    elif key and probe:
        checks.append(_probe_openai("api.openai.com", "https://api.openai.com/v1", key))
    return checks


def _probe_openai(name: str, url: str, key: str | None) -> Check:
    import httpx

    headers = {"authorization": f"Bearer {key}"} if key else {}
    try:
        response = httpx.get(url.rstrip("/") + "/models", headers=headers, timeout=PROBE_TIMEOUT)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return Check(name, f"does not answer ({type(exc).__name__})", False)
    if response.status_code in (401, 403):
        return Check(name, f"answers, but refuses the key (HTTP {response.status_code})", False)
    if response.status_code != 200:
        return Check(name, f"answers with HTTP {response.status_code}", False)
    try:
        names = [item["id"] for item in response.json()["data"]]
    except (ValueError, KeyError, TypeError):
        return Check(name, "answers, but not with a model list", False)
    shown = ", ".join(names[:8]) + (f" (+{len(names) - 8} more)" if len(names) > 8 else "")
    return Check(name, f"answers; models: {shown or 'none'}", True)


def _anthropic_checks(env: Mapping[str, str], probe: bool) -> list[Check]:
    import importlib.util

    key = env.get("ANTHROPIC_API_KEY")
    checks = [Check("ANTHROPIC_API_KEY", "set" if key else "not set", bool(key))]
    if importlib.util.find_spec("anthropic") is None:
        checks.append(Check("anthropic SDK", "not installed: pip install 'papercoder[anthropic]'", False))
    if key and probe:
        import httpx

        url = (env.get("ANTHROPIC_BASE_URL") or "https://api.anthropic.com").rstrip("/") + "/v1/models"
        headers = {"x-api-key": key, "anthropic-version": "2023-06-01"}
        try:
            status = httpx.get(url, headers=headers, timeout=PROBE_TIMEOUT).status_code
            checks.append(Check("api.anthropic.com", "answers" if status == 200 else f"answers with HTTP {status}",
                                status == 200))
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            checks.append(Check("api.anthropic.com", f"does not answer ({type(exc).__name__})", False))
    return checks


def _local_checks() -> list[Check]:
    from papercoder.llm.gguf import context_length
    from papercoder.llm.providers.local_llama import LOCAL_EXTRA, bundled_model_path, llama_available

    checks = [Check("llama-cpp-python", "installed" if llama_available() else f"not installed: {LOCAL_EXTRA}",
                    llama_available())]
    try:
        path = bundled_model_path()
        checks.append(Check("local:smollm2", f"{path} ({context_length(path)}-token context)", True))
    except PapercoderError as exc:
        checks.append(Check("local:smollm2", str(exc), False))
    return checks
