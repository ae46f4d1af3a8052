"""Getting JSON out of what a model says: lenient extraction, then strict validation.

Models wrap JSON in fences, write reasoning before it ("the file list could be {a, b}..."),
leave trailing commas, or send something that only looks like JSON (``[[[[...`` a hundred
thousand deep). Extraction yields every plausible value in order of preference, so a caller
can take the first that validates, and never raises anything but ``ValueError``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from papercoder.llm.reasoning import strip_reasoning

_FENCE = re.compile(r"```(?:json|JSON)?[ \t]*\r?\n(.*?)```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
MAX_CHARS = 2_000_000  # an answer longer than this is not searched for JSON
MAX_STARTS = 200  # opening brackets tried per candidate text
MAX_DEPTH = 200  # nesting deeper than this is not a plan, a rubric verdict or a score


def extract_json(text: str) -> Any:
    """Return the first JSON value found in ``text``.

    Tolerates code fences, prose and ``<think>`` blocks before and after, and trailing commas.
    Raises ``ValueError`` with a message written for the model when nothing parses.
    """
    for value in json_candidates(text):
        return value
    raise ValueError("no JSON object was found in the answer; reply with a single JSON object only")


def json_candidates(text: str) -> Iterator[Any]:
    """Every JSON value worth trying in ``text``, best first: fenced blocks, then the text itself.

    Within each, objects and arrays are tried from each opening bracket on; a value nested too
    deeply is skipped (``ValueError`` never escapes from here; nothing else does either).
    """
    if len(text) > MAX_CHARS:
        return
    visible, _ = strip_reasoning(text)
    seen: list[Any] = []
    for source in (visible, text) if visible != text else (text,):
        for candidate in [m.group(1) for m in _FENCE.finditer(source)] + [source]:
            for value in _json_values(candidate):
                if value not in seen:
                    seen.append(value)
                    yield value


def _json_values(text: str) -> Iterator[Any]:
    decoder = json.JSONDecoder()
    end = -1
    for tried, match in enumerate(re.finditer(r"[{\[]", text)):
        if tried >= MAX_STARTS:
            return
        start = match.start()
        if start < end:  # inside a value already returned
            continue
        if too_deep(text, start):
            continue
        for chunk in (text[start:], _TRAILING_COMMA.sub(r"\1", text[start:])):
            try:
                value, length = decoder.raw_decode(chunk)
            except (json.JSONDecodeError, RecursionError):
                continue
            end = start + length
            yield value
            break


def too_deep(text: str, start: int = 0, limit: int | None = None) -> bool:
    """True when the brackets of the JSON value at ``start`` nest deeper than ``limit`` (default
    ``MAX_DEPTH``), counted in one pass, strings aside, not parsed: ``json`` recurses."""
    limit = MAX_DEPTH if limit is None else limit
    depth = 0
    in_string = False
    escaped = False
    for ch in text[start : start + 200_000]:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            depth += 1
            if depth > limit:
                return True
        elif ch in "}]":
            depth -= 1
            if depth <= 0:
                return False
    return False
