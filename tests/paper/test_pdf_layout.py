"""Floats and footnotes in a PDF leave the sentences they interrupt: table rows join their
caption, text inside a figure is dropped, footnotes go to the end of their section, and a
caption ends where the page leaves a gap after it."""

from __future__ import annotations

from papercoder.paper.pdf import read_pdf

from .pdfbuilder import placed_pdf

BODY = 10.0
LEAD = 5.0  # mm between body lines


def _column(lines: list[str], *, x: float = 20, top: float = 30, size: float = BODY, style: str = "") -> list:
    return [(x, top + k * LEAD, size, style, text) for k, text in enumerate(lines)]


PROSE = [
    "Sparse widgets are trained with the same optimiser as dense gadgets and",
    "their learning rate follows the schedule that earlier work found to be",
    "stable; we report every variant below and keep the rest of the setup.",
]


def _heading(text: str, y: float) -> tuple:
    return (20, y, 11.0, "B", text)


def test_a_table_at_the_top_of_a_page_leaves_the_sentence_it_interrupts(tmp_path):
    first = [_heading("1 Introduction", 25), *_column(PROSE, top=32),
             _heading("2 Training", 52),
             *_column(["We train every model for ten epochs on one machine with eight GPUs, and",
                       "we employ three types of regularization during"], top=59)]
    table = [(20, 25, 8.0, "", "Model"), (70, 25, 8.0, "", "BLEU"), (110, 25, 8.0, "", "Cost (FLOPs)")]
    for k, (name, bleu, cost) in enumerate([("ByteNet", "23.75", "1.0e18"), ("Transformer", "28.4", "2.3e19")]):
        y = 30 + k * 4
        table += [(20, y, 8.0, "", name), (70, y, 8.0, "", bleu), (110, y, 8.0, "", cost)]
    second = [*table, (20, 42, BODY, "", "Table 1: BLEU scores and training cost of each model."),
              *_column(["training: residual dropout and label smoothing, described next.",
                        *PROSE], top=56)]
    paper = read_pdf(placed_pdf(tmp_path / "table.pdf", [first, second]))
    training = next(s for s in paper.sections if s.heading == "2 Training").text
    assert "regularization during training: residual dropout" in training
    assert "ByteNet" not in training and "BLEU" not in training
    caption = next(c for c in paper.captions if c.startswith("Table 1:"))
    assert "BLEU scores and training cost" in caption
    assert "Model | BLEU | Cost (FLOPs)" in caption and "Transformer | 28.4 | 2.3e19" in caption


def test_a_table_below_its_caption_joins_it(tmp_path):
    page = [_heading("1 Setup", 25), *_column(PROSE, top=32),
            (20, 50, BODY, "", "Table 2: Hyperparameters of the sparse widget."),
            (20, 56, 8.0, "", "learning rate"), (80, 56, 8.0, "", "0.0003"),
            (20, 60, 8.0, "", "batch size"), (80, 60, 8.0, "", "256"),
            *_column(["The values above were chosen on the validation split of the corpus.", *PROSE], top=70)]
    paper = read_pdf(placed_pdf(tmp_path / "below.pdf", [page]))
    text = paper.sections[0].text
    assert "0.0003" not in text and "chosen on the validation split" in text
    caption = next(c for c in paper.captions if c.startswith("Table 2:"))
    assert "learning rate | 0.0003" in caption and "batch size | 256" in caption


def test_text_inside_a_figure_is_neither_text_nor_a_heading(tmp_path):
    figure = [(30, 60, 7.0, "", "Encoder"), (80, 60, 7.0, "", "Decoder"),
              (50, 66, BODY, "B", "Multi-Head Attention"), (40, 72, 7.0, "", "Nx"),
              (20, 80, BODY, "", "Figure 1: The widget architecture.")]
    page = [_heading("1 Model", 25), *_column(PROSE, top=32), *figure,
            *_column(["The encoder maps the input to a sequence of widget states.", *PROSE], top=90)]
    paper = read_pdf(placed_pdf(tmp_path / "figure.pdf", [page]))
    text = paper.sections[0].text
    assert "Encoder" not in text and "Nx" not in text and "Multi-Head" not in text
    assert "keep the rest of the setup." in text and "maps the input" in text
    assert [s.heading for s in paper.sections] == ["1 Model"]
    assert any(c.startswith("Figure 1: The widget architecture.") for c in paper.captions)


