"""The config file: default model, server, limits and price overrides. Never keys.

Read from ``papercoder.toml`` in the working folder, laid over the user-level
``~/.config/papercoder/config.toml`` (``$XDG_CONFIG_HOME`` is honoured). Flags override both.

    model = "openai:gpt-4.1"
    base_url = "http://localhost:8000/v1"   # an OpenAI-compatible server
    api_key_env = "OPENROUTER_API_KEY"      # the variable holding the key (default OPENAI_API_KEY)
    concurrency = 8                         # calls in flight (default 8)
    max_cost = 5.0                          # USD per run
    timeout = 600                           # seconds per call
    retries = 5                             # tries per call on 429/5xx/timeouts
    reasoning_effort = "high"               # for reasoning models ("none" sends none; default high for o-series)
    reasoning = true                        # reserve room for hidden reasoning tokens (default: by model family)
    reasoning_reserve = 16384               # hidden tokens reserved per call on top of the answer
    vision = true                           # the model reads images: figures go to it (default: by model family)
    max_figures = 12                        # images per request at most (run --max-figures)
    stream = false
    max_output_tokens = 32768               # the model's output limit per answer; Anthropic's default max_tokens
    context_window = 32768                  # when the server's model is not in the price list
    addendum = "addendum.md"                # clarifications sent with the paper (run --addendum)

    [prices."openai:my-finetune"]           # USD per million tokens
    input = 3.0
    output = 12.0
    cached_input = 0.75
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from papercoder.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

PROJECT_FILE = "papercoder.toml"


def cache_dir() -> Path:
    """Where papercoder keeps what it can fetch or learn again (arXiv downloads, the local-model
    probe): $PAPERCODER_CACHE, $XDG_CACHE_HOME/papercoder or ~/.cache/papercoder."""
    if os.environ.get("PAPERCODER_CACHE"):
        return Path(os.environ["PAPERCODER_CACHE"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "papercoder"
    return Path.home() / ".cache" / "papercoder"

_FORBIDDEN = ("key", "secret", "token", "password")


@dataclass(frozen=True)
class Price:
    """USD per million tokens: a price override from the config file (the model layer applies it)."""

    input: float
    output: float
    cached_input: float | None = None  # defaults to the input price


@dataclass
class Config:
    """Settings from the config files; every field optional."""

    model: str | None = None
    verify_judge_model: str | None = None  # the verify stage's judge (default: the model that writes the code)
    judge_model: str | None = None  # eval's and grade's judge when no -m is given (default: o3-mini with an OpenAI key)
    base_url: str | None = None
    api_key_env: str | None = None
    concurrency: int | None = None
    max_cost: float | None = None
    timeout: float | None = None
    retries: int | None = None
    reasoning_effort: str | None = None
    reasoning: bool | None = None
    reasoning_reserve: int | None = None
    vision: bool | None = None  # the model reads images (None: by its family, or what its server says)
    max_figures: int | None = None  # images per request at most (run --max-figures)
    stream: bool | None = None
    max_output_tokens: int | None = None
    context_window: int | None = None
    max_requirements: int | None = None  # the checklist's cap (default 400)
    addendum: str | None = None  # a file of clarifications that `papercoder run` sends with the paper
    prices: dict[str, Price] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)  # [aliases] coder = "openai:gpt-4.1"
    sources: list[Path] = field(default_factory=list)  # the files these settings came from


def user_config_path() -> Path:
    """Where the user-level config file lives."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "papercoder" / "config.toml"


def load_config(path: Path | None = None) -> Config:
    """Read the config: ``path`` alone when given, else the user file overlaid by ``./papercoder.toml``."""
    if path is not None:
        if not Path(path).is_file():
            raise ConfigError(f"the config file {path} does not exist; create it or leave out the option")
        files = [Path(path)]
    else:
        files = [p for p in (user_config_path(), Path.cwd() / PROJECT_FILE) if p.is_file()]
    config = Config()
    for file in files:
        _apply(config, _read(file), file)
        config.sources.append(file)
    return config


