"""One run of papercoder on one paper: the run directory, its manifest, resuming, and
:func:`run_paper`, the function behind ``papercoder run`` and the batch command.

A run directory holds everything a run made (docs/architecture.md): the paper as the model saw it,
planning, analyses, the repository, the call log and ``manifest.json``. Running again with
``resume=True`` skips the stages the manifest records as done and re-runs the rest; the call
log answers every request already answered, so nothing is paid for twice.
"""

from __future__ import annotations

import re
import shlex
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from papercoder.errors import InputError, PapercoderError
from papercoder.llm import LLM
from papercoder.llm.calllog import CallLog
from papercoder.llm.types import clean_text
from papercoder.paper import read_paper
from papercoder.pipeline.coding import CODING_MODES
from papercoder.repo.paths import write_inside
from papercoder.reproduce.executors import stop_running
from papercoder.run.options import RunOptions
from papercoder.run.progress import RunDisplay
from papercoder.run.runner import StageRunner, parse_stages, run_async, stages_to_run
from papercoder.run.stages import DEFAULT_STAGES
from papercoder.run.stats import StageStats
from papercoder.rundir.lock import LOCK_NAME, RunLock, remove_leftovers
from papercoder.rundir.manifest import FINISHED, Manifest, RunDirectoryError, now
from papercoder.rundir.paths import RunPaths, refuse_links
from papercoder.secrets import redact

