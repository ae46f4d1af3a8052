"""Which of the paper's figures a request carries, within a budget, for a model that reads images.

The planning conversation carries the figures in its cached prefix, right after the paper; an
analysis or code request carries the figures its file's logic design (or analysis) names, in
its own part after the shared prefix, so the prefix stays the same bytes for every file. A
budget caps the images per request (``--max-figures``) and their bytes; what is left out is
said in ``run.log``. A model that reads no images gets no images and the captions as before.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from papercoder.config import configured
from papercoder.llm import Message
from papercoder.llm.images import image_part, image_rule
from papercoder.paper.figures import Figure, load_figures
from papercoder.prompts import render
from papercoder.rundir.context import StageContext
from papercoder.tokens import image_tokens

MAX_FIGURES = 12  # images per request by default: a typical paper's figures, under every provider's limit
MAX_REQUEST_BYTES = 16 * 1024 * 1024  # images per request, before base64: under Anthropic's 32 MB request
WINDOW_SHARE = 0.25  # images take at most this share of the context window
_NAMED = re.compile(
    r"\b(Figure|Figures|Fig\.|Figs\.|Table|Tables|Tab\.|Algorithm|Algorithms|Alg\.)\s*(\d+)((?:\s*(?:,|and|&|-|–)\s*\d+)*)",
    re.IGNORECASE,
)
_KIND = {"fig": "Figure", "tab": "Table", "alg": "Algorithm"}


def max_figures(ctx: StageContext) -> int:
    """The images a request may carry: the run's --max-figures, else the config file's, else 12."""
    if ctx.max_figures is not None:
        return ctx.max_figures
    limit = configured("max_figures")
    return MAX_FIGURES if limit is None else limit


def figures_withheld(ctx: StageContext) -> str:
    """Why the run's requests carry no figures ("" when they do)."""
    if not ctx.llm.accepts_images:
        return f"{ctx.llm.model} reads no images: {ctx.llm.images_reason}"
    if max_figures(ctx) <= 0:
        return "--max-figures 0"
    return ""


def run_figures(ctx: StageContext) -> list[Figure]:
    """The run's figures (``paper/figures/``) when the model reads images, else none (read once a stage)."""
    if "" not in ctx.figure_cache:
        figures: list[Figure] = []
        if not figures_withheld(ctx):
            figures, warnings = load_figures(ctx.paths.figures)
            for warning in warnings:
                ctx.note(f"figures: {warning}")
        ctx.figure_cache[""] = figures
    return ctx.figure_cache[""]


def named_figures(text: str, figures: list[Figure]) -> list[Figure]:
    """The figures ``text`` names ("Figure 3", "Fig. 2", "Figures 4 and 5", "Table 1" set as a
    picture, "Algorithm 2"), in the paper's order."""
    named: set[tuple[str, str]] = set()
    for match in _NAMED.finditer(text):
        kind = _KIND[match.group(1)[:3].lower()]
        named.add((kind, match.group(2)))
        named.update((kind, number) for number in re.findall(r"\d+", match.group(3) or ""))
    return [figure for figure in figures if (figure.kind, figure.number) in named]


def within_budget(
    figures: list[Figure], *, limit: int, window: int, provider: str, note: Callable[[str], None], what: str
) -> list[Figure]:
    """The first figures that fit the count, the bytes and a quarter of the window; the rest noted."""
    kept: list[Figure] = []
    size = tokens = 0
    for figure in figures:
        cost = image_tokens(figure.width, figure.height, provider)
        if len(kept) >= limit or size + len(figure.data) > MAX_REQUEST_BYTES or tokens + cost > window * WINDOW_SHARE:
            continue
        kept.append(figure)
        size += len(figure.data)
        tokens += cost
    left = [figure.label for figure in figures if figure not in kept]
    if left:
        note(f"figures: {what}: {len(kept)} of {len(figures)} figures sent (--max-figures {limit}, "
             f"{MAX_REQUEST_BYTES // (1024 * 1024)} MB and a quarter of the window per request); left out: {', '.join(left)}")
    return kept


def images_of(figures: list[Figure]) -> list[dict]:
    """The figures as a message's images, each labelled with its caption."""
    return [image_part(figure.caption or figure.label, figure.media_type, figure.data, figure.width, figure.height)
            for figure in figures]


def _budgeted(ctx: StageContext, figures: list[Figure], what: str) -> list[Figure]:
    """:func:`within_budget` with the run's limit, window and the model's image rule."""
    if not figures:
        return []
    return within_budget(figures, limit=max_figures(ctx), window=ctx.llm.context_window,
                         provider=image_rule(ctx.llm.model), note=ctx.note, what=what)


def planning_message(ctx: StageContext) -> Message | None:
    """The message after the paper in the planning conversation and the checklist requests: every
    figure the budget allows (built once a stage, so both send the same bytes and share the cache)."""
    if "planning" not in ctx.figure_cache:
        message = None
        kept = _budgeted(ctx, run_figures(ctx), "the planning conversation")
        if kept:
            ctx.note(f"figures: the planning conversation: {len(kept)} sent ({', '.join(f.label for f in kept)})")
            message = {"role": "user", "content": render("planning/figures", count=len(kept)), "images": images_of(kept)}
        ctx.figure_cache["planning"] = message
    return ctx.figure_cache["planning"]


def file_images(ctx: StageContext, named_in: str, what: str) -> list[dict]:
    """The images of the figures ``named_in`` names (a file's logic design, its analysis), within
    the budget; chosen once per request, so a request fitted again carries the same bytes."""
    if what not in ctx.figure_cache:
        kept = _budgeted(ctx, named_figures(named_in, run_figures(ctx)), what)
        if kept:
            ctx.note(f"figures: {what}: {', '.join(f.label for f in kept)} sent")
        ctx.figure_cache[what] = images_of(kept)
    return ctx.figure_cache[what]


def with_images(messages: list[Message], images: list[dict]) -> list[Message]:
    """``messages`` with ``images`` on the last one (the request's own part, after the shared prefix)."""
    if not images:
        return messages
    return [*messages[:-1], {**messages[-1], "images": images}]
