"""Plain data passed between the stages and the model layer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ABSURD_TOKENS = 100_000_000  # more tokens than any call has: a broken count
Message = dict[str, Any]  # {"role": "system"|"user"|"assistant", "content": "...", "images": [...] (optional, see llm/images.py)}


@dataclass
class Usage:
    """Token counts of one call (or a sum of calls)."""

    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    unreliable: bool = False  # the server reported a negative, non-numeric or absurd count

    def sane(self) -> "Usage":
        """Counts as whole non-negative numbers. A missing count (null) is 0; a negative, non-numeric
        or absurd one is 0 too, and marks the usage unreliable: its cost is then unknown, and the
        budget counts the call at its worst case."""
        bad = False

        def count(value: object) -> int:
            nonlocal bad
            if value is None:
                return 0
            try:
                number = float(value)  # type: ignore[arg-type]
            except (TypeError, ValueError, OverflowError):
                bad = True
                return 0
            if not number == number or number < 0 or number > ABSURD_TOKENS:  # NaN, negative, absurd
                bad = True
                return 0
            return int(number)

        counts = [count(v) for v in (self.input_tokens, self.cached_input_tokens, self.output_tokens, self.reasoning_tokens)]
        return Usage(*counts, unreliable=bad or self.unreliable)

    def __add__(self, other: "Usage") -> "Usage":
        return Usage(
            self.input_tokens + other.input_tokens,
            self.cached_input_tokens + other.cached_input_tokens,
            self.output_tokens + other.output_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
            self.unreliable or other.unreliable,
        )


@dataclass
class Request:
    """What a provider is asked to do: the normalised input of one call."""

    messages: list[Message]
    max_tokens: int | None = None
    temperature: float | None = None
    json_schema: dict[str, Any] | None = None  # JSON schema to constrain the answer, if supported
    schema_name: str | None = None
    sample: int = 0  # distinguishes repeated samples of the same prompt (part of the cache key)
    n: int = 1  # answers wanted from one request (OpenAI's ``n``): the prompt is read and billed once
    extra: dict[str, Any] = field(default_factory=dict)  # provider options, e.g. reasoning_effort


@dataclass
class RawResponse:
    """What a provider returns for one call, before parsing and accounting."""

    text: str
    finish_reason: str = "stop"  # "stop", "length", "content_filter", ...
    usage: Usage = field(default_factory=Usage)
    model: str = ""  # the model name the server reports, if any
    others: list[tuple[str, str]] = field(default_factory=list)  # (text, finish reason) of choices 2..n


@dataclass
class Completion:
    """The answer of one call as the stages see it."""

    text: str
    parsed: Any = None  # a validated pydantic object when a schema was given
    usage: Usage = field(default_factory=Usage)
    finish_reason: str = "stop"
    cost: float | None = None  # USD; None when the price of the model is unknown
    latency: float = 0.0  # seconds; 0 for an answer served from the call log
    model: str = ""
    cached: bool = False  # served from the call log without a model call
    call_id: int | None = None  # row id in the call log, when there is one
    regrown: bool = False  # asked again with more room after the first answer was cut
    others: list[tuple[str, str]] = field(default_factory=list)  # (text, finish reason) of answers 2..n of one request


def clean_text(text: str) -> str:
    """``text`` as valid UTF-8: lone surrogates (from a model, or bytes decoded leniently) become U+FFFD.

    SQLite, JSON files and HTTP bodies all need encodable text; one stray ``\\ud800`` must not
    lose an answer that was paid for.
    """
    if not isinstance(text, str):
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")


@dataclass(frozen=True)
class ModelChoice:
    """Which model to use and how to reach it, before anything is loaded or contacted."""

    provider: str  # a name in the provider table: "openai", "anthropic" or "local"
    name: str  # the provider's model name, or for local a path or "smollm2"
    base_url: str | None = None
    api_key_env: str | None = None  # the environment variable holding the key
    explicit_provider: bool = True  # False for a bare name on a compatible server
    reason: str = ""  # why this model: "flag", "config", "OPENAI_API_KEY", "default"
    preset: str = ""  # the server preset it was named with ("ollama", "vllm", ...), if any

    @property
    def spec(self) -> str:
        return f"{self.preset or self.provider}:{self.name}"


@dataclass
class Check:
    """One line of the setup report: a thing, its state, and whether that state is usable."""

    name: str
    state: str
    ok: bool
