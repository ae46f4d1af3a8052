"""Token counts without a tokenizer: papercoder's one estimate, for windows and budgets.

tiktoken downloads its tables on first use, and each provider counts its own way anyway, so
every budget in papercoder is sized with one rough rule: about four characters a token.
"""

from __future__ import annotations

CHARS_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    """Tokens in ``text``, estimated as characters / 4, rounded up (for budgets, not billing)."""
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN
