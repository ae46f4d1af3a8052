"""``papercoder batch``: many papers, a few at a time, in this process or on a Ray cluster.

Above the engine (:mod:`papercoder.run`) and the evaluation protocols: a batch runs each
paper's pipeline, then judges and reproduces it, and keeps one record per paper.
"""

from papercoder.batch.driver import run_batch, summary_table
from papercoder.batch.papers import discover_papers
from papercoder.batch.work import BatchOptions, succeeded

__all__ = ["BatchOptions", "discover_papers", "run_batch", "succeeded", "summary_table"]
