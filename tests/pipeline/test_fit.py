"""Fitting a long paper to the model's window: the order of the steps, the model-written
condensation (cached like every call), and truncation as the last resort."""

from __future__ import annotations

import asyncio
import re

import pytest

from papercoder.llm import LLM, FakeReply, ScriptedProvider
from papercoder.llm.calllog import CallLog
from papercoder.paper.model import Paper, Section
from papercoder.tokens import estimate_tokens
from papercoder.pipeline.fit import (
    TRUNCATION_MARK,
    appendix_flags,
    fit_paper,
    paper_budget,
    split_paragraphs,
    truncate_markdown,
)
from papercoder.prompts import render


def words(n: int, word: str = "alpha") -> str:
    """About ``n`` tokens of text in paragraphs."""
    sentence = f"The {word} method uses a learning rate of 0.01 and trains for 200 epochs. "
    text = sentence * max(1, n * 4 // len(sentence))
    return "\n\n".join(text[i : i + 600] for i in range(0, len(text), 600))


def long_paper() -> Paper:
    return Paper(
        title="A Long Paper",
        abstract="We propose a method.",
        sections=[
            Section("1 Introduction", words(300, "intro")),
            Section("2 Method", words(600, "method")),
            Section("3 Experiments", words(400, "experiment")),
            Section("References", words(400, "reference")),
            Section("A Proofs", words(500, "proof"), appendix=True),
            Section("A.1 Lemma", words(200, "lemma")),
            Section("Appendix B: More results", words(300, "more")),
        ],
        captions=[f"Figure {i}: " + words(40, "caption") for i in range(1, 6)],
    )


def shortening_model(ratio: float = 0.2) -> ScriptedProvider:
    """Answers a condensation request with the first ``ratio`` of the section it was given."""

    def reply(messages):
        text = re.search(r"<section>\n(.*)\n</section>", messages[-1]["content"], re.S).group(1)
        return FakeReply(text=text[: int(len(text) * ratio)])

    return ScriptedProvider(reply, context_window=8192)


def fit(paper: Paper, provider: ScriptedProvider, budget: int, log: CallLog | None = None, notes=None):
    llm = LLM(provider, log=log)
    return asyncio.run(fit_paper(paper, llm, budget=budget, note=(notes.append if notes is not None else print)))


def test_a_paper_that_fits_is_left_alone():
    paper = Paper(title="Short", abstract="Tiny.", sections=[Section("1 Method", "Do it.")])
    provider = ScriptedProvider([])
    result = fit(paper, provider, budget=1000)
    assert result.markdown == paper.to_markdown() and result.steps == [] and provider.calls == []


def test_budget_is_forty_percent_of_a_small_window_and_half_of_a_large_one():
    assert paper_budget(8192) == 3276
    assert paper_budget(128_000) == 64_000
    assert paper_budget(200_000, reserved=1000) == 99_000  # an addendum's tokens come off


def test_references_go_first_and_nothing_more_when_that_suffices():
    paper = long_paper()
    without_refs = estimate_tokens(
        Paper(paper.title, paper.abstract, [s for s in paper.sections if s.heading != "References"], paper.captions).to_markdown()
    )
    result = fit(paper, ScriptedProvider([]), budget=without_refs + 5)
    assert len(result.steps) == 1 and "references" in result.steps[0]
    assert "reference method" not in result.markdown and "proof method" in result.markdown


def test_then_appendices_then_captions_in_that_order():
    paper = long_paper()
    body = Paper(paper.title, paper.abstract, paper.sections[:3]).to_markdown()
    notes: list[str] = []
    # a model whose condensation saves nothing: the appendix is tried first, then dropped
    provider = ScriptedProvider(
        lambda messages: re.search(r"<section>\n(.*)\n</section>", messages[-1]["content"], re.S).group(1) + " So.",
        context_window=8192,
    )
    result = fit(paper, provider, budget=estimate_tokens(body) + 5, notes=notes)
    assert [s.split(" ")[1] for s in result.steps] == ["dropped", "dropped", "dropped"]
    asked = [re.search(r"Section: (.*)", c["request"].messages[-1]["content"]).group(1) for c in provider.calls]
    assert asked[:3] == ["A Proofs", "A.1 Lemma", "Appendix B: More results"]
    assert "references" in result.steps[0]
    assert "3 appendix section(s)" in result.steps[1] and '"A.1 Lemma"' in result.steps[1]
    assert "caption" in result.steps[2]
    assert result.markdown == body and result.tokens_after <= result.budget
    assert all(step in notes for step in result.steps)


def test_appendix_detection():
    sections = [Section("1 Intro", ""), Section("2 Supplementary Material", ""), Section("2.1 Extra", "")]
    assert appendix_flags(sections) == [False, True, True]
    assert appendix_flags([Section("Appendices", ""), Section("A Simple", "")]) == [True, True]
    assert appendix_flags([Section("A Simple Baseline", ""), Section("3 Method", "")]) == [False, False]


def test_condensation_by_the_model_is_logged_cached_and_deterministic(tmp_path):
    paper = long_paper()
    provider = shortening_model()
    log = CallLog(tmp_path / "calls.sqlite")
    result = fit(paper, provider, budget=700, log=log)
    assert any("condensed 3 appendix section(s)" in step for step in result.steps)
    assert any("condensed 3 section(s)" in step for step in result.steps)
    assert result.tokens_after <= 700 and TRUNCATION_MARK not in result.markdown
    assert "1 Introduction" in result.markdown and "2 Method" in result.markdown
    assert len(provider.calls) == 6  # three appendix sections, then three of the main text
    assert all(call["request"].max_tokens for call in provider.calls)
    assert {r.stage for r in log.calls()} == {"fit"}

    again = shortening_model()
    second = fit(long_paper(), again, budget=700, log=log)
    assert again.calls == [] and second.markdown == result.markdown
    log.close()


def test_condensation_prompt_keeps_the_numbers_and_is_strict():
    prompt = render("fit/condense", title="T", heading="2 Method", text="lr 0.01", words=50, part=1, part_count=1)
    assert "lr 0.01" in prompt and "50 words" in prompt and "number" in prompt
    with pytest.raises(Exception):
        render("fit/condense", title="T", heading="H", text="x", words=5)


def test_when_condensing_is_not_enough_every_section_keeps_its_beginning():
    provider = ScriptedProvider(lambda messages: "This answer is useless. " * 2000, context_window=8192)
    result = fit(long_paper(), provider, budget=300)
    assert "fit: cut every section" in result.steps[-1]
    assert result.tokens_after <= 300 and TRUNCATION_MARK not in result.markdown
    assert "useless" not in result.markdown  # a condensation longer than its section is not used
    for heading, word in (("1 Introduction", "intro"), ("2 Method", "method"), ("3 Experiments", "experiment")):
        body = result.markdown.split(f"## {heading}\n\n")[1]
        assert body.startswith(f"The {word} method") and body.split("\n\n")[0].rstrip().endswith("[...]")


def test_cutting_the_end_is_the_last_resort():
    paper = Paper(title="Many", sections=[Section(f"{i} Part with a long heading of many words", "text " * 50) for i in range(200)])
    result = fit(paper, ScriptedProvider(lambda messages: "x", context_window=8192), budget=400)
    assert result.steps[-1].startswith("fit: cut the paper's end")
    assert result.markdown.rstrip().endswith(TRUNCATION_MARK)
    assert result.tokens_after <= 400


def test_long_sections_are_condensed_in_parts_that_fit_a_small_window():
    paper = Paper(title="Huge", sections=[Section("1 Method", words(6000))])
    provider = shortening_model(0.05)
    provider.context_window = 2048
    result = fit(paper, provider, budget=500)
    prompts = [c["request"].messages[-1]["content"] for c in provider.calls]
    assert len(prompts) > 1 and "(part 1 of" in prompts[0]
    assert all(estimate_tokens(p) + c["request"].max_tokens <= 2048 for p, c in zip(prompts, provider.calls))
    assert result.tokens_after <= 500


def test_split_and_truncate_helpers():
    parts = split_paragraphs("a" * 100 + "\n\n" + "b" * 100 + "\n\n" + "c" * 1000, limit_tokens=60)
    assert all(len(p) <= 240 for p in parts) and "".join(parts).replace("\n", "") == "a" * 100 + "b" * 100 + "c" * 1000
    cut = truncate_markdown("# T\n\n" + "para. " * 50 + "\n\n" + "x" * 4000, budget=100)
    assert estimate_tokens(cut) <= 100 and cut.rstrip().endswith(TRUNCATION_MARK)
