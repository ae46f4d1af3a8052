"""Markdown, s2orc JSON and plain text readers."""

from __future__ import annotations

import json

import pytest

from papercoder.errors import InputError
from papercoder.paper.markdown import read_markdown
from papercoder.paper.s2orc import read_s2orc
from papercoder.paper.text import read_text

MARKDOWN = """# Tiny Transformers

## Abstract

We make transformers tiny.

## 1 Introduction

Big models are slow.

```python
# not a heading
x = 1
```

![Figure 1: The tiny model.](fig.png)

### **1.1 Scope** {#scope}

Table 1: Sizes.

| model | size |
|---|---|
| tiny | 1 |

## References

- Vaswani et al. 2017.

## Appendix A: Proofs

Trivial.
"""


def test_markdown_headings_become_sections(tmp_path):
    path = tmp_path / "paper.md"
    path.write_text(MARKDOWN)
    paper = read_markdown(path)
    assert paper.source_format == "markdown"
    assert paper.title == "Tiny Transformers" and paper.abstract == "We make transformers tiny."
    assert [(s.heading, s.level, s.appendix) for s in paper.sections] == [
        ("1 Introduction", 1, False),
        ("1.1 Scope", 2, False),
        ("Appendix A: Proofs", 1, True),
    ]
    assert "# not a heading" in paper.sections[0].text
    assert paper.captions == ["Figure 1: The tiny model."]
    assert paper.sections[1].text.startswith("Table 1: Sizes.\n\n| model | size |")
    assert "Vaswani" not in paper.to_markdown()
    assert "Vaswani" in read_markdown(path, keep_references=True).to_markdown()


def test_binary_junk_named_md_is_an_input_error(tmp_path):
    path = tmp_path / "junk.md"
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(InputError, match="binary"):
        read_markdown(path)


S2ORC = {
    "paper_id": "x",
    "title": "Graph Widgets",
    "abstract": "We study graph widgets.",
    "pdf_parse": {
        "body_text": [
            {"text": "Graphs matter.", "section": "Introduction", "sec_num": "1"},
            {"text": "A lot.", "section": "Introduction", "sec_num": "1"},
            {"text": "We propagate.", "section": "Message passing", "sec_num": "2.1"},
        ],
        "back_matter": [{"text": "Long proofs.", "section": "Proofs", "sec_num": "A"}],
        "ref_entries": {"FIGREF0": {"text": "Figure 1: A graph.", "type": "figure"}},
        "bib_entries": {"BIBREF0": {"title": "On Graphs", "year": 2019, "authors": [{"first": "A", "last": "B"}]}},
    },
}


def test_s2orc_paragraphs_grouped_by_section(tmp_path):
    path = tmp_path / "paper.json"
    path.write_text(json.dumps(S2ORC))
    paper = read_s2orc(path)
    assert paper.source_format == "s2orc" and paper.title == "Graph Widgets"
    assert paper.abstract == "We study graph widgets."
    assert [(s.heading, s.level, s.appendix) for s in paper.sections] == [
        ("1 Introduction", 1, False),
        ("2.1 Message passing", 2, False),
        ("A Proofs", 1, True),
    ]
    assert paper.sections[0].text == "Graphs matter.\n\nA lot."
    assert paper.captions == ["Figure 1: A graph."]
    kept = read_s2orc(path, keep_references=True)
    assert kept.sections[-1].heading == "References" and "On Graphs" in kept.sections[-1].text


def test_json_that_is_not_s2orc_is_an_input_error(tmp_path):
    path = tmp_path / "other.json"
    path.write_text('{"hello": 1}')
    with pytest.raises(InputError, match="not s2orc"):
        read_s2orc(path)


TEXT = """Plain Paper Title
Jane Doe

Abstract
We write plainly.

1 Introduction
Plain text is
readable.

2 Results
It works. See
references below.

References
[1] Someone. 2001.
"""


def test_text_reader_finds_numbered_headings(tmp_path):
    path = tmp_path / "paper.txt"
    path.write_text(TEXT)
    paper = read_text(path)
    assert paper.source_format == "text" and paper.title == "Plain Paper Title"
    assert paper.abstract == "We write plainly."
    assert [s.heading for s in paper.sections] == ["Front matter", "1 Introduction", "2 Results"]
    assert paper.sections[1].text == "Plain text is readable."
    assert "Someone" not in paper.to_markdown()


def test_markdown_setext_headings(tmp_path):
    path = tmp_path / "setext.md"
    path.write_text("Setext Paper\n============\n\nIntro text.\n\nMethod\n------\n\nWe do it.\n\n---\n\nA rule above.\n")
    paper = read_markdown(path)
    assert paper.title == "Setext Paper"
    assert [s.heading for s in paper.sections] == ["Method"]
    assert "A rule above." in paper.sections[0].text


