"""Structure from lines alone (plain text, PDFs without font information)."""

from __future__ import annotations

from papercoder.paper.lines import Line, structure_lines


def lines(*texts: str, bold: bool | None = None) -> list[Line]:
    return [Line(t, bold) for t in texts]


def test_numbered_headings_must_follow_on():
    found = structure_lines(
        lines(
            "1 Introduction",
            "We start.",
            "5 Reasons To Doubt This Line",  # a jump from 1 to 5: not a heading
            "2 Method",
            "2.1 Details",
            "2.3 Skipped One",  # 2.1 -> 2.3 is allowed: a heading lost in extraction
            "3. Results",
        )
    )
    assert [(s.heading, s.level) for s in found.sections] == [
        ("1 Introduction", 1),
        ("2 Method", 1),
        ("2.1 Details", 2),
        ("2.3 Skipped One", 2),
        ("3 Results", 1),
    ]
    assert "5 Reasons To Doubt This Line" in found.sections[0].text


def test_sentence_like_numbered_lines_are_not_headings():
    found = structure_lines(lines("1 Introduction", "2 we said this already.", "2 Layers, as before,"))
    assert [s.heading for s in found.sections] == ["1 Introduction"]


def test_bold_lines_decide_when_fonts_are_known():
    found = structure_lines(
        [Line("1 Introduction", True), Line("2 Looks Like A Heading", False), Line("2 Method", True)]
    )
    assert [s.heading for s in found.sections] == ["1 Introduction", "2 Method"]


def test_wrapped_bold_heading_is_joined():
    found = structure_lines(
        [
            Line("1 Introduction", True),
            Line("A body line that is about as long as the others are.", False),
            Line("2 Improving exploration in the generator by", True),
            Line("leveraging NCE samples", True),
            Line("Body text of the second section goes here, long enough.", False),
        ]
    )
    assert found.sections[1].heading == "2 Improving exploration in the generator by leveraging NCE samples"


def test_hyphens_mended_but_real_compounds_kept():
    found = structure_lines(lines("1 Introduction", "the hallucina-", "tion of self-", "consistency and Cosine-", "Beta"))
    assert found.sections[0].text == "the hallucination of self-consistency and Cosine-Beta"


def test_inline_abstract_and_unnumbered_headings():
    found = structure_lines(lines("Abstract: We do things.", "Introduction", "Text.", "Conclusion", "End."))
    assert found.abstract == "We do things."
    assert [s.heading for s in found.sections] == ["Introduction", "Conclusion"]


def test_lettered_headings_only_after_references_or_appendix():
    found = structure_lines(lines("1 Introduction", "A Study Of Things", "References", "[1] X.", "A Proofs", "B More"))
    assert [s.heading for s in found.sections] == ["1 Introduction", "References", "A Proofs", "B More"]
    assert [s.appendix for s in found.sections] == [False, False, True, True]


def test_plain_font_headings_found_when_bold_marks_something_else():
    # headings in a regular font; only an algorithm line happens to be bold
    found = structure_lines(
        [
            Line("1 Introduction", False),
            Line("Text.", False),
            Line("1 Input: data", True),
            Line("2 Method", False),
            Line("3 Results", False),
        ]
    )
    assert [s.heading for s in found.sections] == ["1 Introduction", "2 Method", "3 Results"]


def test_caption_ends_at_period_or_short_line():
    found = structure_lines(
        lines(
            "1 Introduction",
            "A body line of the usual length in a two-column paper",
            "and another one of them, so that short lines stand out,",
            "because most lines of a column run its whole width, as",
            "these ones do, and only the last line of a paragraph or",
            "a heading or a caption's last line is shorter than them.",
            "Table 3: Order Embedding Results",
            "Our model wins by a margin that is quite large here.",
            "Figure 2: Loss curves for the model",
            "over training.",
            "Body again.",
        )
    )
    assert found.captions == ["Table 3: Order Embedding Results", "Figure 2: Loss curves for the model over training."]
    text = found.sections[0].text
    assert "than them. Our model wins" in text and text.endswith("Body again.") and "Figure" not in text


def test_upper_case_headings_and_plain_font_abstract():
    found = structure_lines(
        [
            Line("ABSTRACT", False),
            Line("We shout our headings.", False),
            Line("1 INTRODUCTION", True),
            Line("Loud.", False),
            Line("2 RELATED WORK", True),
            Line("Quiet.", False),
            Line("REFERENCES", False),
            Line("[1] Someone.", False),
        ]
    )
    assert found.abstract == "We shout our headings."
    assert [s.heading for s in found.sections] == ["1 INTRODUCTION", "2 RELATED WORK", "REFERENCES"]


def test_bold_run_in_heading_becomes_its_own_bold_paragraph():
    found = structure_lines(
        [
            Line("1 Method", True),
            Line("We train a model.", False),
            Line("Implementation details", True),
            Line("We use Adam with a learning rate of 0.001 for", False),
            Line("ten epochs.", False),
            Line("2 Results", True),
        ]
    )
    assert found.sections[0].text == "We train a model.\n\n**Implementation details**\n\nWe use Adam with a learning rate of 0.001 for ten epochs."


