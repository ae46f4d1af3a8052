"""The model interface every stage uses: :class:`LLM`.

It wraps one :class:`~papercoder.llm.provider.Provider` and adds what every call needs: the
call log and cache, retries with backoff, a concurrency limit, usage and cost per stage, a
budget cap, structured output with one repair turn, and surfacing truncation.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import time
from typing import Any

from pydantic import BaseModel, ValidationError

from papercoder.errors import ConfigError
from papercoder.config import Price
from papercoder.llm.accounting import Pricer, StageTotals, sum_totals
from papercoder.tokens import CHARS_PER_TOKEN, estimate_tokens, message_tokens
from papercoder.llm.calllog import CallLog, request_hash
from papercoder.llm.errors import BudgetExceededError, ContextLengthError, LLMError, PromptCutError, StructuredOutputError, TruncatedError
from papercoder.llm.provider import Provider
from papercoder.llm.images import looks_like_image_refusal, reads_images
from papercoder.llm.reasoning import DEFAULT_RESERVE, REGROWTHS, is_reasoning_model, known_output_limit, strip_reasoning
from papercoder.secrets import redact
from papercoder.llm.retry import RetriesExhausted, RetryPolicy, call_with_retries
from papercoder.llm.structured import extract_json, json_candidates
from papercoder.llm.types import Completion, Message, RawResponse, Request, Usage, clean_text

DEFAULT_CONTEXT_WINDOW = 8192
BUDGET_WAIT = 0.05  # seconds between looks at the budget while calls in flight hold part of it
# Output tokens assumed for the budget check when a call sets no max_tokens.
DEFAULT_OUTPUT_ESTIMATE = 4096
_SECRET_WORDS = ("key", "secret", "authorization", "password")
CUT_RATIO = 0.5  # a server that reports fewer prompt tokens than this share of the estimate cut the prompt
CUT_MIN_TOKENS = 1000  # below this estimate, tokenizers differ too much to tell
CALIBRATION_MIN_TOKENS = 500  # the first reported prompt of at least this size calibrates the estimate


class LLM:
    """One model, used by all stages; safe to share between concurrent tasks.

    ``log`` records every call and answers repeated ones; ``max_cost`` (USD) stops the run
    before a call would exceed it; ``prices`` overrides the price list (a :class:`Pricer`, or
    ``{model string: Price}``); ``retry`` sets how transient faults are retried.
    """

    def __init__(
        self,
        provider: Provider,
        *,
        concurrency: int = 4,
        log: CallLog | None = None,
        max_cost: float | None = None,
        prices: Pricer | dict[str, Price] | None = None,
        retry: RetryPolicy | None = None,
        reasoning: bool | None = None,
        reasoning_reserve: int | None = None,
        output_limit: int | None = None,
        vision: bool | None = None,
    ):
        if max_cost is not None and not (math.isfinite(max_cost) and max_cost > 0):
            raise ConfigError(f"the budget must be a positive number of USD, not {max_cost!r}; e.g. --max-cost 2")
        self.provider = provider
        self.concurrency = max(1, int(concurrency))
        self.log = log
        self.max_cost = max_cost
        self.retry = retry or RetryPolicy()
        if isinstance(prices, Pricer):
            self.pricer = prices
        else:
            self.pricer = Pricer(
                provider.model,
                provider_id=getattr(provider, "price_provider", None) or _provider_prefix(provider.model),
                api_url=getattr(provider, "api_url", None),
                overrides=prices,
            )
        self._semaphores: dict[int, asyncio.Semaphore] = {}
        self._totals: dict[str, StageTotals] = {}
        self._spent = log.spent() if (log is not None and max_cost is not None) else 0.0
        self._reserved = 0.0
        self._reasoning = reasoning  # None: decided by the model's family and what it reports
        self._vision = vision  # None: decided by what the server said, else the model's family
        self.server_vision: bool | None = None  # what a self-hosted server published of its model
        self.images_refused = ""  # why requests carry no images any more, after the server refused them
        self.window_source = ""  # where the context window came from (see papercoder.llm.windows)
        self.window_server = ""  # the kind of server that said it ("ollama", "vllm", ...), if one did
        self.chars_per_token: float | None = None  # the model's real ratio, once an answer reported it
        self._saw_reasoning = False
        self.reasoning_reserve = DEFAULT_RESERVE if reasoning_reserve is None else max(0, int(reasoning_reserve))
        self.output_limit = (
            output_limit or getattr(provider, "max_output_tokens", None) or known_output_limit(provider.model)
        )

    @property
    def model(self) -> str:
        return self.provider.model

    @property
    def supports_n(self) -> bool:
        """Whether one request can return several answers (OpenAI-compatible servers' ``n``)."""
        return bool(getattr(self.provider, "supports_n", False))

    @property
    def context_window(self) -> int:
        """The model's context window in papercoder's estimated tokens (characters / 4), or a
        conservative default when unknown. When the model's tokenizer turned out to make more tokens
        of the same text (see :meth:`_calibrate`), the window shrinks by the same ratio, so fitting
        sized with the estimate still fits the real window."""
        window = self.provider.context_window or DEFAULT_CONTEXT_WINDOW
        if self.chars_per_token is not None and self.chars_per_token < CHARS_PER_TOKEN * 0.9:
            return int(window * self.chars_per_token / CHARS_PER_TOKEN)
        return window

    @property
    def window_assumed(self) -> bool:
        """True when nobody said the window: neither flag, config, server, price list nor model file."""
        return self.window_source in ("", "assumed") and not self.provider.context_window

    def _calibrate(self, payload: dict[str, Any], usage: Usage) -> None:
        """The first answer that reports a large enough prompt fixes the run's characters per token."""
        if self.chars_per_token is not None or usage.input_tokens < CALIBRATION_MIN_TOKENS:
            return
        chars = sum(len(str(m.get("content", ""))) for m in payload["messages"])
        ratio = chars / usage.input_tokens
        if chars >= CALIBRATION_MIN_TOKENS * CHARS_PER_TOKEN and 1.5 <= ratio <= 8:  # a prompt to learn from, a tokenizer's ratio
            self.chars_per_token = ratio

    def _refuse_what_would_be_cut(self, request: Request, stage: str) -> None:
        """Ollama keeps only the end of a prompt longer than its context and says nothing: a
        prompt that cannot fit is refused here instead of being sent."""
        if self.window_server != "ollama" or not self.provider.context_window:
            return
        prompt = sum(message_tokens(m) for m in request.messages)
        if prompt + (request.max_tokens or 0) > self.context_window:
            raise ContextLengthError(
                f"a prompt of about {prompt:,} tokens (stage {stage or '?'}) does not fit the {self.context_window:,}-token "
                f"context Ollama runs {self.model} with, and Ollama would cut it silently; raise it ({_raise_hint('ollama')}) "
                "and set --context-window to match",
                self.context_window,
            )

    def _check_prompt_kept(self, payload: dict[str, Any], usage: Usage, stage: str) -> None:
        """Stop when the server reports far fewer prompt tokens than were sent: it cut the prompt
        (Ollama keeps the end of a prompt longer than its num_ctx), so the answer is not used."""
        # text only: servers count images their own way (Ollama's gemma3 takes 256 tokens an image), never a cut
        sent = sum(estimate_tokens(str(m.get("content", ""))) + 4 for m in payload["messages"])
        if sent < CUT_MIN_TOKENS or usage.input_tokens <= 0 or usage.input_tokens >= sent * CUT_RATIO:
            return
        raise PromptCutError(
            f"{self.model} processed only {usage.input_tokens:,} of the about {sent:,} prompt tokens sent (stage "
            f"{stage or '?'}): the server cut the prompt, so its context is probably {usage.input_tokens:,} tokens; "
            f"raise the server's context ({_raise_hint(self.window_server)}) or set --context-window to what it really is"
        )

    @property
    def accepts_images(self) -> bool:
        """Whether requests may carry figures: configured (``vision = true|false``), else what the
        model's server published, else known from the model's family. The embedded model never does."""
        return self._reads_images()[0]

    @property
    def images_reason(self) -> str:
        """Why :attr:`accepts_images` says what it says (the config, the server, the family)."""
        return self.images_refused or self._reads_images()[1]

    def _reads_images(self) -> tuple[bool, str]:
        return reads_images(self.model, configured=self._vision, server=self.server_vision,
                            text_only=bool(getattr(self.provider, "text_only", False)))

    @property
    def reasoning(self) -> bool:
        """Whether calls reserve room for hidden reasoning tokens on top of the answer.

        Configured (``reasoning = true`` / ``false``), else known from the model's family, else
        learnt once the model reports reasoning tokens or writes ``<think>`` blocks.
        """
        if self._reasoning is not None:
            return self._reasoning
        return self._saw_reasoning or is_reasoning_model(self.model)

    def output_room(self, messages: list[Message], answer_tokens: int | None) -> int | None:
        """``max_tokens`` to send for a visible answer of ``answer_tokens``.

        A reasoning model gets its reserve on top; the result never passes the model's output
        limit nor what the context window leaves after the prompt, and is never below the answer
        room asked for (the caller sized that to fit).
        """
        if answer_tokens is None:
            return None
        wanted = answer_tokens + (self.reasoning_reserve if self.reasoning else 0)
        bounds = [wanted]
        if self.output_limit:
            bounds.append(self.output_limit)
        window = self.context_window if self.provider.context_window else None
        if window:
            prompt = sum(message_tokens(m) for m in messages)
            bounds.append(window - prompt - max(128, window // 16))
        return max(answer_tokens, min(bounds))

    def totals(self) -> dict[str, StageTotals]:
        """Calls, tokens, cost and time per stage label, for the calls made through this LLM."""
        return {stage: StageTotals() + totals for stage, totals in self._totals.items()}

    def total(self) -> StageTotals:
        """The sum of :meth:`totals` over all stages."""
        return sum_totals(self._totals)

    async def aclose(self) -> None:
        """Release the provider's connections (optional; the process exit does it too)."""
        close = getattr(self.provider, "aclose", None)
        if close is not None:
            await close()

    async def acomplete(
        self,
        messages: list[Message],
        *,
        schema: type[BaseModel] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stage: str = "",
        sample: int = 0,
        allow_truncated: bool = False,
        n: int = 1,
    ) -> Completion:
        """Ask the model once.

        With ``schema``, the answer is parsed and validated into ``completion.parsed``; a
        malformed answer gets one repair turn quoting the error, then StructuredOutputError.
        A truncated answer (finish reason "length") raises TruncatedError unless
        ``allow_truncated``. ``sample`` tells apart repeated samples of one prompt. With ``n > 1``
        (only where :attr:`supports_n`) one request returns n answers: the first as the
        completion's text, the rest in ``completion.others``; each is checked by its caller.
        """
        if n > 1 and not self.supports_n:
            raise ValueError(f"{self.model} cannot give several answers to one request; make n separate calls")
        request = Request(
            messages=list(messages),
            max_tokens=self.output_room(messages, max_tokens),
            temperature=temperature,
            json_schema=schema.model_json_schema() if schema else None,
            schema_name=schema.__name__ if schema else None,
            sample=sample,
            n=n,
        )
        completion = await self._call(request, stage)
        # A cut answer is asked again with twice the room before anyone repairs, continues or
        # salvages it; each size is its own request, so a resumed run asks the same sequence.
        answer = max_tokens
        for _ in range(REGROWTHS if getattr(self.provider, "grow_cut_answers", True) and n == 1 else 0):
            if completion.finish_reason != "length" or answer is None or request.max_tokens is None:
                break
            answer *= 2
            room = self.output_room(messages, answer)
            if room is None or room <= request.max_tokens:
                break
            request = dataclasses.replace(request, max_tokens=room)
            completion = await self._call(request, stage)
            completion.regrown = True
        max_tokens = request.max_tokens
        if completion.finish_reason == "length" and not allow_truncated:
            raise TruncatedError(
                f"the answer of {self.model} was cut at its output limit (stage {stage or '?'}); "
                "raise max_tokens or use a model with a larger output limit",
                completion,
            )
        if schema is None:
            return completion
        try:
            completion.parsed = parse_into(schema, completion.text)
            return completion
        except ValueError as exc:
            problem = str(exc)
        repair = Request(
            messages=[
                *messages,
                {"role": "assistant", "content": completion.text},
                {"role": "user", "content": repair_message(problem, schema)},
            ],
            max_tokens=max_tokens,
            temperature=temperature,
            json_schema=request.json_schema,
            schema_name=request.schema_name,
            sample=sample,
        )
        fixed = await self._call(repair, stage)
        try:
            fixed.parsed = parse_into(schema, fixed.text)
        except ValueError as exc:
            raise StructuredOutputError(
                f"{self.model} did not return a valid {schema.__name__} (stage {stage or '?'}), "
                f"even after a repair turn: {_first_line(str(exc))}",
                fixed.text,
            ) from None
        return fixed

    def complete(self, messages: list[Message], **kwargs: Any) -> Completion:
        """Synchronous form of :meth:`acomplete` (for code not already in an event loop)."""

        async def once() -> Completion:
            try:
                return await self.acomplete(messages, **kwargs)
            finally:  # the provider's connections belong to this short-lived loop
                await self.aclose()

        return asyncio.run(once())

    async def _call(self, request: Request, stage: str) -> Completion:
        """One request; a request with images that the server refuses as such is sent once more
        without them, and from then on this model gets none (``images_refused`` says why)."""
        if self.images_refused and any(m.get("images") for m in request.messages):  # refused once: not asked again
            return await self._call_once(_without_images(request), stage)
        try:
            return await self._call_once(request, stage)
        except LLMError as exc:
            if type(exc) is not LLMError or not any(m.get("images") for m in request.messages):
                raise
            if not looks_like_image_refusal(str(exc)):
                raise
            self._vision = False
            self.images_refused = (f"figures: {self.model} refused a request with images ({_first_line(str(exc))[:200]}); "
                                   "figures are no longer sent to it and its requests carry the captions only; set vision = false "
                                   "in papercoder.toml to skip the refused request next time")
            return await self._call_once(_without_images(request), stage)

    async def _call_once(self, request: Request, stage: str) -> Completion:
        request = dataclasses.replace(
            request, messages=[{**m, "content": redact(clean_text(m.get("content", "")))} for m in request.messages]
        )
        payload = self._payload(request)
        key = request_hash(payload)
        if self.log is not None:
            hit = self.log.lookup(key)
            if hit is not None:
                return self._answer_from_log(hit, key, payload, stage)
        self._refuse_what_would_be_cut(request, stage)
        async with self._semaphore():
            estimate = await self._reserve_when_room(request, stage)
            start = time.monotonic()
            try:
                raw = await call_with_retries(lambda: self.provider.generate(request), self.retry)
            except RetriesExhausted as exc:
                self._failed(key, payload, stage, start, exc)
                raise LLMError(
                    f"{self.model} did not answer (stage {stage or '?'}): {exc}; "
                    "check that the server is reachable and your rate limits, then run again"
                ) from None
            except BaseException as exc:
                self._failed(key, payload, stage, start, exc)
                raise
            finally:
                self._reserved -= estimate
            latency = time.monotonic() - start
        return self._answered(raw, key, payload, stage, latency)

    def _payload(self, request: Request) -> dict[str, Any]:
        """What identifies a request in the cache: never a key, never a timestamp."""
        options = {**(getattr(self.provider, "options", None) or {}), **request.extra}
        options = {k: v for k, v in options.items() if not any(word in k.lower() for word in _SECRET_WORDS)}
        return {
            "model": self.model,
            "messages": request.messages,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "json_schema": request.json_schema,
            "schema_name": request.schema_name,
            "sample": request.sample,
            "options": options,
            **({"n": request.n} if request.n > 1 else {}),  # absent for one answer: older logs keep their keys
        }

    def _semaphore(self) -> asyncio.Semaphore:
        # One per event loop: ``complete`` runs each call in a fresh loop.
        loop_id = id(asyncio.get_running_loop())
        semaphore = self._semaphores.get(loop_id)
        if semaphore is None:
            self._semaphores = {loop_id: asyncio.Semaphore(self.concurrency)}
            semaphore = self._semaphores[loop_id]
        return semaphore

    async def _reserve_when_room(self, request: Request, stage: str) -> float:
        """:meth:`_reserve`, waiting while only the worst cases held by calls in flight stand in
        the way: their answers usually cost far less than they hold, so the call may then fit."""
        while True:
            held = self._reserved
            try:
                return self._reserve(request, stage)
            except BudgetExceededError:
                if held <= 0:  # what is spent already leaves no room: stop
                    raise
            await asyncio.sleep(BUDGET_WAIT)

    def _reserve(self, request: Request, stage: str) -> float:
        """Check the budget against an estimate of this call; hold the estimate while it runs."""
        if self.max_cost is None:
            return 0.0
        text = "".join(m.get("content", "") for m in request.messages) + json.dumps(request.json_schema or "")
        default_output = getattr(self.provider, "default_max_tokens", None) or DEFAULT_OUTPUT_ESTIMATE
        usage = Usage(input_tokens=estimate_tokens(text), output_tokens=request.max_tokens or default_output)
        estimate = self.pricer.cost(usage)
        if estimate is None:
            raise BudgetExceededError(
                f"the price of {self.model} is unknown, so the budget of ${self.max_cost:.2f} cannot be enforced; "
                f'add a [prices."{self.model}"] entry to papercoder.toml or drop the budget'
            )
        committed = self._spent + self._reserved
        if committed + estimate > self.max_cost:
            raise BudgetExceededError(
                f"the next call (stage {stage or '?'}, about ${estimate:.4f}) would take the run past its budget "
                f"of ${self.max_cost:.2f} (${committed:.4f} spent or committed); raise the budget to go on"
            )
        self._reserved += estimate
        return estimate

    def _answer_from_log(self, hit: Any, key: str, payload: dict[str, Any], stage: str) -> Completion:
        call_id = self.log.record(  # type: ignore[union-attr]
            request_hash=key, stage=stage, model=self.model, request=payload, text=hit.text,
            finish_reason=hit.finish_reason, usage=hit.usage, cost=0.0, latency=0.0, cached=True, others=hit.others,
        )
        self._count(stage, usage=hit.usage, cost=0.0, seconds=0.0, cached=True, error=False)
        self._calibrate(payload, hit.usage)  # as the first run did, so a resumed run fits the same way
        return Completion(
            text=self._visible(hit.text or "", hit.usage), usage=hit.usage, finish_reason=hit.finish_reason or "stop", cost=0.0,
            latency=0.0, model=self.model, cached=True, call_id=call_id,
            others=[(self._visible(t, hit.usage), f) for t, f in hit.others],
        )

    def _answered(self, raw: RawResponse, key: str, payload: dict[str, Any], stage: str, latency: float) -> Completion:
        raw = dataclasses.replace(raw, usage=raw.usage.sane(), text=clean_text(raw.text or ""))
        cost = self.pricer.cost(raw.usage)
        if raw.usage.unreliable:  # the counts cannot be trusted: the price is unknown, the budget takes the worst case
            cost = None
            worst = self.pricer.cost(Usage(input_tokens=sum(message_tokens(m) for m in payload["messages"]),
                                           output_tokens=int(payload.get("max_tokens") or DEFAULT_OUTPUT_ESTIMATE)))
            self._spent += worst or 0.0
        if cost is not None:
            self._spent += cost
        self._check_prompt_kept(payload, raw.usage, stage)  # before the answer is logged or used
        self._calibrate(payload, raw.usage)
        call_id = None
        if self.log is not None:
            call_id = self.log.record(
                request_hash=key, stage=stage, model=self.model, request=payload, text=raw.text,
                finish_reason=raw.finish_reason, usage=raw.usage, cost=cost, latency=latency, others=raw.others,
            )
        self._count(stage, usage=raw.usage, cost=cost, seconds=latency, cached=False, error=False)
        if self.max_cost is not None and self._spent > self.max_cost:
            # the server billed more than the call was allowed (more output than max_tokens): the
            # answer is kept in the call log, and nothing more is spent
            raise BudgetExceededError(
                f"the run has spent ${self._spent:.4f}, past its budget of ${self.max_cost:.2f}: the last call "
                f"(stage {stage or '?'}) cost more than it was allowed, its answer is kept; raise the budget to go on"
            )
        return Completion(
            text=self._visible(raw.text, raw.usage), usage=raw.usage, finish_reason=raw.finish_reason, cost=cost, latency=latency,
            model=raw.model or self.model, call_id=call_id,
            others=[(self._visible(clean_text(t), raw.usage), f) for t, f in raw.others],
        )

    def _visible(self, text: str, usage: Usage) -> str:
        """The answer without its ``<think>`` blocks; notices that the model reasons."""
        visible, thought = strip_reasoning(text)
        if thought or usage.reasoning_tokens > 0:
            self._saw_reasoning = True
        return visible

    def _failed(self, key: str, payload: dict[str, Any], stage: str, start: float, exc: BaseException) -> None:
        latency = time.monotonic() - start
        if self.log is not None:
            self.log.record(
                request_hash=key, stage=stage, model=self.model, request=payload, text=None, finish_reason=None,
                cost=0.0, latency=latency, error=f"{type(exc).__name__}: {exc}"[:2000],
            )
        self._count(stage, usage=Usage(), cost=0.0, seconds=latency, cached=False, error=True)

    def _count(self, stage: str, **call: Any) -> None:
        self._totals.setdefault(stage, StageTotals()).add(**call)


def _provider_prefix(model: str) -> str | None:
    return model.split(":", 1)[0] if ":" in model else None


def parse_into(schema: type[BaseModel], text: str) -> BaseModel:
    """The first JSON value in ``text`` that validates against ``schema``.

    ``ValueError`` says what is wrong with the first value found (or that none was found), in
    words for the model's repair turn.
    """
    first: ValidationError | None = None
    for data in json_candidates(text):
        try:
            return schema.model_validate(data)
        except ValidationError as exc:
            first = first or exc
        except RecursionError:
            continue
    if first is None:
        extract_json(text)  # raises the "no JSON found" message
        raise ValueError("the answer holds no usable JSON object")
    lines = [f"- {'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in first.errors()[:10]]
    raise ValueError("the JSON does not match the schema:\n" + "\n".join(lines))


def repair_message(problem: str, schema: type[BaseModel]) -> str:
    """The repair turn: what was wrong, and the schema to follow."""
    return (
        f"Your previous answer could not be used: {problem}\n\n"
        "Answer again with one JSON object that follows this JSON schema exactly, "
        "and nothing else:\n" + json.dumps(schema.model_json_schema())
    )


def _without_images(request: Request) -> Request:
    return dataclasses.replace(request, messages=[{k: v for k, v in m.items() if k != "images"} for m in request.messages])


def _first_line(text: str) -> str:
    return " ".join(text.split())[:300]


def _raise_hint(server: str) -> str:
    """How to give a server's model a larger context."""
    if server == "ollama":
        return "Ollama: PARAMETER num_ctx 32768 in a Modelfile (ollama create), or OLLAMA_CONTEXT_LENGTH=32768 for the server"
    if server == "llama.cpp":
        return "llama.cpp: start the server with a larger -c/--ctx-size"
    if server == "vllm":
        return "vLLM: a larger --max-model-len"
    return ("Ollama: PARAMETER num_ctx in a Modelfile or OLLAMA_CONTEXT_LENGTH; llama.cpp: -c; vLLM: --max-model-len; "
            "or the server's own setting")
