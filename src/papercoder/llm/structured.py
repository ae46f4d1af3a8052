"""Getting JSON out of what a model says: lenient extraction, then strict validation."""

from __future__ import annotations

import json
import re
from typing import Any

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n(.*?)```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")


def extract_json(text: str) -> Any:
    """Return the first JSON value found in ``text``.

    Tolerates code fences, prose before and after, and trailing commas. Raises ``ValueError``
    with a message written for the model when nothing parses.
    """
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    for candidate in candidates:
        value = _first_json_value(candidate)
        if value is not _MISSING:
            return value
    raise ValueError("no JSON object was found in the answer; reply with a single JSON object only")


_MISSING = object()


def _first_json_value(text: str) -> Any:
    decoder = json.JSONDecoder()
    for match in re.finditer(r"[{\[]", text):
        start = match.start()
        for chunk in (text[start:], _TRAILING_COMMA.sub(r"\1", text[start:])):
            try:
                value, _ = decoder.raw_decode(chunk)
                return value
            except json.JSONDecodeError:
                continue
    return _MISSING
