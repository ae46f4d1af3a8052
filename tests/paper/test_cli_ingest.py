"""`papercoder ingest`: outputs, and one clear line for every bad input."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile

import pytest

from papercoder.cli import main
from papercoder.paper import Paper

from .conftest import TWO_COLUMN_PAGES
from .pdfbuilder import blank_pdf, build_pdf


def run(capsys, *args: str) -> tuple[int, str, str]:
    try:
        main(["ingest", *args])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_error_line(code: int, err: str, *words: str) -> None:
    lines = err.strip().splitlines()
    assert code != 0
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for word in words:
        assert word.lower() in lines[0].lower()


def test_markdown_to_stdout_and_summary_to_stderr(capsys, two_column_pdf):
    code, out, err = run(capsys, str(two_column_pdf))
    assert code == 0
    assert out.startswith("# Sparse Widgets for Dense Gadgets\n") and "## 1 Introduction" in out
    assert err.strip().splitlines() == [err.strip()]
    assert "Sparse Widgets" in err and "8 sections" in err and f"{len(out):,} characters" in err
    assert f"~{(len(out) + 3) // 4:,} tokens" in err


def test_json_to_file_with_summary(capsys, tmp_path, two_column_pdf):
    target = tmp_path / "out dir" / "paper.json"
    code, out, err = run(capsys, str(two_column_pdf), "-o", str(target), "--format", "json")
    assert code == 0 and err == ""
    assert "written to" in out and "8 sections" in out
    paper = Paper.from_dict(json.loads(target.read_text()))
    assert paper.sections[0].heading == "1 Introduction" and paper.source_format == "pdf"


def test_keep_references_flag(capsys, two_column_pdf):
    _, out, _ = run(capsys, str(two_column_pdf), "--keep-references")
    assert "## References" in out and "Journal of Widgets" in out


def test_path_with_spaces_and_non_ascii(capsys, tmp_path):
    folder = tmp_path / "mes papiers é ü"
    folder.mkdir()
    path = folder / "l'article numéro 1.md"
    path.write_text("# Titre été\n\n## 1 Intro\n\nTexte.\n", encoding="utf-8")
    code, out, _ = run(capsys, str(path))
    assert code == 0 and out.startswith("# Titre été")


def test_missing_latex_input_warns_and_continues(capsys, tmp_path):
    (tmp_path / "main.tex").write_text(
        "\\documentclass{article}\\begin{document}\\input{missing/part}\\section{Here}Yes.\\end{document}"
    )
    code, out, err = run(capsys, str(tmp_path))
    assert code == 0 and "## 1 Here" in out
    warning = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert len(warning) == 1 and "missing/part" in warning[0]


def test_latin1_latex_warns(capsys, tmp_path):
    (tmp_path / "main.tex").write_bytes(
        "\\documentclass{article}\\begin{document}\\section{Déjà vu}\\end{document}".encode("latin-1")
    )
    code, out, err = run(capsys, str(tmp_path / "main.tex"))
    assert code == 0 and "## 1 Déjà vu" in out
    assert err.splitlines()[0].startswith("warning: ") and "latin-1" in err


def _cycle(tmp_path):
    (tmp_path / "main.tex").write_text("\\documentclass{article}\\begin{document}\\input{a}\\end{document}")
    (tmp_path / "a.tex").write_text("\\input{main}")
    return tmp_path / "main.tex"


def _no_main_archive(tmp_path):
    path = tmp_path / "source.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        archive.add(_write(tmp_path / "body.tex", "\\section{Body}"), arcname="body.tex")
    return path


def _evil_archive(tmp_path):
    path = tmp_path / "evil.tgz"
    with tarfile.open(path, "w:gz") as archive:
        archive.add(_write(tmp_path / "x.tex", "x"), arcname="../../outside.tex")
    return path


def _write(path, text):
    path.write_text(text)
    return path


def _junk(tmp_path):
    path = tmp_path / "notes.md"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    return path


def _truncated(tmp_path):
    whole = build_pdf(tmp_path / "whole.pdf", TWO_COLUMN_PAGES).read_bytes()
    path = tmp_path / "truncated.pdf"
    path.write_bytes(whole[: len(whole) // 3])
    return path


BAD_INPUTS = {
    "missing file": (lambda tmp: tmp / "nope.pdf", ["does not exist"]),
    "folder without a paper": (lambda tmp: tmp, ["no paper"]),
    "unsupported extension": (lambda tmp: _write(tmp / "paper.docx", "hello"), ["unsupported", ".docx"]),
    "empty file": (lambda tmp: _write(tmp / "empty.md", ""), ["empty"]),
    "truncated pdf": (_truncated, ["pdf"]),
    "corrupt pdf": (lambda tmp: _write(tmp / "bad.pdf", "%PDF-1.7\nthis is not a pdf at all\n%%EOF"), ["not a readable pdf"]),
    "encrypted pdf": (
        lambda tmp: build_pdf(tmp / "locked.pdf", TWO_COLUMN_PAGES, owner_password="o", user_password="u"),
        ["encrypted", "password"],
    ),
    "scanned pdf": (lambda tmp: blank_pdf(tmp / "scan.pdf"), ["scanned", "ocr"]),
    "input cycle": (_cycle, ["cycle", "main.tex -> a.tex -> main.tex"]),
    "archive without main tex": (_no_main_archive, ["no main .tex"]),
    "archive escaping its folder": (_evil_archive, ["outside"]),
    "binary junk named .md": (_junk, ["binary"]),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_gives_one_line_and_nonzero_exit(capsys, tmp_path, case):
    make, words = BAD_INPUTS[case]
    work = tmp_path / "in put ü"
    work.mkdir()
    code, out, err = run(capsys, str(make(work)))
    assert_one_error_line(code, err, *words)
    assert out == ""


def test_bad_input_in_a_real_process_has_no_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "papercoder", "ingest", str(_write(tmp_path / "x.pdf", "%PDF-1.4 junk"))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