__all__ = ["RunInterrupted", "RunOptions", "RunResult", "default_run_dir", "paper_slug", "run_paper", "run_stage"]


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run: everything done so far is kept; ``resume_command`` continues it.

    A KeyboardInterrupt, so callers that loop over many papers stop too.
    """

    def __init__(self, run_dir: Path, resume_command: str):
        super().__init__(f"interrupted; everything done so far is kept in {run_dir}; resume with: {resume_command}")
        self.run_dir = run_dir
        self.resume_command = resume_command


@dataclass
class RunResult:
    """What :func:`run_paper` made, and what it took."""

    run_dir: Path
    repo: Path
    status: str  # "done", or "degraded" when a fallback fired (see ``fallbacks``); "partial" for one stage
    fallbacks: list[tuple[str, str]] = field(default_factory=list)  # (stage, what fell back)
    stages: dict[str, StageStats] = field(default_factory=dict)  # this invocation, per stage ("fit" included)
    skipped: list[str] = field(default_factory=list)  # stages already done, not run again
    debug_status: str | None = None  # the debugging stage's outcome, when it ran
    verify_summary: str | None = None  # coverage before and after, when the verify stage ran
    still_failing: list[str] = field(default_factory=list)  # requirements verify found unmet
    manifest: Manifest | None = None
    report: Path | None = None  # RUN/report.html, when it could be written

    @property
    def total(self) -> StageStats:
        total = StageStats()
        for stats in self.stages.values():
            total = total + stats
        return total


def paper_slug(source: str) -> str:
    """A directory name for a paper source: ``examples/My Paper.pdf`` -> ``my-paper``."""
    text = source.strip().rstrip("/")
    arxiv = re.match(r"^(?:arxiv:|https?://arxiv\.org/(?:abs|pdf|e-print)/)?(\d{4}\.\d{4,5})(v\d+)?", text, re.I)
    if arxiv:
        return "arxiv-" + arxiv.group(1)
    name = Path(text).name
    for suffix in (".tar.gz", ".tgz", ".zip", ".pdf", ".tex", ".md", ".markdown", ".json", ".txt"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:60].strip("-") or "paper"


def default_run_dir(source: str) -> Path:
    """``runs/<paper-slug>`` under the working directory."""
    return Path("runs") / paper_slug(source)


def resume_command(source: str, run_dir: Path, stages: list[str] | None = None) -> str:
    """The exact command that continues a run."""
    parts = ["papercoder", "run", source, "-o", str(run_dir), "--resume"]
    if stages and list(stages) != list(DEFAULT_STAGES):
        parts += ["--stages", ",".join(stages)]
    return shlex.join(parts)


def run_paper(
    source: str,
    *,
    out_dir: Path | None = None,
    resume: bool = False,
    stages: list[str] | None = None,
    addendum: Path | str | None = None,
    wait: bool = False,
    **options: Any,
) -> RunResult:
    """Turn the paper at ``source`` into a repository in ``out_dir`` (default ``runs/<slug>``).

    ``options`` are :class:`RunOptions` fields (model, base_url, max_cost, concurrency,
    show_progress, provider, debug_iterations, coding, verify_rounds, analysis_group).
    ``provider`` replaces the model named by ``model`` (tests pass a scripted one); the call
    log is attached either way. One process at a time works on a run directory: another one
    is refused with a clear error, or waited for with ``wait``. Raises :class:`RunInterrupted` on Ctrl-C and a
    :class:`~papercoder.errors.PapercoderError` for problems the user can fix; in both cases
    the run directory keeps all work done and ``manifest.json`` says where it stopped.
    """
    opts = RunOptions.of(**options)
    requested = parse_stages(stages)
    opts.check()
    if opts.provider is None:
        _preload(opts.model, opts.base_url)
    run_dir = Path(out_dir) if out_dir is not None else default_run_dir(source)
    paths = RunPaths(run_dir)
    _existing_manifest(paths, resume)  # refuse at once, before anything is made
    addendum_text = read_addendum_file(addendum) if addendum is not None else None
    created = not run_dir.exists()
    _make_run_dir(run_dir)
    # not removed when the lock is refused: the directory may be the other process's new run
    lock = RunLock(run_dir, wait=wait).acquire()
    try:
        remove_leftovers(run_dir)
        result = _run_paper_locked(source, paths, requested, opts, resume=resume, addendum_text=addendum_text)
        result.report = write_run_report(paths)
        return result
    except BaseException:
        if created and not paths.manifest.exists():  # nothing was done: leave no directory that needs --resume
            shutil.rmtree(run_dir, ignore_errors=True)
        else:
            write_run_report(paths)  # a stopped run's page shows where it stopped
        raise
    finally:
        lock.release()


def write_run_report(paths: RunPaths) -> Path | None:
    """``RUN/report.html`` for the run as it stands; None (and a run.log line) if it cannot be
    written: the page is a view of the run and must never cost the run itself."""
    if not paths.manifest.is_file():
        return None
    try:
        from papercoder.report import write_report

        return write_report(paths.root)
    except Exception as exc:  # noqa: BLE001 - whatever breaks the page, the run's own result stands
        _RunLog(paths.log).write(f"report: could not write report.html: {exc}")
        return None


def _run_paper_locked(
    source: str,
    paths: RunPaths,
    requested: list[str],
    opts: RunOptions,
    *,
    resume: bool,
    addendum_text: str | None,
) -> RunResult:
    """:func:`run_paper` once the run directory exists and this process holds its lock."""
    run_dir = paths.root
    existing = _existing_manifest(paths, resume)  # again: another process may have just finished
    if addendum_text is not None and existing is not None and paths.addendum.is_file():
        if paths.addendum.read_text(encoding="utf-8") != addendum_text:
            raise InputError(
                f"{run_dir} was started with another addendum ({paths.addendum}); a resumed run keeps its own: "
                "leave out --addendum, or start a new run with -o"
            )

    paper = None
    if existing is None or not _paper_ready(paths, existing):
        if requested[0] != "plan":
            raise InputError(
                f"{run_dir} has no paper and plan yet; the {requested[0]} stage needs them: "
                "run the plan stage first (include plan in --stages)"
            )
        paper = read_paper(source)

    manifest = existing or Manifest()
    manifest.source = _absolute_source(source)
    manifest.model = opts.model or manifest.model
    manifest.base_url = opts.base_url or manifest.base_url
    manifest.error = None
    llm = _open_llm(paths, manifest, opts)
    if addendum_text is not None and not paths.addendum.is_file():
        write_inside(run_dir, paths.addendum.name, addendum_text)
    log = _RunLog(paths.log)
    log.write(f"run: {'resuming' if existing else 'starting'} on {manifest.source} with {llm.model}")
    manifest.model = llm.model
    manifest.save(paths.manifest)
    command = resume_command(source, run_dir, requested)

    todo = stages_to_run(requested, manifest)
    skipped = [s for s in requested if s not in todo]
    for stage in skipped:
        log.write(f"{stage}: already done, skipped")
    runner, results = _drive(paths, llm, manifest, log, command, paper, todo, _as_before(manifest, opts))
    _finish(manifest, paths, llm, manifest.outcome(), log)
    return _result(paths, runner, manifest, results, skipped)


def run_stage(stage: str, run_dir: Path, *, wait: bool = False, **options: Any) -> RunResult:
    """Run one stage on an existing run directory (``papercoder plan|analyze|code RUN_DIR``).

    ``options`` are :class:`RunOptions` fields. The stage runs even if the manifest says it is
    done (its calls come from the log); the stages after it are marked pending, since their
    inputs may change.
    """
    opts = RunOptions.of(**options)
    opts.check()
    paths = RunPaths(Path(run_dir))
    if not paths.root.is_dir():
        raise InputError(f"{run_dir} is not a run directory; make one with `papercoder run PAPER`")
    Manifest.load(paths.manifest)  # refuse a directory that is not a run before locking it
    refuse_links(paths)
    with RunLock(paths.root, wait=wait):
        remove_leftovers(paths.root)
        try:
            result = _run_stage_locked(stage, paths, opts)
        except BaseException:
            write_run_report(paths)
            raise
        result.report = write_run_report(paths)
        return result


def _run_stage_locked(stage: str, paths: RunPaths, opts: RunOptions) -> RunResult:
    run_dir = paths.root
    manifest = Manifest.load(paths.manifest)
    log = _RunLog(paths.log)
    manifest.model = opts.model or manifest.model
    manifest.base_url = opts.base_url or manifest.base_url
    manifest.error = None
    llm = _open_llm(paths, manifest, opts)
    manifest.model = llm.model
    command = shlex.join(["papercoder", stage, str(run_dir)])
    runner, results = _drive(paths, llm, manifest, log, command, None, [stage], _as_before(manifest, opts))
    _finish(manifest, paths, llm, _overall_status(manifest), log)
    result = _result(paths, runner, manifest, results)
    # what this command did is the one stage: later ones are pending by design, not a failure
    result.status = manifest.stage(stage).status
    result.fallbacks = manifest.fallbacks(only=stage)
    return result


def _drive(
    paths: RunPaths,
    llm: LLM,
    manifest: Manifest,
    log: _RunLog,
    command: str,
    paper: Any,
    todo: list[str],
    opts: RunOptions,
) -> tuple[StageRunner, dict[str, Any]]:
    """Run the ``todo`` stages (fitting ``paper`` first, when given) with a progress display;
    on any stop, record it in the manifest and the run log.

    Ctrl-C becomes :class:`RunInterrupted`; a user-fixable error gets the resume command added
    to its one line. Either way the run directory keeps everything done so far.
    """
    runner: StageRunner | None = None
    try:
        with RunDisplay(lambda stage: runner.live_stats(stage) if runner else None, enabled=opts.show_progress) as display:

            def note(message: str) -> None:
                log.write(message)
                display.note(message)

            runner = StageRunner(paths, llm, manifest, display=display, note=note, event=log.write, options=opts, paper=paper)
            results = run_async(_run(runner, todo))
    except KeyboardInterrupt:
        if stop_running():  # a reproduce.sh waited for in a worker thread would run on for hours
            log.write("run: stopped the running reproduce.sh")
        _finish(manifest, paths, llm, "interrupted", log)
        log.write(f"run: interrupted; resume with: {command}")
        raise RunInterrupted(paths.root, command) from None
    except PapercoderError as exc:
        _finish(manifest, paths, llm, "failed", log)
        log.write(f"run: failed: {exc}; resume with: {command}")
        _add_resume_hint(exc, paths.root, command)
        raise
    except OSError as exc:  # a full disk, a folder made read-only under the run
        _finish(manifest, paths, llm, "failed", log)
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        raise RunDirectoryError(
            f"cannot write the run's files{where}: {exc.strerror or exc}; free some disk space or fix the "
            f"permissions, then continue with: {command}"
        ) from None
    except BaseException:
        _finish(manifest, paths, llm, "failed", log)
        raise
    return runner, results


def _result(
    paths: RunPaths, runner: StageRunner, manifest: Manifest, results: dict[str, Any], skipped: list[str] | None = None
) -> RunResult:
    report = results.get("debug")
    verified = results.get("verify")
    return RunResult(
        run_dir=paths.root,
        repo=paths.repo,
        status=manifest.status,
        fallbacks=manifest.fallbacks(),
        stages=dict(runner.stats),
        skipped=skipped or [],
        debug_status=str(report.status) if getattr(report, "status", None) is not None else None,
        verify_summary=verified.summary() if verified is not None else None,
        still_failing=[f"[{f['id']}] {f['requirement']}" for f in getattr(verified, "failing", [])],
        manifest=manifest,
    )


async def _run(runner: StageRunner, todo: list[str]) -> dict[str, Any]:
    try:
        return await runner.run(todo)
    finally:
        await runner.llm.aclose()


MAX_ADDENDUM_CHARS = 400_000


def read_addendum_file(path: Path | str) -> str:
    """The text of an addendum file (clarifications to the paper), checked to be usable text."""
    target = Path(path)
    if not target.is_file():
        raise InputError(f"the addendum {target} is not a file; give the path of a Markdown or text file")
    try:
        data = target.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the addendum {target}: {exc.strerror}") from None
    if len(data) > MAX_ADDENDUM_CHARS:
        raise InputError(f"the addendum {target} is over {MAX_ADDENDUM_CHARS // 1000} kB; give the clarifications only")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"the addendum {target} is not UTF-8 text; save it as UTF-8") from None
    if "\x00" in text or not text.strip():
        raise InputError(f"the addendum {target} is empty or not text; give a Markdown or text file")
    return text.strip() + "\n"


def _add_resume_hint(exc: PapercoderError, run_dir: Path, command: str) -> None:
    """Say, in the one line the CLI prints, that the work is kept and how to continue it."""
    if exc.args and isinstance(exc.args[0], str) and command not in exc.args[0]:
        exc.args = (f"{exc.args[0]} (work so far is kept in {run_dir}; after fixing this, continue with: {command})", *exc.args[1:])


# What a run writes before its first manifest: a directory holding only these was stopped at
# its very start (killed, a full disk) and is taken as a new run, keeping any answers it logged.
STARTUP_FILES = frozenset({LOCK_NAME, "calls.sqlite", "calls.sqlite-wal", "calls.sqlite-shm", "calls.sqlite-journal",
                           "run.log", "addendum.md", "paper.md"})


def _make_run_dir(run_dir: Path) -> None:
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"cannot create the run directory {run_dir}: {exc.strerror or exc}; choose another one with -o"
        ) from None


def _existing_manifest(paths: RunPaths, resume: bool) -> Manifest | None:
    """The run directory's manifest when resuming; an error when it is in use and not resuming."""
    root = paths.root
    if root.exists() and not root.is_dir():
        raise InputError(f"{root} exists and is not a directory; choose another run directory with -o")
    try:
        entries = [e.name for e in root.iterdir()] if root.is_dir() else []
    except OSError as exc:
        raise InputError(f"cannot read the run directory {root}: {exc.strerror or exc}") from None
    started = [name for name in entries if name not in STARTUP_FILES and not name.startswith(".manifest.json.tmp")]
    if not started and not paths.manifest.exists():
        return None
    refuse_links(paths)
    if not resume:
        raise InputError(
            f"run directory {root} already exists and is not empty; add --resume to continue that run, "
            "or choose another directory with -o"
        )
    if not paths.manifest.exists():
        raise InputError(
            f"{root} is not empty but has no manifest.json, so it is not a papercoder run to resume; "
            "choose another directory with -o"
        )
    return Manifest.load(paths.manifest)


