"""The PDF reader: reading order, headings, hyphens, margins, references, appendix, bad PDFs."""

from __future__ import annotations

import pytest

from papercoder.errors import InputError
from papercoder.paper.pdf import read_pdf

from .conftest import TWO_COLUMN_PAGES
from .pdfbuilder import PageSpec, blank_pdf, body, build_pdf


def test_title_abstract_and_headings_in_order(two_column_pdf):
    paper = read_pdf(two_column_pdf)
    assert paper.source_format == "pdf"
    assert paper.title == "Sparse Widgets for Dense Gadgets"
    assert paper.abstract == "We propose sparse widgets, a method that makes dense gadgets faster to train."
    headings = [(s.heading, s.level) for s in paper.sections]
    assert headings == [
        ("1 Introduction", 1),
        ("2 Method", 1),
        ("2.1 Pruning Schedule", 2),
        ("3 Experiments", 1),
        ("4 Conclusion", 1),
        ("A Proofs of the Main Result", 1),
        ("A.1 Extra Lemma", 2),
        ("B Hyperparameters", 1),
    ]


def test_two_columns_read_in_order_and_hyphens_mended(two_column_pdf):
    intro = read_pdf(two_column_pdf).sections[0].text
    assert "the optimization wastes work on zeros. The left column ends here and the right column" in intro
    assert intro.index("Gadgets are everywhere") < intro.index("continues the same sentence")


def test_numbered_body_line_that_is_not_bold_stays_text(two_column_pdf):
    schedule = read_pdf(two_column_pdf).sections[2]
    assert "3 Widgets Per Gadget Stay Dense" in schedule.text


def test_running_header_and_page_numbers_dropped(two_column_pdf):
    markdown = read_pdf(two_column_pdf).to_markdown()
    assert "Under review" not in markdown
    assert "\n2\n" not in markdown and not any(s.text.strip().endswith(" 1") for s in read_pdf(two_column_pdf).sections)


def test_caption_collected_and_removed_from_text(two_column_pdf):
    paper = read_pdf(two_column_pdf)
    assert paper.captions == ["Figure 1: The pruning schedule over training epochs."]
    assert "Figure 1" not in paper.sections[2].text


def test_references_dropped_unless_kept(two_column_pdf):
    dropped = read_pdf(two_column_pdf)
    assert "Journal of Widgets" not in dropped.to_markdown()
    kept = read_pdf(two_column_pdf, keep_references=True)
    references = [s for s in kept.sections if s.heading == "References"]
    assert references and "Journal of Widgets" in references[0].text


def test_appendix_sections_flagged(two_column_pdf):
    flags = {s.heading: s.appendix for s in read_pdf(two_column_pdf).sections}
    assert flags["4 Conclusion"] is False
    assert flags["A Proofs of the Main Result"] and flags["A.1 Extra Lemma"] and flags["B Hyperparameters"]


def test_appendix_heading_word_starts_appendix(tmp_path):
    pages = [
        PageSpec([[("title", "A Paper"), ("h", "1 Introduction"), *body("Intro text."),
                   ("h", "Appendix"), *body("Extra material."), ("h", "A Details"), *body("More.")]])
    ]
    paper = read_pdf(build_pdf(tmp_path / "a.pdf", pages, header=None))
    assert [(s.heading, s.appendix) for s in paper.sections] == [
        ("1 Introduction", False), ("Appendix", True), ("A Details", True)
    ]


def test_owner_password_only_pdf_is_readable(tmp_path):
    path = build_pdf(tmp_path / "locked.pdf", TWO_COLUMN_PAGES, owner_password="owner")
    assert read_pdf(path).sections[0].heading == "1 Introduction"


def test_encrypted_pdf_is_an_input_error(tmp_path):
    path = build_pdf(tmp_path / "secret.pdf", TWO_COLUMN_PAGES, owner_password="o", user_password="u")
    with pytest.raises(InputError, match="encrypted"):
        read_pdf(path)