def test_table_of_contents_lines_are_not_headings():
    found = structure_lines(
        lines(
            "1 Introduction", "Text.", "References", "[1] X.", "Contents",
            "A Proofs of the Main Theorem ..... 12", "B Experimental Details and Setup ..... 14",
            "A Proofs of the Main Theorem", "Proof.", "B Experimental Details and Setup", "Setup.",
        )
    )
    assert [s.heading for s in found.sections] == [
        "1 Introduction", "References", "A Proofs of the Main Theorem", "B Experimental Details and Setup"
    ]


WIDE = "a body line that runs the full width of its column, as most do"


def test_ieee_roman_sections_and_lettered_subsections():
    found = structure_lines(
        lines(
            "Abstract—We follow the IEEE style.",
            "I. INTRODUCTION", WIDE, WIDE, WIDE,
            "A. Smith and B. Jones proposed this long ago, in a famous",  # a full-width body line
            "II. RELATED WORK", WIDE, WIDE,
            "A. Datasets", WIDE, WIDE, WIDE,
            "B. Metrics", WIDE, WIDE, WIDE,
            "IV. METHOD", WIDE, WIDE, WIDE,  # III lost in extraction: a jump of two is allowed
            "A. Model", WIDE, WIDE, WIDE,
            "REFERENCES", "[1] A. Smith.",
            "APPENDIX A", "Proof.",
        )
    )
    assert found.abstract == "We follow the IEEE style."
    assert [(s.heading, s.level) for s in found.sections] == [
        ("I. INTRODUCTION", 1), ("II. RELATED WORK", 1), ("A. Datasets", 2), ("B. Metrics", 2),
        ("IV. METHOD", 1), ("A. Model", 2), ("REFERENCES", 1), ("APPENDIX A", 1),
    ]
    assert "A. Smith and B. Jones" in found.sections[0].text


def test_lone_common_word_in_a_numbered_paper_is_not_a_heading():
    found = structure_lines(
        lines("1 Introduction", "Text.", "2 Method", "Results", "Accuracy", "3 Experiments", "More.",
              "Acknowledgements", "Thanks.")
    )
    assert [s.heading for s in found.sections] == ["1 Introduction", "2 Method", "3 Experiments", "Acknowledgements"]
    assert "Results" in found.sections[1].text
    unnumbered = structure_lines(lines("Introduction", "Text.", "Results", "Good."))
    assert [s.heading for s in unnumbered.sections] == ["Introduction", "Results"]


def test_a_wrapped_body_line_opening_with_algorithm_or_figure_stays_in_its_paragraph():
    found = structure_lines(
        lines(
            "1 Method",
            "The agent is trained in two steps that follow the procedure of",
            "Algorithm 1. In step 6 we use the proximal policy optimization (PPO)",
            "algorithm with a discount of 0.95 and a clip range of 0.2, as shown in",
            "Figure 3. The curves are smoothed over five seeds of training runs.",
            "Algorithm 1: Two-step training",
        )
    )
    assert found.captions == ["Algorithm 1: Two-step training"]
    text = found.sections[0].text
    assert "procedure of Algorithm 1. In step 6 we use the proximal" in text
    assert "0.95 and a clip range of 0.2, as shown in Figure 3. The curves" in text


def test_algorithm_without_a_colon_is_body_text():
    found = structure_lines(lines("1 Method", "Algorithm 2. We then run the search again.", "Body."))
    assert found.captions == [] and "Algorithm 2. We then run" in found.sections[0].text


def _mended(*body: str) -> str:
    return structure_lines(lines("1 Introduction", *body)).sections[0].text


def test_a_break_is_mended_as_the_document_spells_the_word_elsewhere():
    # the hyphenated form occurs elsewhere: keep the hyphen
    assert "the source-target pairs" in _mended("We align the source-", "target pairs. Every source-target pair counts.")
    assert "a model-free agent" in _mended("We train a model-", "free agent. Model-free methods are common.")
    assert "state-of-the-art results" in _mended("It gives state-of-the-", "art results; state-of-the-art is hard.")
    # the joined form occurs elsewhere: join, even after a prefix that usually keeps its hyphen
    assert "a multiplicative gate" in _mended("We use a multi-", "plicative gate. The multiplicative form helps.")


def test_without_evidence_compounds_keep_their_hyphen_and_broken_words_are_joined():
    assert "English-to-German translation" in _mended("The English-", "to-German translation task is hard.")
    assert "the model-free agent" in _mended("We train the model-", "free agent and compare the model with a free one.")
    assert "the optimization wastes" in _mended("the optimi-", "zation wastes work.")
    assert "the training loss" in _mended("the train-", "ing loss falls.")
    assert "the overfitting of" in _mended("the over-", "fitting of the model and over the rest.")
