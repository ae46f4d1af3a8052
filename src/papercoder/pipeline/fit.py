"""Fitting a long paper into the model's context window.

Every later prompt carries the paper beside plans, analyses and code, so the paper may take at
most a share of the window (:func:`paper_budget`). When it is longer, it is shrunk in a fixed
order, each step only if still needed, and each step is noted: references, then a model-written
condensation of the appendix sections (stage label ``fit``, cached like every call), then the
appendix itself, then a condensation of each remaining section, then figure and table captions,
then cutting every section to the same share of its length, and cutting the paper's end as the
last resort. Everything here is
deterministic given the model's answers, so a resumed run sends identical requests.
"""

from __future__ import annotations

import asyncio
import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from papercoder.llm import LLM, ContextLengthError, TruncatedError
from papercoder.paper.model import Paper, Section
from papercoder.pipeline.artifacts import read_addendum
from papercoder.prompts import render
from papercoder.paper.figures import save_figures
from papercoder.pipeline.figures import figures_withheld
from papercoder.repo.paths import write_inside
from papercoder.rundir.context import StageContext
from papercoder.tokens import estimate_tokens

FIT_SHARE = 0.4  # of a context window under LARGE_WINDOW, at most, for the paper
MIN_CONDENSE_TOKENS = 80  # sections shorter than this are kept as they are
PROMPT_OVERHEAD_TOKENS = 400  # the condensation prompt's own words, with a margin
TRUNCATION_MARK = "[The rest of the paper was cut here to fit the model's context window.]"

_NUMBERING = r"^\s*(?:[A-Z]|\d+)?(?:\.\d+)*\.?\s*"
_REFERENCES = re.compile(_NUMBERING + r"(references|bibliography|works cited|literature cited)\b", re.I)
_APPENDIX = re.compile(_NUMBERING + r"(appendix|appendices|supplementary|supplemental)\b", re.I)


@dataclass
class FitResult:
    """The paper as the model will see it, and how it was made to fit."""

    markdown: str
    tokens_before: int
    tokens_after: int
    budget: int
    steps: list[str] = field(default_factory=list)  # one line per shrinking step taken

    @property
    def shrunk(self) -> bool:
        return bool(self.steps)


LARGE_WINDOW = 100_000  # from this window size on, the paper may take LARGE_SHARE
LARGE_SHARE = 0.5


def paper_budget(context_window: int, share: float | None = None, reserved: int = 0) -> int:
    """Tokens the paper may take in a window of ``context_window`` tokens.

    A large window gives the paper a larger share (half of 200k leaves 100k for everything
    else a request carries), so a long paper keeps its appendix there; ``reserved`` tokens (the
    addendum, which is never shrunk) come off the paper's share.
    """
    if share is None:
        share = LARGE_SHARE if context_window >= LARGE_WINDOW else FIT_SHARE
    return max(256, int(context_window * share) - reserved)


def is_references(section: Section) -> bool:
    return bool(_REFERENCES.match(section.heading))


def appendix_flags(sections: list[Section]) -> list[bool]:
    """Which sections are appendix material.

    A section is appendix material when the reader marked it so, when its heading says so
    ("Appendix", "A. Appendix: proofs", "Supplementary material"), or when it comes after one
    that is (appendices come last, and their subsections rarely say "appendix" themselves).
    """
    flags: list[bool] = []
    inside = False
    for section in sections:
        inside = inside or section.appendix or bool(_APPENDIX.match(section.heading))
        flags.append(inside)
    return flags


