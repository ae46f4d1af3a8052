"""Evaluation: how well a repository reproduces a paper, measured as Paper2Code and PaperBench do.

- ``files``: which repository files a judge reads, their relevance, packing into a context;
- ``judge``: reading the judge's answers (invalid ones are counted, never raised);
- ``scoring``: the 1-5 correctness judge over n samples (``papercoder eval``);
- ``rubric`` and ``grade``: PaperBench rubric trees, leaf grading, weighted scores (``papercoder grade``);
- ``batch``: the pipeline and the judges over many papers (``papercoder batch``);
- ``api``: one function per command; ``report``: summaries and where results go.
"""
