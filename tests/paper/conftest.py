"""Shared fixtures for the paper readers: a two-column PDF paper, a LaTeX project, real papers."""

from __future__ import annotations

from pathlib import Path

import pytest

from .pdfbuilder import PageSpec, body, build_pdf

REAL_PAPERS = Path(__file__).resolve().parents[3] / "shared" / "papers"


def real_paper(name: str) -> Path:
    """A paper from ../shared/papers, or a clean skip when it is not on this machine."""
    for base in (REAL_PAPERS, Path("/work/shared/papers")):
        if (base / name).exists():
            return base / name
    pytest.skip(f"real paper {name} not available here")


# A two-column paper: the left column ends mid-paragraph and the right column continues it;
# words are broken by end-of-line hyphens; body lines start with numbers (one looks like the
# next heading but is not bold); a running header
# and page numbers repeat on every page; a caption, references and a lettered appendix follow.
TWO_COLUMN_PAGES = [
    PageSpec(
        [
            [
                ("title", "Sparse Widgets for Dense Gadgets"),
                ("body", "Ada Lovelace and Alan Turing"),
                ("h", "Abstract"),
                *body(
                    "We propose sparse widgets, a method that",
                    "makes dense gadgets faster to train.",
                ),
                ("h", "1 Introduction"),
                *body(
                    "Gadgets are everywhere. Training them is",
                    "slow because every widget is dense and",
                    "the optimi-",
                    "zation wastes work on zeros. The left",
                ),
            ],
            [
                *body(
                    "column ends here and the right column",
                    "continues the same sentence in order.",
                    "2 layers are enough in practice, we find.",
                ),
                ("h", "2 Method"),
                *body("Our method prunes widgets early.", "It keeps the gadget accurate."),
                ("h", "2.1 Pruning Schedule"),
                *body(
                    "We prune ten percent per epoch with a",
                    "learning rate of 0.01 and batch size 32.",
                    "3 Widgets Per Gadget Stay Dense",
                ),
                ("drawing", ""),
                *body(
                    "Figure 1: The pruning schedule over",
                    "training epochs.",
                ),
            ],
        ]
    ),
    PageSpec(
        [
            [
                ("h", "3 Experiments"),
                *body("We train on GadgetNet for 90 epochs.", "Accuracy improves by two points."),
                ("h", "4 Conclusion"),
                *body("Sparse widgets make gadgets fast."),
            ],
            [
                ("h", "References"),
                *body(
                    "A. Author. 2020. A Study of Gadgets.",
                    "Journal of Widgets, 3:1-10.",
                ),
                ("h", "A Proofs of the Main Result"),
                *body("The proof follows from convexity."),
                ("h", "A.1 Extra Lemma"),
                *body("The lemma holds for every widget."),
            ],
        ]
    ),
    PageSpec([[("h", "B Hyperparameters"), *body("We list every hyperparameter here.")], []]),
]


@pytest.fixture(scope="session")
def two_column_pdf(tmp_path_factory) -> Path:
    return build_pdf(tmp_path_factory.mktemp("pdf") / "paper.pdf", TWO_COLUMN_PAGES)