def configured(name: str) -> Any:
    """One setting of the config file for a stage already running, or None when the file is now
    unreadable: the run opened its model with this config already; a file changed since is not
    the stage's to judge."""
    try:
        return getattr(load_config(), name)
    except ConfigError:
        return None


def _read(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML ({exc}); fix the file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text; save it as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None


_TYPES: dict[str, tuple[type, ...]] = {
    "model": (str,),
    "judge_model": (str,),
    "verify_judge_model": (str,),
    "base_url": (str,),
    "api_key_env": (str,),
    "concurrency": (int,),
    "max_cost": (int, float),
    "timeout": (int, float),
    "retries": (int,),
    "reasoning_effort": (str,),
    "reasoning": (bool,),
    "vision": (bool,),
    "max_figures": (int,),
    "reasoning_reserve": (int,),
    "stream": (bool,),
    "max_output_tokens": (int,),
    "context_window": (int,),
    "max_requirements": (int,),
    "addendum": (str,),
}


def _apply(config: Config, data: dict[str, Any], path: Path) -> None:
    known = {f.name for f in fields(Config)} - {"sources"}
    for name, value in data.items():
        if name == "prices":
            config.prices.update(_prices(value, path))
            continue
        if name == "aliases":
            if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in value.items()):
                raise ConfigError(f'{path}: [aliases] maps names to model strings, e.g. coder = "openai:gpt-4.1"')
            config.aliases.update({k: v.strip() for k, v in value.items()})
            continue
        if name not in known and any(word in name.lower() for word in _FORBIDDEN):
            raise ConfigError(
                f"{path} sets {name!r}, but keys are never read from config files; put the key in an "
                "environment variable (OPENAI_API_KEY, ANTHROPIC_API_KEY, or the one api_key_env names)"
            )
        if name not in known:
            raise ConfigError(f"{path}: unknown setting {name!r}; known settings: {', '.join(sorted(known))}")
        expected = _TYPES[name]
        if isinstance(value, bool) and bool not in expected or not isinstance(value, expected):
            kind = " or ".join(t.__name__ for t in expected)
            raise ConfigError(f"{path}: {name} must be a {kind}, not {value!r}")
        if name in ("concurrency", "retries", "max_output_tokens", "context_window", "max_requirements") and value < 1:
            raise ConfigError(f"{path}: {name} must be at least 1")
        if name in ("max_cost", "timeout") and not (math.isfinite(value) and value > 0):
            raise ConfigError(f"{path}: {name} must be a positive number, not {value!r}")
        if name == "reasoning_reserve" and value < 0:
            raise ConfigError(f"{path}: reasoning_reserve must be 0 or more tokens")
        setattr(config, name, value)


def _prices(table: Any, path: Path) -> dict[str, Price]:

    if not isinstance(table, dict):
        raise ConfigError(f'{path}: prices must be tables such as [prices."openai:gpt-4.1"] with input and output')
    prices = {}
    for model, entry in table.items():
        if not isinstance(entry, dict) or not {"input", "output"} <= entry.keys():
            raise ConfigError(f'{path}: [prices."{model}"] needs input and output (USD per million tokens)')
        unknown = set(entry) - {"input", "output", "cached_input"}
        if unknown:
            raise ConfigError(f'{path}: [prices."{model}"] has unknown fields {sorted(unknown)}')
        try:
            prices[model] = Price(
                input=float(entry["input"]),
                output=float(entry["output"]),
                cached_input=float(entry["cached_input"]) if "cached_input" in entry else None,
            )
        except (TypeError, ValueError):
            raise ConfigError(f'{path}: [prices."{model}"] prices must be numbers') from None
    return prices


def named_server(base_url: str | None, config: Config, env: Mapping[str, str]) -> str | None:
    """The OpenAI-compatible server the user named: flag, then config file, then ``OPENAI_BASE_URL``."""
    return base_url or config.base_url or env.get("OPENAI_BASE_URL") or None