async def fit_paper(
    paper: Paper,
    llm: LLM,
    *,
    budget: int | None = None,
    note: Callable[[str], None] = lambda message: None,
    progress: Callable[[str, int, int], None] = lambda stage, done, total: None,
    reserved: int = 0,
) -> FitResult:
    """Shrink ``paper`` until its Markdown fits ``budget`` tokens (default: see :func:`paper_budget`)."""
    budget = budget or paper_budget(llm.context_window, reserved=reserved)
    paper = copy.deepcopy(paper)
    before = estimate_tokens(paper.to_markdown())
    result = FitResult(markdown=paper.to_markdown(), tokens_before=before, tokens_after=before, budget=budget)

    def size() -> int:
        return estimate_tokens(paper.to_markdown())

    def step(message: str) -> None:
        line = f"fit: {message}; the paper is now {size():,} tokens (budget {budget:,})"
        result.steps.append(line)
        note(line)

    if before <= budget:
        return result
    note(
        f"fit: the paper is about {before:,} tokens, more than the {budget:,} it may take "
        f"({FIT_SHARE:.0%} of the {llm.context_window:,}-token context window); shrinking it"
    )

    references = [s for s in paper.sections if is_references(s)]
    if references:
        paper.sections = [s for s in paper.sections if not is_references(s)]
        step(f"dropped the references ({len(references)} section(s))")

    # appendices hold the hyperparameters, tables and prompts of main-text experiments:
    # condensed first, dropped only when that is not enough
    if size() > budget:
        flags = appendix_flags(paper.sections)
        appendix = [i for i, flag in enumerate(flags) if flag]
        if appendix:
            condensed = await _condense_sections(paper, llm, budget, progress, only=appendix)
            if condensed:
                step(f"condensed {len(condensed)} appendix section(s) with the model: {_list(condensed)}")
        if size() > budget:
            dropped = [s.heading for s, flag in zip(paper.sections, flags) if flag]
            if dropped:
                paper.sections = [s for s, flag in zip(paper.sections, flags) if not flag]
                step(f"dropped {len(dropped)} appendix section(s): {_list(dropped)}")

    if size() > budget:
        condensed = await _condense_sections(paper, llm, budget, progress)
        if condensed:
            step(f"condensed {len(condensed)} section(s) with the model: {_list(condensed)}")

    if size() > budget and paper.captions:  # captions name what each table and figure shows
        count = len(paper.captions)
        paper.captions = []
        step(f"dropped {count} figure and table caption(s)")

    if size() > budget:
        share = _trim_sections(paper, budget)
        if share is not None:
            step(f"cut every section to its first {share:.0%} or so, at sentence ends")

    markdown = paper.to_markdown()
    if estimate_tokens(markdown) > budget:
        markdown = truncate_markdown(markdown, budget)
        result.steps.append(
            f"fit: cut the paper's end to fit; the paper is now {estimate_tokens(markdown):,} tokens "
            f"(budget {budget:,})"
        )
        note(result.steps[-1])

    result.markdown = markdown
    result.tokens_after = estimate_tokens(markdown)
    return result


async def _condense_sections(
    paper: Paper, llm: LLM, budget: int, progress: Callable[[str, int, int], None], only: list[int] | None = None
) -> list[str]:
    """Ask the model to shorten each long section (of ``only``, if given) in proportion; returns
    the headings shortened."""
    fixed = estimate_tokens(Paper(title=paper.title, abstract=paper.abstract, captions=paper.captions).to_markdown())
    headings = sum(estimate_tokens(s.heading) + 2 for s in paper.sections)
    sizes = [estimate_tokens(s.text) for s in paper.sections]
    chosen = set(range(len(sizes)) if only is None else only)
    long_ones = [i for i, n in enumerate(sizes) if n >= MIN_CONDENSE_TOKENS and i in chosen]
    short_total = sum(n for i, n in enumerate(sizes) if i not in long_ones)
    room = budget - fixed - headings - short_total
    long_total = sum(sizes[i] for i in long_ones)
    if not long_ones or long_total == 0:
        return []
    ratio = max(0.05, min(0.9, room / long_total))

    done = 0
    progress("fit", done, len(long_ones))

    async def condense(index: int) -> tuple[int, str | None]:
        nonlocal done
        section = paper.sections[index]
        target = max(40, int(sizes[index] * ratio))
        text = await _condense_text(llm, paper.title, section, target)
        done += 1
        progress("fit", done, len(long_ones))
        return index, text

    results = await asyncio.gather(*(condense(i) for i in long_ones))
    changed: list[str] = []
    for index, text in results:
        section = paper.sections[index]
        if text and estimate_tokens(text) < sizes[index]:
            section.text = text
            changed.append(section.heading)
    return changed