def _paper_ready(paths: RunPaths, manifest: Manifest) -> bool:
    return paths.paper.exists() and bool(manifest.paper.get("ready"))


def _absolute_source(source: str) -> str:
    path = Path(source)
    return str(path.resolve()) if path.exists() else source


def _open_llm(paths: RunPaths, manifest: Manifest, opts: RunOptions) -> LLM:
    if opts.provider is not None:
        options: dict[str, Any] = {"log": CallLog(paths.calls)}
        if opts.concurrency:
            options["concurrency"] = opts.concurrency
        if opts.max_cost is not None:
            options["max_cost"] = opts.max_cost
        return LLM(opts.provider, **options)
    from papercoder.llm import open_model

    return open_model(
        manifest.model,
        base_url=manifest.base_url,
        log_path=paths.calls,
        max_cost=opts.max_cost,
        concurrency=opts.concurrency,
        quiet=not opts.show_progress,
        context_window=opts.context_window,
        window_cache=paths.server_window,
    )


def _preload(model: str | None, base_url: str | None) -> None:
    """Import the provider's SDK in the background while the paper is read (see llm.preload)."""
    from papercoder.config import load_config
    from papercoder.llm.preload import preload_sdk, provider_of

    try:
        config = load_config()
    except PapercoderError:
        return  # a bad config file is reported, with its fix, when the model is opened
    preload_sdk(provider_of(model, base_url=base_url or config.base_url, configured=config.model))


