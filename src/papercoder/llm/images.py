"""Images in chat messages: which models read them, and each provider's way of sending them.

A message that carries figures keeps its text in ``content`` and its images in ``images``, a
list of ``{"label", "media_type", "data" (base64), "width", "height"}``. Every stage, the
window arithmetic and the call log's key see that one shape; only the providers turn it into
OpenAI's ``image_url`` parts or Anthropic's ``image`` blocks. The call log keys a request by
its images' bytes but stores each image as its digest, so a run's log does not grow by
megabytes per call.
"""

from __future__ import annotations

import copy
import hashlib
import re
from typing import Any

# Families that read images. Checked after the text-only ones below, on the model's own name
# (the part after any "provider:" and "org/").
_VISION = re.compile(
    r"^(chatgpt-4o|gpt-4o|gpt-4\.1|gpt-4\.5|gpt-4-turbo|gpt-4-vision|gpt-5|o1(?!-mini|-preview)|o3(?!-mini)|o4"
    r"|claude-3|claude-(?:sonnet|opus|haiku)-4|claude-[a-z]+-4|gemini|grok-(?:2-vision|4)|llama-?4|pixtral)"
    r"|(?:^|[-_.:])(?:vl|vision|omni)(?:$|[-_.:])|llava|qwen[\d.]*-?vl|qvq|internvl|minicpm-?v|molmo|idefics|moondream"
    r"|gemma-?3(?!.*(?:1b|270m))|mistral-small-3\.[12]|mistral-medium-3"
)
_TEXT_ONLY = re.compile(r"^(o1-mini|o1-preview|o3-mini|gpt-3\.5|gpt-4(?:-\d{4})?$|deepseek|qwq|smollm|codestral)")


def is_vision_model(model: str) -> bool:
    """Whether ``model`` (a model string, with or without its provider) reads images, by its family."""
    name = model.split(":", 1)[1] if re.match(r"^[a-z][a-z0-9_.-]*:", model) and "/" not in model.split(":", 1)[0] else model
    name = name.rsplit("/", 1)[-1].lower()
    if _TEXT_ONLY.search(name):
        return False
    return bool(_VISION.search(name))


def image_rule(model: str) -> str:
    """Whose image-token rule prices ``model``'s images (:func:`papercoder.tokens.image_tokens`):
    "openai", "anthropic", or "" for any other server (the larger of the two)."""
    provider = model.split(":", 1)[0]
    return provider if provider in ("openai", "anthropic") else ""


def reads_images(model: str, *, configured: bool | None = None, server: bool | None = None,
                 text_only: bool = False) -> tuple[bool, str]:
    """Whether requests to ``model`` may carry figures, and why: a provider that reads none (the
    embedded model), else ``vision`` in the config, else what its server published, else its family."""
    if text_only:
        return False, "the embedded model reads no images"
    if configured is not None:
        return configured, f"vision = {'true' if configured else 'false'} in the config file"
    if server is not None:
        return server, "its server says so"
    vision = is_vision_model(model)
    return vision, "by its model family" if vision else "not a model family known to read images; set vision = true if it does"


_REFUSAL = re.compile(
    r"image|vision|multi-?modal|image_url|content type|does not support (?:this )?(?:content|input)", re.IGNORECASE
)


def looks_like_image_refusal(message: str) -> bool:
    """Whether a server's rejection of a request is about its images (a text-only model behind
    an OpenAI-compatible server, a proxy without vision)."""
    return bool(_REFUSAL.search(message))


def image_part(label: str, media_type: str, data: bytes, width: int, height: int) -> dict[str, Any]:
    """One image as a message carries it."""
    import base64

    return {"label": label, "media_type": media_type, "data": base64.b64encode(data).decode("ascii"),
            "width": width, "height": height}


def openai_message(message: dict[str, Any]) -> dict[str, Any]:
    """A message for OpenAI's chat API: text, then each image's label and an ``image_url`` data URL."""
    images = message.get("images")
    if not images:
        return message
    parts: list[dict[str, Any]] = [{"type": "text", "text": message.get("content", "")}]
    for image in images:
        parts.append({"type": "text", "text": image["label"]})
        parts.append({"type": "image_url",
                      "image_url": {"url": f"data:{image['media_type']};base64,{image['data']}", "detail": "high"}})
    return {key: value for key, value in message.items() if key != "images"} | {"content": parts}


def anthropic_blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    """A message as Anthropic content blocks: its text, then each image's label and ``image`` block."""
    blocks: list[dict[str, Any]] = [{"type": "text", "text": message.get("content", "")}]
    for image in message.get("images") or ():
        blocks.append({"type": "text", "text": image["label"]})
        blocks.append({"type": "image", "source": {"type": "base64", "media_type": image["media_type"], "data": image["data"]}})
    return blocks


def without_image_data(request: dict[str, Any]) -> dict[str, Any]:
    """``request`` with each image's base64 data replaced by its SHA-256 (what the call log stores)."""
    messages = request.get("messages")
    if not isinstance(messages, list) or not any(isinstance(m, dict) and m.get("images") for m in messages):
        return request
    stored = copy.copy(request)
    stored["messages"] = []
    for message in messages:
        if isinstance(message, dict) and message.get("images"):
            message = dict(message)
            message["images"] = [
                {k: v for k, v in image.items() if k != "data"}
                | {"sha256": hashlib.sha256(str(image.get("data", "")).encode("ascii", "replace")).hexdigest()}
                for image in message["images"]
            ]
        stored["messages"].append(message)
    return stored
