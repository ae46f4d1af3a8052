"""What the user sees while a run goes: a bar per stage, then a summary table.

Bars go to stderr and only when stderr is a terminal (tests and pipes stay quiet). Each bar
shows files done of total and the tokens and cost the stage has used so far, read from the
model's running totals on every refresh.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from papercoder.run.stats import StageStats

STAGE_TITLES = {
    "fit": "fit paper",
    "plan": "plan",
    "analyze": "analyze",
    "code": "code",
    "debug": "debug",
}


class _UsageColumn(ProgressColumn):
    """Tokens and cost used by the stage so far."""

    max_refresh = 0.5

    def __init__(self, stats: Callable[[str], StageStats | None]):
        super().__init__()
        self._stats = stats

    def render(self, task: Task) -> Text:
        stats = self._stats(task.fields.get("stage", ""))
        if stats is None:
            return Text("")
        return Text(f"{stats.tokens:>9,} tok  {stats.cost_text():>9}", style="dim")


class RunDisplay:
    """Progress bars for one run, when enabled and stderr is a terminal (else notes as plain lines).

    ``stats(stage)`` returns the figures of a stage so far (or None when it has not started).
    """

    def __init__(self, stats: Callable[[str], StageStats | None], *, enabled: bool = True, console: Console | None = None):
        self.console = console or Console(stderr=True)
        self.enabled = enabled and self.console.is_terminal
        self.plain_notes = enabled and not self.enabled  # a pipe or log file: notes as plain lines
        self._progress = Progress(
            TextColumn("{task.description:<10}"),
            BarColumn(bar_width=30),
            MofNCompleteColumn(),
            _UsageColumn(stats),
            TimeElapsedColumn(),
            console=self.console,
            disable=not self.enabled,
        )
        self._tasks: dict[str, int] = {}
        self._stats = stats

    def __enter__(self) -> "RunDisplay":
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def start(self, stage: str, total: int | None = None) -> None:
        """Show a bar for ``stage`` (its total is unknown until the stage reports it); on a pipe or
        log file, one line instead, so a long stage is not minutes of silence."""
        if stage not in self._tasks:
            self._tasks[stage] = self._progress.add_task(STAGE_TITLES.get(stage, stage), total=total, stage=stage)
            if self.plain_notes:
                print(f"{stage}: started", file=sys.stderr, flush=True)

    def update(self, stage: str, done: int, total: int) -> None:
        """``done`` of ``total`` units (files) of ``stage`` are finished."""
        self.start(stage)
        self._progress.update(self._tasks[stage], completed=done, total=total)

    def finish(self, stage: str) -> None:
        """Mark ``stage`` complete (a bar with no known total is filled)."""
        if stage not in self._tasks:
            return
        task = next(t for t in self._progress.tasks if t.id == self._tasks[stage])
        total = task.total or max(1, task.completed)
        self._progress.update(self._tasks[stage], completed=total, total=total)
        if self.plain_notes:
            figures = self._stats(stage)
            done = f" ({figures.calls} calls, {figures.seconds:.0f} s)" if figures is not None else ""
            print(f"{stage}: finished{done}", file=sys.stderr, flush=True)

    def note(self, message: str) -> None:
        """A line above the bars (for decisions worth seeing, like shrinking the paper)."""
        if self.enabled:
            self._progress.console.print(Text(message, style="yellow"))
        elif self.plain_notes:
            print(message, file=sys.stderr, flush=True)


def summary_table(stages: dict[str, StageStats], *, title: str | None = None) -> Table:
    """Stage, calls, cached calls, input/cached/output tokens, cost ("unknown" if any), time."""
    table = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        caption="from log: calls answered from the call log (free); input, cached input, output: tokens; "
                "time: the sum of the calls' latencies",
        caption_justify="left",
    )
    table.add_column("stage", no_wrap=True)
    for name in ("calls", "from log", "input", "cached input", "output", "cost", "call time"):
        table.add_column(name, justify="right", no_wrap=True)
    rows = [(name, stats) for name, stats in stages.items() if name != "fit" or stats.calls]
    for name, stats in rows:
        table.add_row(name, *_cells(stats))
    if len(rows) > 1:
        total = _sum(s for _, s in rows)
        table.add_row("total", *_cells(total), style="bold")
    return table


def print_summary(stages: dict[str, StageStats], repo: Path, *, console: Console | None = None, status: str = "") -> None:
    """The table, then where the repository is."""
    if console is None:
        console = Console()
        if not console.is_terminal:  # a log file or pipe: no need to squeeze into 80 columns
            console = Console(width=120)
    console.print(summary_table(stages))
    suffix = f" ({status})" if status else ""
    if Path(repo).is_dir():  # a run of the plan stage alone has none yet
        console.print(f"repository: {repo}{suffix}", highlight=False, soft_wrap=True)
    elif status:
        console.print(status, highlight=False, soft_wrap=True)


def print_fallbacks(status: str, fallbacks: list[tuple[str, str]], *, console: Console | None = None) -> None:
    """``status: done``, or the status and every fallback that made the run less than asked for."""
    console = console or Console(width=120, soft_wrap=True)
    if status == "done":
        console.print("status: done", highlight=False)
        return
    what = {"degraded": "the run finished, but not everything came out as asked",
            "partial": "some stages have not run yet"}.get(status, "")
    console.print(f"status: {status}" + (f" ({what})" if what else ""), highlight=False)
    for stage, message in fallbacks:
        console.print(f"  - {stage}: {message}", highlight=False, markup=False)


def _cells(stats: StageStats) -> list[str]:
    return [
        f"{stats.calls:,}",
        f"{stats.cached_calls:,}",
        f"{stats.input_tokens:,}",
        f"{stats.cached_input_tokens:,}",
        f"{stats.output_tokens:,}",
        stats.cost_text(),
        f"{stats.seconds:.1f}s",
    ]


def _sum(items: Iterable[StageStats]) -> StageStats:
    total = StageStats()
    for item in items:
        total = total + item
    return total