def test_truncated_pdf_is_an_input_error(tmp_path, two_column_pdf):
    path = tmp_path / "truncated.pdf"
    path.write_bytes(two_column_pdf.read_bytes()[:400])
    with pytest.raises(InputError, match="not a readable PDF|no extractable text"):
        read_pdf(path)


def test_corrupt_pdf_is_an_input_error(tmp_path):
    path = tmp_path / "corrupt.pdf"
    path.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 20)
    with pytest.raises(InputError, match="not a readable PDF"):
        read_pdf(path)


def test_pdf_without_text_says_it_needs_ocr(tmp_path):
    with pytest.raises(InputError, match="scanned.*OCR"):
        read_pdf(blank_pdf(tmp_path / "scan.pdf"))


def test_alternating_running_headers_dropped(tmp_path):
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta"]
    pages = [
        PageSpec([body(f"The {w} page opens here.", f"It talks about {w} at length.", f"Then {w} ends.")])
        for w in words
    ]
    pages[0].columns[0][:0] = [("title", "Alternating Headers"), ("h", "1 Introduction")]
    path = build_pdf(tmp_path / "alt.pdf", pages, header=["Lovelace and Turing", "Alternating Headers Paper"])
    markdown = read_pdf(path).to_markdown()
    assert "Lovelace and Turing" not in markdown and "Alternating Headers Paper" not in markdown
    assert all(f"The {w} page opens here." in markdown and f"Then {w} ends." in markdown for w in words)


def test_arxiv_stamp_is_neither_title_nor_text(tmp_path):
    path = build_pdf(tmp_path / "stamped.pdf", TWO_COLUMN_PAGES, stamp="arXiv:2504.17192v5  [cs.LG]  12 May 2025")
    paper = read_pdf(path)
    assert paper.title == "Sparse Widgets for Dense Gadgets"
    assert "2504.17192" not in paper.to_markdown()


def test_interleaved_columns_put_back_in_order(tmp_path):
    from pypdf import PdfReader

    path = build_pdf(tmp_path / "rows.pdf", TWO_COLUMN_PAGES, interleave=True)
    raw = PdfReader(str(path)).pages[0].extract_text()
    assert raw.index("column ends here") < raw.index("the optimi-")  # the stream really is row by row
    in_columns = read_pdf(build_pdf(tmp_path / "cols.pdf", TWO_COLUMN_PAGES))
    assert read_pdf(path).to_markdown() == in_columns.to_markdown()


def test_an_aes_encrypted_pdf_with_an_empty_password_is_readable(tmp_path):
    pytest.importorskip("cryptography")
    from pypdf import PdfReader, PdfWriter

    plain = build_pdf(tmp_path / "plain.pdf", TWO_COLUMN_PAGES)
    writer = PdfWriter(clone_from=PdfReader(str(plain)))
    writer.encrypt(user_password="", owner_password="owner", algorithm="AES-256")
    locked = tmp_path / "aes.pdf"
    with locked.open("wb") as handle:
        writer.write(handle)
    assert PdfReader(str(locked)).is_encrypted
    assert read_pdf(locked).sections[0].heading == "1 Introduction"


def test_title_survives_a_running_header_that_repeats_it(tmp_path):
    # ICML style: every page's running header is the title; page 1 also has it in a big font
    path = build_pdf(tmp_path / "icml.pdf", TWO_COLUMN_PAGES, header="Sparse Widgets for Dense Gadgets")
    assert read_pdf(path).title == "Sparse Widgets for Dense Gadgets"


_WORDS = ("the model is trained with a learning rate of three for every run we report and the "
          "results hold across all of the seeds").split()


def _sentence(k: int, words: int = 11) -> str:
    return f"Sentence {k} says " + " ".join(_WORDS[(k + i) % len(_WORDS)] for i in range(words)) + "."


