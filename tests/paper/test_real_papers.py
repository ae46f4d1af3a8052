"""The papers in ../shared/papers, when this machine has them (skipped otherwise)."""

from __future__ import annotations

import re

from papercoder.paper import read_paper

from .conftest import real_paper


def headings(paper) -> list[str]:
    return [s.heading for s in paper.sections]


def test_vcd_noise_scheduling_pdf():
    paper = read_paper(str(real_paper("vcd-noise-scheduling.pdf")))
    assert paper.title == "Scheduling Noise for Better VCD: Reducing Hallucinations in LVLMs"
    assert paper.abstract.startswith("Large Vision-Language Models (LVLMs) have made remarkable progress")
    assert headings(paper) == [
        "1 Introduction",
        "2 Related Work",
        "2.1 Hallucinations in LVLMs",
        "2.2 Polling-based Object Probing Evaluation",
        "2.3 Visual Contrastive Decoding",
        "2.4 Baseline Model",
        "3 Dataset",
        "4 Evaluation framework",
        "5 Methodology",
        "5.1 Cosine-beta noise scheduling",
        "5.2 Input scaling",
        "6 Result",
        "7 Conclusion",
        "8 Limitations",
    ]
    markdown = paper.to_markdown()
    # the first column of page 2 continues the last sentence of page 1's second column
    assert "tendencies across difficulty levels, with adversarial sampling targeting" in markdown
    assert "arXiv:2404.18930" not in markdown and "References" not in markdown  # bibliography dropped
    assert "hallucination tendencies" in markdown and "hallucina- tion" not in markdown


def test_ace_acl2018_pdf():
    paper = read_paper(str(real_paper("ace-acl2018.pdf")))
    assert paper.title == "Adversarial Contrastive Estimation"
    found = headings(paper)
    assert found[0] == "1 Introduction" and found[-1] == "7 Conclusion"
    assert "2.7 Improving exploration in g_{θ} by leveraging NCE samples" in found
    numbers = [tuple(int(k) for k in h.split()[0].split(".")) for h in found]
    assert numbers == sorted(numbers)  # in the paper's order
    assert len(found) == 22
    kept = read_paper(str(real_paper("ace-acl2018.pdf")), keep_references=True)
    assert headings(kept)[-1] == "References" and "Mikolov" in kept.sections[-1].text


def test_online_sinkhorn_latex_folder():
    paper = read_paper(str(real_paper("online-sinkhorn")))
    assert paper.source_format == "latex"
    assert paper.title == "Online Sinkhorn: Optimal Transport distances from sample streams"
    assert paper.abstract.startswith("Optimal Transport (OT) distances are now routinely used")
    found = headings(paper)
    assert found[1:4] == ["1 Related work", "2 Background: optimal transport distances",
                          "2.1 Optimal transport distances and algorithms"]
    assert "Broader impact" not in found  # the \if\icml1 branch is off in article.tex
    assert "We thank the reviewers" not in paper.to_markdown()  # rebuttal/ is another document
    appendix = [s.heading for s in paper.sections if s.appendix]
    assert appendix[0] == "A Proofs" and all(re.match(r"^[A-D](\.\d)* ", h) for h in appendix)
    # the folder also holds the authors' rebuttal, a main file of its own: said, and article.tex read
    assert all("read article.tex" in w and "rebuttal" in w for w in paper.warnings) and paper.warnings