async def _condense_text(llm: LLM, title: str, section: Section, target_tokens: int) -> str | None:
    """One section, condensed to about ``target_tokens``; long sections go in parts that fit."""
    window = llm.context_window
    # a third of the window per part and at most a quarter for the answer leave room for a
    # tokenizer that counts more tokens than our estimate of four characters each
    part_limit = max(200, (window - PROMPT_OVERHEAD_TOKENS) // 3)
    parts = split_paragraphs(section.text, part_limit)
    total = sum(estimate_tokens(p) for p in parts) or 1
    answers: list[str] = []
    for number, part in enumerate(parts, start=1):
        share = max(30, int(target_tokens * estimate_tokens(part) / total))
        max_tokens = min(int(share * 1.5) + 32, max(64, window // 4))
        prompt = render(
            "fit/condense",
            title=title,
            heading=section.heading,
            text=part,
            words=max(20, int(share * 0.75)),
            part=number,
            part_count=len(parts),
        )
        try:
            completion = await llm.acomplete(
                [{"role": "user", "content": prompt}],
                max_tokens=max_tokens,
                temperature=0.0,
                stage="fit",
                allow_truncated=True,
            )
        except ContextLengthError:
            return None
        except TruncatedError as exc:  # a model layer that raises despite allow_truncated
            completion = exc.completion
        text = completion.text.strip()
        if completion.finish_reason == "length":
            text = _cut_to_sentence(text)
        answers.append(text)
    joined = "\n\n".join(a for a in answers if a)
    return joined or None


def _trim_sections(paper: Paper, budget: int) -> float | None:
    """Cut each section's text to the same share of its length, so that every section keeps its
    beginning (where methods and hyperparameters are usually stated) rather than the paper
    losing its last sections. Returns the share kept, or None when there is no room at all."""
    sizes = [len(s.text) for s in paper.sections]
    without_text = estimate_tokens(
        Paper(title=paper.title, abstract=paper.abstract, captions=paper.captions,
              sections=[Section(s.heading, "", s.level, s.appendix) for s in paper.sections]).to_markdown()
    )
    room_chars = int((budget - without_text) * 4 * 0.97)  # a little margin for the cut marks
    total = sum(sizes)
    if room_chars <= 0 or total == 0:
        return None
    share = min(1.0, room_chars / total)
    for section in paper.sections:
        limit = int(len(section.text) * share)
        if len(section.text) > limit:
            section.text = _cut_at_sentence(section.text, limit)
    return share


def _cut_at_sentence(text: str, limit: int) -> str:
    """The start of ``text``, at most ``limit`` characters, ending at a sentence end if one is near."""
    mark = " [...]"
    head = text[: max(0, limit - len(mark))]
    end = max(head.rfind(". "), head.rfind(".\n"), head.rfind("\n\n"))
    if end > len(head) // 2:
        head = head[: end + 1]
    return head.rstrip() + mark if head.strip() else ""


def split_paragraphs(text: str, limit_tokens: int) -> list[str]:
    """Split ``text`` at paragraph breaks into parts of at most ``limit_tokens`` (estimated).

    A single paragraph longer than the limit is cut at the limit.
    """
    limit_chars = limit_tokens * 4
    parts: list[str] = []
    current = ""
    for paragraph in re.split(r"\n\s*\n", text.strip()):
        while len(paragraph) > limit_chars:
            if current:
                parts.append(current)
                current = ""
            parts.append(paragraph[:limit_chars])
            paragraph = paragraph[limit_chars:]
        candidate = f"{current}\n\n{paragraph}" if current else paragraph
        if len(candidate) > limit_chars and current:
            parts.append(current)
            current = paragraph
        else:
            current = candidate
    if current:
        parts.append(current)
    return parts or [""]


def truncate_markdown(markdown: str, budget: int) -> str:
    """Cut ``markdown`` to ``budget`` tokens at a paragraph break, and say that it was cut."""
    limit = budget * 4 - len(TRUNCATION_MARK) - 4
    head = markdown[: max(0, limit)]
    cut = head.rfind("\n\n")
    if cut > limit // 2:
        head = head[:cut]
    return head.rstrip() + "\n\n" + TRUNCATION_MARK + "\n"


def _cut_to_sentence(text: str) -> str:
    end = max(text.rfind(". "), text.rfind(".\n"), text.rfind("\n\n"))
    return text[: end + 1].rstrip() if end > len(text) // 2 else text


def _list(headings: list[str], limit: int = 6) -> str:
    shown = ", ".join(f'"{h.strip()}"' for h in headings[:limit])
    return shown + (f" and {len(headings) - limit} more" if len(headings) > limit else "")


async def run_fit(ctx: StageContext) -> FitResult:
    """The fit step of a run: ``ctx.paper`` fitted to the model's window, written as ``paper.md``.

    Runs before planning whenever the run has no fitted paper yet; every later request reads
    ``paper.md``, never the source again.
    """
    paper = ctx.paper
    if paper is None:
        raise ValueError("the fit step needs the paper read from its source")
    addendum = read_addendum(ctx.paths)
    result = await fit_paper(
        paper,
        ctx.llm,
        reserved=estimate_tokens(addendum) if addendum else 0,
        note=ctx.note,
        progress=lambda _label, done, total: ctx.progress("fit", done, total),
    )
    write_inside(ctx.paths.root, ctx.paths.paper.name, result.markdown)
    if result.shrunk:  # the checklist's quotes and the refine requests read the passages it lost
        write_inside(ctx.paths.root, ctx.paths.paper_full.name, paper.to_markdown())
        if getattr(ctx.llm, "window_assumed", False):
            ctx.degrade(
                f"fit: the paper was shrunk from {result.tokens_before:,} to {result.tokens_after:,} tokens to fit a context "
                f"window of {ctx.llm.context_window:,} tokens that nothing stated (an assumption); set --context-window "
                "or context_window in papercoder.toml to the model's real window"
            )
    if paper.figures:  # kept for every model: the report shows them, a vision model reads them
        save_figures(ctx.paths.figures, paper.figures)
        withheld = figures_withheld(ctx)
        ctx.note(f"figures: {len(paper.figures)} saved -> {ctx.paths.figures}"
                 + (f" (not sent: {withheld}; requests carry the captions)" if withheld
                    else f" (sent as images to {ctx.llm.model}: {ctx.llm.images_reason})"))
    ctx.note(
        f"paper: {paper.title!r}, {result.tokens_after:,} tokens"
        + (f" (shrunk from {result.tokens_before:,})" if result.shrunk else "")
        + f" -> {ctx.paths.paper}"
    )
    return result