def test_a_one_column_page_with_lines_in_two_pieces_keeps_its_order(tmp_path):
    """Lines written as two runs, the second starting where the first ends, past the page's
    middle (an inline font change, a formula): the stream jumps sides on every row, yet the page
    has no columns to re-read."""
    from .pdfbuilder import pieces_pdf

    rows = []
    for k in range(30):
        words = _sentence(k, 18).split()
        cut = 12 + k % 4  # where the inline change falls varies from line to line
        rows.append([(15, " ".join(words[:cut])), (None, " " + " ".join(words[cut:]))])
    text = read_pdf(pieces_pdf(tmp_path / "one.pdf", [rows, rows])).to_markdown()
    for k in (0, 1, 2, 17, 29):
        assert _sentence(k, 18) in text, k


def test_a_table_page_is_not_read_as_two_columns(tmp_path):
    from .pdfbuilder import pieces_pdf

    rows = [[(15, "We report the results of every model on both language pairs below.")]]
    rows += [[(15, "Model"), (60, "BLEU"), (115, "EN-DE"), (160, "Cost")]]
    rows += [[(15, f"Variant{k}"), (60, f"{20 + k}.1"), (115, f"{30 + k}.4"), (160, f"{k}e18")] for k in range(12)]
    rows += [[(15, "We used a beam size of 21 and alpha = 0.3 for all of these runs.")]]
    text = read_pdf(pieces_pdf(tmp_path / "table.pdf", [rows, rows])).to_markdown()
    assert "Model BLEU EN-DE Cost" in text
    assert "Variant3 23.1 33.4 3e18" in text
    assert text.index("every model") < text.index("Variant0") < text.index("beam size of 21")


def test_venue_lines_on_the_first_page_leave_the_abstract(tmp_path):
    pages = [PageSpec([[
        ("title", "Sparse Widgets for Dense Gadgets"),
        ("h", "Abstract"),
        *body("We propose sparse widgets, a method that", "makes dense gadgets faster to train.",
              "31st Conference on Neural Information Processing Systems (NIPS 2017), Long Beach, CA, USA.",
              "Preprint. Under review."),
        ("h", "1 Introduction"),
        *body("Gadgets are everywhere, as the 31st Conference on Widgets showed in 2017."),
    ]])]
    paper = read_pdf(build_pdf(tmp_path / "venue.pdf", pages, header=None))
    assert paper.abstract == "We propose sparse widgets, a method that makes dense gadgets faster to train."
    assert "as the 31st Conference on Widgets showed" in paper.sections[0].text  # a sentence, not a venue line


@pytest.mark.parametrize("raw, mended", [
    ("Poincar´e and Erd˝os", "Poincaré and Erdős"),
    ("na¨ıve and ¨o and ˆa", "naïve and ö and â"),
    ("x ⁄= y", "x ≠ y"),
    ("cost ´ is fine", "cost ´ is fine"),  # a spacing accent before a space stays
])
def test_spacing_accents_and_the_slashed_equals_are_composed(raw, mended):
    from papercoder.paper.pdf import compose_glyphs

    assert compose_glyphs(raw) == mended


def test_a_running_header_that_repeats_the_title_does_not_make_abstract_the_title(tmp_path):
    # a conference layout: the running header repeats the title on every page, the first page's title
    # block sits just below it, and the Abstract heading is set larger than the body
    from .pdfbuilder import placed_pdf

    title = "Learned Temperatures for Prototype Classifiers"
    body = [(20, 60 + 5 * k, 10, "", _sentence(k)) for k in range(30)]
    first = [(20, 10, 8, "", title), (20, 22, 17, "B", title), (20, 32, 10, "", "Ada Lovelace and Alan Turing"),
             (20, 48, 12, "B", "Abstract"), *body]
    later = [(20, 10, 8, "", title), *[(20, 25 + 5 * k, 10, "", _sentence(k + 40)) for k in range(40)]]
    path = placed_pdf(tmp_path / "conf.pdf", [first, later, later])
    assert read_pdf(path).title == title
