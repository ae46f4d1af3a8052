"""Reading papers in every format users have, into a :class:`Paper`.

``read_paper(source)`` is the one entry point: a path (PDF, LaTeX file/folder/archive, Markdown,
s2orc JSON, text) or an arXiv id/URL.
"""

from papercoder.paper.model import Paper, Section

__all__ = ["Paper", "Section", "read_paper"]


def read_paper(source: str, *, keep_references: bool = False) -> Paper:  # replaced by the reader
    from papercoder.paper.readers import read_paper as _read

    return _read(source, keep_references=keep_references)
