"""Figures out of every format: cropped from PDF pages, loaded from LaTeX projects, bounded, saved."""

from __future__ import annotations

import io
import struct
import time
import zlib
from pathlib import Path

import pytest
from fpdf import FPDF
from PIL import Image

from papercoder.paper import read_paper
from papercoder.paper.figures import LONG_EDGE, MAX_PIXELS, Figure, load_figures, open_image, save_figures
from papercoder.paper.latex import read_latex
from papercoder.paper.model import Paper

from .conftest import real_paper


def png(width: int, height: int, color=(200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()


def pdf_figure(path: Path) -> Path:
    pdf = FPDF(format=(120, 80), unit="mm")
    pdf.add_page()
    pdf.rect(10, 10, 100, 60)
    pdf.line(10, 70, 110, 10)
    pdf.output(str(path))
    return path


def claimed_png(width: int, height: int) -> bytes:
    """A PNG header claiming ``width`` x ``height`` pixels, with almost no data: a decompression bomb."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + header
    end = b"IEND"
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(header)) + chunk + struct.pack(">I", zlib.crc32(chunk))
            + struct.pack(">I", 0) + end + struct.pack(">I", zlib.crc32(end)))


def test_pdf_figure_cropped_above_its_caption(two_column_pdf):
    paper = read_paper(str(two_column_pdf))
    assert [f.label for f in paper.figures] == ["Figure 1"]
    figure = paper.figures[0]
    assert figure.caption.startswith("Figure 1: The pruning schedule") and figure.source == "page 1"
    image = Image.open(io.BytesIO(figure.data))
    assert image.format == "PNG" and (image.width, image.height) == (figure.width, figure.height)
    assert image.width > image.height > 100  # the drawing is wider than tall: the region, not the whole page
    assert "![Figure 1](paper/figures/figure-1.png)" in paper.to_markdown()
    assert paper.warnings == []


def test_latex_figures_loaded_as_latex_finds_them(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "arch.png").write_bytes(png(3000, 1500))
    pdf_figure(tmp_path / "img" / "curve.pdf")
    (tmp_path / "img" / "left.jpg").write_bytes(png(200, 100))  # a PNG named .jpg: the content decides
    (tmp_path / "img" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (tmp_path / "img" / "old.eps").write_text("%!PS-Adobe-3.0 EPSF-3.0\n")
    (tmp_path / "img" / "huge.png").write_bytes(claimed_png(30000, 30000))
    (tmp_path / "main.tex").write_text(
        "\\documentclass{article}\\graphicspath{{img/}{../outside/}}\\begin{document}\\section{Intro}Text.\n"
        "\\begin{figure}\\includegraphics[width=\\linewidth]{arch}\\caption{The architecture.}\\end{figure}\n"
        "\\begin{figure}\\includegraphics{curve.pdf}\\includegraphics{left.jpg}\\caption{Two panels.}\\end{figure}\n"
        "\\begin{figure}\\includegraphics{missing}\\includegraphics{broken}\\caption{Lost.}\\end{figure}\n"
        "\\begin{figure}\\includegraphics{old.eps}\\includegraphics{huge}\\caption{Old and huge.}\\end{figure}\n"
        "\\begin{table}\\includegraphics{arch}\\caption{A table.}\\end{table}\n"
        "\\end{document}\n"
    )
    paper = read_latex(tmp_path)
    assert [f.label for f in paper.figures] == ["Figure 1", "Figure 2", "Table 1"]  # a table set as a picture too
    first, second, table = paper.figures
    assert table.caption == "Table 1: A table." and table.file_name == "table-1.png"
    assert max(first.width, first.height) <= LONG_EDGE and first.width * first.height <= MAX_PIXELS * 1.01
    assert first.caption == "Figure 1: The architecture." and first.source == "img/arch.png"
    assert second.source == "img/curve.pdf, img/left.jpg"  # two panels, one image
    warned = "\n".join(paper.warnings)
    assert "Figure 3 includes missing, which is not in the paper's folder" in warned
    assert "broken.png cannot be decoded" in warned
    assert "old.eps is EPS, which needs Ghostscript" in warned
    assert "huge.png claims more pixels than is safe to decode" in warned
    assert "includegraphics" not in paper.to_markdown()
    assert "Figure 3: Lost." in paper.captions  # a figure without an image keeps its caption


def raster_table_pdf(path: Path, image: Path) -> Path:
    """A page with a table set as a picture under its caption, a text table under another, a figure."""
    pdf = FPDF(format="A4", unit="mm")
    pdf.add_page()
    pdf.set_font("Times", "", 10)
    pdf.text(20, 20, "1 Results")
    pdf.text(20, 30, "Table 1: Accuracy of every method, as a picture.")
    pdf.image(str(image), x=20, y=33, w=120, h=40)
    pdf.text(20, 90, "Table 2: Hyperparameters, as text.")
    pdf.line(20, 93, 140, 93)
    pdf.text(22, 99, "learning rate   0.1")
    pdf.line(20, 102, 140, 102)
    pdf.rect(20, 115, 120, 40)
    pdf.text(20, 162, "Figure 1: A drawing.")
    pdf.text(20, 180, "Algorithm 1: Training, as text.")
    pdf.text(22, 186, "for each epoch: update")
    pdf.output(str(path))
    return path


def test_pdf_table_set_as_a_picture_is_kept_and_text_tables_are_not(tmp_path):
    image = tmp_path / "table.png"
    image.write_bytes(png(600, 200, (90, 160, 90)))
    paper = read_paper(str(raster_table_pdf(tmp_path / "paper.pdf", image)))
    assert [f.label for f in paper.figures] == ["Table 1", "Figure 1"]
    table = paper.figures[0]
    assert table.width > 2 * table.height  # the picture's region, not the text table under it
    assert paper.warnings == []


def test_graphics_never_read_outside_the_paper(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.png").write_bytes(png(10, 10))
    paper_dir = tmp_path / "paper"
    paper_dir.mkdir()
    (paper_dir / "link.png").symlink_to(outside / "secret.png")
    (paper_dir / "main.tex").write_text(
        "\\documentclass{article}\\begin{document}\\section{A}x\n"
        "\\begin{figure}\\includegraphics{../outside/secret}\\includegraphics{link}\\caption{C.}\\end{figure}\\end{document}\n"
    )
    paper = read_latex(paper_dir)
    assert paper.figures == []
    assert sum("not in the paper's folder" in w for w in paper.warnings) == 2


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "is empty"),
        (b"GIF89a-broken", "cannot be decoded"),
        (b"%PDF-1.4 not an image", "cannot be decoded"),
        (claimed_png(9000, 9000), "is 9000 x 9000 pixels, too large to decode safely"),
        (claimed_png(30000, 30000), "too large to decode safely"),
    ],
)
def test_bad_images_give_a_reason_not_a_traceback(data, reason):
    image, problem = open_image(data, "fig.png")
    assert image is None and reason in problem


def test_unsupported_format_named():
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, format="ICO")
    image, problem = open_image(buffer.getvalue(), "fig.ico")
    assert image is None and "ICO image, which papercoder does not read" in problem


def test_saved_figures_read_back_and_missing_ones_reported(tmp_path):
    figures = [Figure("Figure 1", "Figure 1: A.", png(20, 10), width=20, height=10, source="page 2"),
               Figure("Figure 2", "Figure 2: B.", png(5, 5), width=5, height=5)]
    folder = tmp_path / "paper" / "figures"
    save_figures(folder, figures)
    loaded, warnings = load_figures(folder)
    assert [(f.label, f.data, f.width, f.source) for f in loaded] == [(f.label, f.data, f.width, f.source) for f in figures]
    assert warnings == []
    (folder / "figure-2.png").unlink()
    loaded, warnings = load_figures(folder)
    assert [f.label for f in loaded] == ["Figure 1"] and "figure-2.png is missing; Figure 2 is left out" in warnings[0]
    (folder / "mine.png").write_bytes(b"a file of the user's")  # beside the figures: never touched
    save_figures(folder, figures[:1])
    assert sorted(p.name for p in folder.iterdir()) == ["figure-1.png", "figures.json", "mine.png"]
    (folder / "figures.json").write_text("{not json")
    assert load_figures(folder)[0] == [] and "unreadable" in load_figures(folder)[1][0]


def test_paper_json_keeps_figure_metadata_without_images():
    paper = Paper(title="T", captions=["Figure 1: A."], figures=[Figure("Figure 1", "Figure 1: A.", b"\x89PNG", width=3, height=2)])
    data = paper.to_dict()
    assert data["figures"] == [{"label": "Figure 1", "caption": "Figure 1: A.", "file": "figure-1.png",
                                "media_type": "image/png", "width": 3, "height": 2, "source": ""}]
    assert Paper.from_dict(data).figures[0].label == "Figure 1"


@pytest.mark.parametrize("name, count", [("ace-acl2018.pdf", 5), ("vcd-noise-scheduling.pdf", 1), ("online-sinkhorn", 9)])
def test_real_papers_figures_found(name, count):
    path = real_paper(name)
    started = time.perf_counter()
    paper = read_paper(str(path))
    assert len(paper.figures) == count, [f.label for f in paper.figures]
    assert [f.label for f in paper.figures] == [f"Figure {k}" for k in range(1, count + 1)]
    assert time.perf_counter() - started < 60


def test_ingest_saves_figures_where_the_markdown_links_point(tmp_path, two_column_pdf, capsys):
    from papercoder.cli import app
    from typer.testing import CliRunner

    out = tmp_path / "out" / "paper.md"
    result = CliRunner().invoke(app, ["ingest", str(two_column_pdf), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "1 figure(s)" in result.output
    link = "paper/figures/figure-1.png"
    assert f"![Figure 1]({link})" in out.read_text()
    assert (out.parent / link).is_file() and (out.parent / "paper" / "figures" / "figures.json").is_file()


def test_markdown_figures_from_local_images_numbered_by_their_caption(tmp_path):
    assets = tmp_path / "paper" / "assets"  # PaperBench's layout: assets/ beside paper.md
    assets.mkdir(parents=True)
    (assets / "asset_1.jpg").write_bytes(png(300, 200))
    (assets / "asset_2.jpg").write_bytes(png(300, 200))
    (assets / "asset_3.jpg").write_bytes(png(100, 100))
    (tmp_path / "secret.png").write_bytes(png(10, 10))
    paper_md = tmp_path / "paper" / "paper.md"
    paper_md.write_text(
        "# A Paper\n\n## 1 Method\n\nText.\n\n"
        "![](assets/asset_1.jpg)\n![](assets/asset_2.jpg)\n\nFigure 1: Two panels of the method.\n\n"
        "![Figure 2: The curve.](assets/asset_3.jpg)\n\n"
        "![](https://cdn.example.org/x.png)\n\nFigure 3: A web image.\n\n"
        "![](assets/logo.png)\n\n![](../secret.png)\n\nFigure 4: Outside.\n\n![a logo](assets/asset_3.jpg)\n"
    )
    paper = read_paper(str(paper_md))
    assert [(f.label, f.caption) for f in paper.figures] == [("Figure 1", "Figure 1: Two panels of the method."),
                                                           ("Figure 2", "Figure 2: The curve.")]
    assert paper.figures[0].source == "assets/asset_1.jpg, assets/asset_2.jpg"
    warned = "\n".join(paper.warnings)
    assert "1 image(s) are links to the web" in warned
    assert "Figure 4 shows assets/logo.png, which is missing or outside the paper's folder" in warned
    assert "Figure 4 shows ../secret.png, which is missing or outside the paper's folder" in warned
    assert "1 image(s) have no \"Figure N\" caption" in warned  # "a logo"


def test_a_page_that_cannot_be_rendered_keeps_its_caption(two_column_pdf, monkeypatch):
    from papercoder.paper import pdffigures

    def broken(*args, **kwargs):
        raise RuntimeError("Failed to render page")

    monkeypatch.setattr(pdffigures, "_page_figures", broken)
    paper = read_paper(str(two_column_pdf))
    assert paper.figures == [] and any(c.startswith("Figure 1: The pruning schedule") for c in paper.captions)
    assert any("page 1 cannot be rendered (RuntimeError: Failed to render page); its figures keep their captions only" in w
               for w in paper.warnings)

    import pypdfium2

    def unopenable(*args, **kwargs):
        raise pypdfium2.PdfiumError("Failed to load document (PDFium: Data format error).")

    monkeypatch.setattr(pypdfium2, "PdfDocument", unopenable)
    paper = read_paper(str(two_column_pdf))
    assert paper.figures == [] and paper.sections  # the text is still read
    assert any("PDFium cannot open paper.pdf" in w for w in paper.warnings)