def test_folder_with_one_paper_file_is_read(tmp_path):
    from papercoder.paper.readers import read_paper

    (tmp_path / "notes.bib").write_text("@misc{x}")
    (tmp_path / "paper.md").write_text("# Folder Paper\n\n## 1 Only\n\nText.\n")
    assert read_paper(str(tmp_path)).title == "Folder Paper"
    (tmp_path / "other.txt").write_text("Another\n")
    with pytest.raises(InputError, match="several possible papers"):
        read_paper(str(tmp_path))


def test_file_without_extension_is_sniffed(tmp_path):
    from papercoder.paper.readers import read_paper

    path = tmp_path / "2504.17192"
    path.write_text("\\documentclass{article}\\begin{document}\\section{Sniffed}x\\end{document}")
    paper = read_paper(str(path))
    assert paper.source_format == "latex" and paper.sections[0].heading == "1 Sniffed"


GROBID_TRANSFORMER_LIKE = {
    "paper_id": "t",
    "title": "Provided proper attribution is provided, Google hereby grants permission to reproduce the tables "
             "and figures in this paper solely for use in journalistic or scholarly works.",
    "abstract": [{"text": "We propose attention."}],
    "pdf_parse": {
        "body_text": [
            {"text": "We compute the matrix of outputs as: EQUATION where d is the key size.",
             "section": "Scaled Dot-Product Attention", "sec_num": "3.2.1",
             "eq_spans": [{"start": 36, "end": 44, "text": "EQUATION",
                           "raw_str": "Attention(Q, K, V) = softmax(QK^T / sqrt(d_k))V", "eq_num": "(1)"}]},
            {"text": "EQUATION", "section": "Positional Encoding", "sec_num": "3.5",
             "eq_spans": [{"start": 0, "end": 8, "text": "EQUATION", "raw_str": "PE(pos, 2i) = sin(pos / 10000^{2i/d})"}]},
        ],
        "ref_entries": {
            "TABREF0": {"text": "Maximum path lengths per layer type.", "type_str": "table", "num": "1",
                        "content": "Layer Type | Complexity per Layer\nSelf-Attention | O(n^2 d)"},
            "FIGREF0": {"text": "The Transformer model architecture.", "type_str": "figure", "num": "1"},
        },
    },
}


def test_s2orc_equations_tables_and_a_licence_line_for_a_title(tmp_path):
    path = tmp_path / "Transformer.json"
    path.write_text(json.dumps(GROBID_TRANSFORMER_LIKE))
    paper = read_s2orc(path)
    text = paper.to_markdown()
    assert "EQUATION" not in text
    assert "as: $Attention(Q, K, V) = softmax(QK^T / sqrt(d_k))V$ (1) where d is" in paper.sections[0].text
    assert paper.sections[1].text == "$PE(pos, 2i) = sin(pos / 10000^{2i/d})$"
    assert paper.captions == [
        "Table 1: Maximum path lengths per layer type.\nLayer Type | Complexity per Layer\nSelf-Attention | O(n^2 d)",
        "Figure 1: The Transformer model architecture.",
    ]
    assert paper.title == "Transformer"  # not Google's licence sentence: the file name, as nothing better exists


def test_s2orc_lone_numbered_paragraph_is_a_heading_and_unnumbered_sections_nest(tmp_path):
    data = {"title": "T", "pdf_parse": {"body_text": [
        {"text": "We train on WMT.", "section": "Training", "sec_num": "5"},
        {"text": "We use dropout of 0.1.", "section": "Residual Dropout", "sec_num": None},
        {"text": "We use label smoothing of 0.1.", "section": "Label Smoothing", "sec_num": None},
        {"text": "6 Results", "section": "Label Smoothing", "sec_num": None},
        {"text": "The big model wins.", "section": "Label Smoothing", "sec_num": None},
    ]}}
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data))
    sections = read_s2orc(path).sections
    assert [(s.heading, s.level) for s in sections] == [
        ("5 Training", 1), ("Residual Dropout", 2), ("Label Smoothing", 2), ("6 Results", 1)]
    assert sections[3].text == "The big model wins."


def test_a_grobid_title_with_a_licence_notice_before_it_keeps_the_title_after_it(tmp_path):
    import json

    from papercoder.paper import read_paper

    notice = ("Provided proper attribution is provided, Google hereby grants permission to reproduce the tables and "
              "figures in this paper solely for use in journalistic or scholarly works. Attention Is All You Need")
    data = {"title": notice, "pdf_parse": {"abstract": [{"text": "We propose the Transformer.", "section": "Abstract"}],
                                          "body_text": [{"text": "Attention everywhere.", "section": "Introduction"}]}}
    path = tmp_path / "attention.json"
    path.write_text(json.dumps(data))
    assert read_paper(str(path)).title == "Attention Is All You Need"
    data["title"] = "Copyright 2024 by the authors. All rights reserved."
    path.write_text(json.dumps(data))
    assert read_paper(str(path)).title == "attention"  # nothing after the notice: the file's name, as before