def test_a_footnote_goes_to_the_end_of_its_section(tmp_path):
    first = [_heading("1 Introduction", 25),
             *_column(["Contrastive learning is needed for several reasons. One is cost; another",
                       "reason is"], top=32),
             (20, 270, 6.0, "", "1"), (22, 271, 8.0, "", "Work done while the author was an intern."),
             (20, 275, 8.0, "", "2 Code is available from the authors on request.")]
    second = [*_column(["modelling need, as certain assumptions are best expressed as a score.",
                        "We build on that view throughout this paper."], top=25),
              _heading("2 Method", 40), *_column(PROSE, top=47)]
    paper = read_pdf(placed_pdf(tmp_path / "footnote.pdf", [first, second]))
    intro = paper.sections[0].text
    assert "another reason is modelling need" in intro
    assert intro.rstrip().endswith("Code is available from the authors on request.")
    assert intro.index("throughout this paper") < intro.index("Work done while the author was an intern.")
    assert "intern" not in paper.sections[1].text


def test_a_caption_ends_at_the_gap_after_it(tmp_path):
    page = [_heading("1 Results", 25), *_column(PROSE, top=32),
            (20, 50, 8.0, "", "Method"), (80, 50, 8.0, "", "Accuracy"),
            (20, 54, 8.0, "", "ours"), (80, 54, 8.0, "", "92.0"),
            (20, 60, BODY, "", "Table 3: Order embedding performance"),
            *_column(["model (the discriminator) we apply the method to is the base one.", *PROSE], top=80)]
    paper = read_pdf(placed_pdf(tmp_path / "gap.pdf", [page]))
    caption = next(c for c in paper.captions if c.startswith("Table 3:"))
    assert "discriminator" not in caption and "ours | 92.0" in caption
    assert "model (the discriminator) we apply" in paper.sections[0].text


def test_a_short_last_line_before_a_figure_stays_in_the_text(tmp_path):
    page = [_heading("1 Model", 25), *_column([*PROSE, "It converges."], top=32),
            (20, 60, BODY, "", "Figure 2: Loss curves."),
            *_column(PROSE, top=70)]
    paper = read_pdf(placed_pdf(tmp_path / "short.pdf", [page]))
    assert "It converges." in paper.sections[0].text


def _chunks(*runs):
    from papercoder.paper.pdf import _Chunk

    return [_Chunk(text, False, size, x, y) for text, size, x, y in runs]


def test_sub_and_superscripts_are_marked_by_position_and_size():
    from papercoder.paper.pdf import _PageText

    page = _PageText()
    for chunk in _chunks(("the loss of", 10.0, 72.0, 700.0), (" p", 10.0, 120.0, 700.0), ("nce", 7.0, 126.0, 698.2),
                         (" and sin(pos/10000", 10.0, 140.0, 700.0), ("2i/d", 7.0, 220.0, 704.0),
                         ("model", 5.0, 232.0, 703.0), (") here\n", 10.0, 250.0, 700.0)):
        page.add(chunk)
    assert page.finish()[0].text == "the loss of p_{nce} and sin(pos/10000^{2i/d_{model}}) here"


def test_a_footnote_marker_before_its_text_is_not_a_superscript():
    from papercoder.paper.pdf import _PageText

    page = _PageText()
    for chunk in _chunks(("1", 6.0, 72.0, 93.7), ("Work done at a lab.\n", 9.0, 76.0, 89.9)):
        page.add(chunk)
    assert page.finish()[0].text == "1Work done at a lab."


def test_the_big_operators_of_the_tex_extension_font_are_read_as_symbols():
    from papercoder.paper.pdf import _chunk

    font = {"/BaseFont": "/QWERTY+CMEX10"}
    assert _chunk("P", font, 10.0, [1, 0, 0, 1, 0, 0], [1, 0, 0, 1, 0, 0]).text == "∑"
    assert _chunk("PQR", {"/BaseFont": "/Times-Roman"}, 10.0, [1, 0, 0, 1, 0, 0], [1, 0, 0, 1, 0, 0]).text == "PQR"
