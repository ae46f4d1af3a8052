"""How a run is run: one dataclass that travels from the command to the stages.

Every option of ``papercoder run`` that is not the paper, the run directory or resuming lives
here, so adding one means one field, not a parameter threaded through five functions.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from papercoder.errors import InputError
from papercoder.pipeline.coding import CODING_MODES

DEBUG_ITERATIONS = 3
VERIFY_ROUNDS = 2


@dataclass
class RunOptions:
    """The model, limits and per-stage settings of one run (``None``: the config file's or the default)."""

    model: str | None = None
    base_url: str | None = None
    max_cost: float | None = None
    concurrency: int | None = None
    show_progress: bool = True
    provider: Any = None  # replaces the model named by ``model`` (tests pass a scripted one)
    debug_iterations: int = DEBUG_ITERATIONS
    coding: str | None = None  # "wave" or "sequential"; None: as the run did before, else wave
    verify_rounds: int = VERIFY_ROUNDS
    analysis_group: int | None = None  # files per analysis request; None: as before, else the provider's
    context_window: int | None = None  # tokens; None: the config file's, else what the server or price list says
    judge_model: str | None = None  # the verify stage's judge; None: verify_judge_model in the config, else the run's model
    max_figures: int | None = None  # images per request for a model that reads them; None: max_figures in the config, else 12

    @classmethod
    def of(cls, **values: Any) -> "RunOptions":
        """Options from keyword arguments; an unknown name is a programming error (TypeError)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise TypeError(f"unknown run option(s): {', '.join(unknown)}")
        return cls(**values)

    def check(self) -> None:
        """Refuse values no stage can use, before anything is made."""
        if self.coding is not None and self.coding not in CODING_MODES:
            raise InputError(f"unknown --coding {self.coding!r}; choose {' or '.join(CODING_MODES)}")
        if self.max_figures is not None and self.max_figures < 0:
            raise InputError(f"--max-figures must be 0 (no images) or more, not {self.max_figures}")
        if self.context_window is not None and self.context_window < 1:
            raise InputError(f"--context-window must be a number of tokens of 1 or more, not {self.context_window}")
        if self.analysis_group is not None and self.analysis_group < 1:
            raise InputError(f"--analysis-group must be 1 or more (files per analysis request), not {self.analysis_group}")
