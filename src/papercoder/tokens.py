"""Token counts without a tokenizer: papercoder's one estimate, for windows and budgets.

tiktoken downloads its tables on first use, and each provider counts its own way anyway, so
every budget in papercoder is sized with one rough rule: about four characters a token.
"""

from __future__ import annotations

CHARS_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    """Tokens in ``text``, estimated as characters / 4, rounded up (for budgets, not billing)."""
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def image_tokens(width: int, height: int, provider: str = "") -> int:
    """Input tokens one image costs, by the provider's published rule (for windows, budgets, estimates).

    Anthropic: width x height / 750, after scaling to at most 1568 pixels on the long side.
    OpenAI (high detail): 85 + 170 per 512-pixel tile, after fitting 2048 x 2048 and then 768
    on the short side. Other servers (vLLM, Ollama) count their own way: the larger of the two,
    so a window sized with it holds.
    """
    if width <= 0 or height <= 0:
        return 0
    scale = min(1.0, 1568 / max(width, height))
    anthropic = int(width * scale * height * scale / 750) + 1
    scale = min(1.0, 2048 / max(width, height))
    w, h = width * scale, height * scale
    scale = min(1.0, 768 / min(w, h))
    w, h = w * scale, h * scale
    openai = 85 + 170 * (-(-int(w) // 512)) * (-(-int(h) // 512))
    if provider == "anthropic":
        return anthropic
    if provider == "openai":
        return openai
    return max(anthropic, openai)


def message_tokens(message: dict, provider: str = "") -> int:
    """Estimated input tokens of one chat message: its text, its images, a little overhead."""
    images = message.get("images") or ()
    return estimate_tokens(str(message.get("content", ""))) + 4 + sum(
        image_tokens(int(image.get("width", 0)), int(image.get("height", 0)), provider) for image in images
    )