def _as_before(manifest: Manifest, opts: RunOptions) -> RunOptions:
    """``opts`` with the way of writing files and of grouping analyses this run used before,
    where the command does not say: a resumed run sends the same requests, which the call log answers."""
    coding = opts.coding or str(manifest.stage("code").detail.get("coding") or CODING_MODES[0])
    group = opts.analysis_group
    if group is None:
        before = manifest.stage("analyze").detail.get("analysis_group")
        group = int(before) if isinstance(before, int) else None
    return replace(opts, coding=coding, analysis_group=group)


def _overall_status(manifest: Manifest) -> str:
    finished = all(manifest.stage(s).status in FINISHED for s in DEFAULT_STAGES)
    return manifest.outcome() if finished else "partial"


def _finish(manifest: Manifest, paths: RunPaths, llm: LLM, status: str, log: "_RunLog") -> None:
    """Record the outcome and the run's totals (over every attempt, from the call log)."""
    manifest.status = status
    try:
        with CallLog(paths.calls) as calls:
            per_label = calls.totals()
        manifest.totals = {label: _totals_entry(StageStats.from_totals(t)) for label, t in sorted(per_label.items())}
        if per_label:
            everything = StageStats()
            for totals in per_label.values():
                everything = everything + StageStats.from_totals(totals)
            manifest.totals["total"] = _totals_entry(everything)
    except Exception as exc:  # the totals are a convenience; never let them hide the real outcome
        log.write(f"run: could not read totals from the call log: {exc}")
    try:
        manifest.save(paths.manifest)
    except RunDirectoryError:
        if status not in ("failed", "interrupted"):
            raise
        # the run is stopping for another reason already; that one is what the user must see
    calls_log = getattr(llm, "log", None)
    if calls_log is not None and hasattr(calls_log, "close"):
        calls_log.close()


def _totals_entry(stats: StageStats) -> dict[str, Any]:
    """A manifest entry: every call of a stage label over all attempts; time is the latency sum."""
    entry = stats.to_dict()
    entry["call_seconds"] = round(entry.pop("seconds"), 3)
    entry["cost"] = round(entry["cost"], 6)
    return entry


class _RunLog:
    """``run.log``: one timestamped line per decision or stage event, appended."""

    def __init__(self, path: Path):
        self.path = path

    def write(self, message: str) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(f"{now()} {redact(clean_text(message))}\n")
        except OSError:
            pass  # the run log is a convenience: a full disk must not hide the run's real outcome

