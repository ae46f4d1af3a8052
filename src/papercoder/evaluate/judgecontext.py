"""Fitting a judge's prompt into its context window: the paper first, then as much code as fits.

Tokens are estimated as characters / 4 (:func:`papercoder.paper.estimate_tokens`); every cut
is written down as a note so the result says what the judge did not see.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from papercoder.paper import Paper
from papercoder.tokens import estimate_tokens

CUT_MARK = "\n\n[... the rest of the paper was cut to fit the judge's context ...]\n"


@dataclass(frozen=True)
class Budget:
    """How a context window is spent: the answer's reserve, the fixed prompt, and the rest."""

    window: int
    output: int  # tokens reserved for the answer
    overhead: int  # tokens of the instructions around the paper and the code

    @property
    def available(self) -> int:
        return max(0, self.window - self.output - self.overhead)


def make_budget(window: int, *, answer_tokens: int, overhead_text: str = "") -> Budget:
    """A budget for ``window``: ``answer_tokens`` kept for the answer, more on a large window
    (a sixteenth of it: reasoning models spend output tokens before they answer), and never
    more than a quarter of it."""
    output = min(max(answer_tokens, window // 16), max(256, window // 4))
    return Budget(window=window, output=output, overhead=estimate_tokens(overhead_text) + 64)


def paper_for_judge(paper: Paper, max_tokens: int) -> tuple[str, list[str]]:
    """The paper as Markdown within ``max_tokens``, and notes on what was cut.

    Appendix sections go first, then figure captions, then the text is cut at the end.
    """
    notes: list[str] = []
    text = paper.to_markdown()
    if estimate_tokens(text) <= max_tokens:
        return text, notes
    appendix = [s.heading for s in paper.sections if s.appendix]
    if appendix:
        paper = dataclasses.replace(paper, sections=[s for s in paper.sections if not s.appendix])
        text = paper.to_markdown()
        listed = ", ".join(appendix[:5]) + (f" and {len(appendix) - 5} more" if len(appendix) > 5 else "")
        notes.append(f"the paper's appendix ({len(appendix)} sections) was left out: {listed}")
        if estimate_tokens(text) <= max_tokens:
            return text, notes
    if paper.captions:
        paper = dataclasses.replace(paper, captions=[])
        text = paper.to_markdown()
        notes.append("the paper's figure and table captions were left out")
        if estimate_tokens(text) <= max_tokens:
            return text, notes
    keep = max(0, max_tokens * 4 - len(CUT_MARK))
    notes.append(f"the paper was cut after {keep} of its {len(text)} characters")
    return text[:keep] + CUT_MARK, notes

