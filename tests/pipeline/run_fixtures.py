"""Fixtures for the tests of ``run_paper``: the example paper, small stand-in stages, and
scripted models.

The stand-in stages follow the stage contract (``async def run_<stage>(ctx)``, reading the
previous stage's files from the run directory, calling ``ctx.llm``, reporting progress) with
the least logic possible, so the orchestration (run directory, manifest, resume, concurrency,
interruption) is tested apart from what the real stages decide.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import signal
from dataclasses import dataclass
from pathlib import Path

from papercoder.llm import FakeReply, ScriptedProvider
from papercoder.llm.types import Message
from papercoder.rundir.context import StageContext
from papercoder.repo.paths import write_inside

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_PAPER = ROOT / "examples" / "prototype-classifier.md"
STAND_IN_FILES = ["data.py", "model.py", "train.py", "main.py"]


# --- stand-in stages ------------------------------------------------------------------------


async def plan_stage(ctx: StageContext) -> None:
    paper = ctx.paths.paper.read_text(encoding="utf-8")
    answer = await ctx.llm.acomplete([{"role": "user", "content": "PLAN\n" + paper}], stage="planning")
    ctx.paths.planning.mkdir(parents=True, exist_ok=True)
    ctx.paths.plan.write_text(answer.text, encoding="utf-8")
    ctx.paths.tasks.write_text(json.dumps({"files": STAND_IN_FILES}), encoding="utf-8")
    ctx.progress("planning", 1, 1)


async def analyze_stage(ctx: StageContext) -> None:
    files = json.loads(ctx.paths.tasks.read_text())["files"]
    plan = ctx.paths.plan.read_text()
    done = 0

    async def one(name: str) -> None:
        nonlocal done
        answer = await ctx.llm.acomplete([{"role": "user", "content": f"ANALYZE {name}\n{plan}"}], stage="analysis")
        write_inside(ctx.paths.analysis, name + ".md", answer.text)
        done += 1
        ctx.progress("analysis", done, len(files))

    await asyncio.gather(*(one(f) for f in files))


async def code_stage(ctx: StageContext) -> None:
    files = json.loads(ctx.paths.tasks.read_text())["files"]
    done = 0

    async def one(name: str) -> None:
        nonlocal done
        analysis = (ctx.paths.analysis / (name + ".md")).read_text()
        answer = await ctx.llm.acomplete([{"role": "user", "content": f"CODE {name}\n{analysis}"}], stage="coding")
        write_inside(ctx.paths.repo, name, answer.text)
        done += 1
        ctx.progress("coding", done, len(files))

    await asyncio.gather(*(one(f) for f in files))


@dataclass
class DebugReport:
    status: str


async def debug_stage(ctx: StageContext, *, max_iterations: int = 3) -> DebugReport:
    # Changes repo/ in place, as the real debugging stage does.
    main = ctx.paths.repo / "main.py"
    answer = await ctx.llm.acomplete([{"role": "user", "content": "FIX\n" + main.read_text()}], stage="debugging")
    main.write_text(main.read_text() + "\n# fixed: " + answer.text.splitlines()[0] + "\n")
    return DebugReport(status="passed")


@dataclass
class VerifyReport:
    status: str
    leaves: int = 1
    failing: tuple = ()
    coverage_before: float = 1.0
    coverage_after: float = 1.0

    def summary(self) -> str:
        return f"verify: coverage {self.coverage_before:.2f} -> {self.coverage_after:.2f}"


async def verify_stage(ctx: StageContext, *, rounds: int = 2, judge_model: str | None = None) -> VerifyReport:
    # Reads the repository and asks one question about it, as the real stage asks many.
    main = ctx.paths.repo / "main.py"
    await ctx.llm.acomplete([{"role": "user", "content": "VERIFY\n" + main.read_text()}], stage="verify")
    write_inside(ctx.paths.root / "verify", "report.json", "{}\n")
    return VerifyReport(status="done")


STAND_IN_STAGES = {"plan": plan_stage, "analyze": analyze_stage, "code": code_stage, "debug": debug_stage,
                   "verify": verify_stage}


def use_stand_in_stages(monkeypatch) -> None:
    """Make the runner run the stand-in stages instead of the real ones."""
    from dataclasses import replace

    from papercoder.run import runner

    def entry(name):
        real = runner.BY_NAME[name]
        return replace(real, run=STAND_IN_STAGES[name]) if name in STAND_IN_STAGES else real

    monkeypatch.setattr(runner, "stage_entry", entry)


# --- scripted models --------------------------------------------------------------------------


def echo_answer(messages: list[Message]) -> str:
    """A deterministic answer for the stand-in stages: names what was asked, plus a digest."""
    prompt = messages[-1]["content"]
    first = prompt.splitlines()[0]
    digest = hashlib.sha256(prompt.encode()).hexdigest()[:12]
    if first.startswith("CODE "):
        return f"# {first[5:]} ({digest})\nprint('{first[5:]}')\n"
    return f"{first} -> {digest}"


def echo_provider(delay: float = 0.0, **kwargs) -> ScriptedProvider:
    """Answers every prompt with :func:`echo_answer`, each after ``delay`` seconds."""
    return ScriptedProvider(lambda messages: FakeReply(text=echo_answer(messages), delay=delay), **kwargs)


def crashing_provider(crash_on: str, after: int, error: BaseException | str, delay: float = 0.0) -> ScriptedProvider:
    """Like :func:`echo_provider`, but the ``after``-th prompt starting with ``crash_on`` fails.

    ``error`` is an exception to raise, or ``"sigint"``: the process sends itself SIGINT, as
    Ctrl-C does, while that call is in flight.
    """
    seen = 0

    def reply(messages: list[Message]) -> FakeReply:
        nonlocal seen
        if messages[-1]["content"].startswith(crash_on):
            seen += 1
            if seen == after:
                if error == "sigint":
                    signal.raise_signal(signal.SIGINT)
                    return FakeReply(text=echo_answer(messages), delay=max(delay, 2.0))
                return FakeReply(error=error, delay=delay)
        return FakeReply(text=echo_answer(messages), delay=delay)

    return ScriptedProvider(reply)


def tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` (``.git`` excluded) with its text, for comparing repositories."""
    return {
        str(p.relative_to(root)): p.read_text(encoding="utf-8", errors="replace")
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def prompts_of(provider: ScriptedProvider) -> list[str]:
    """The last message of every request that reached ``provider``."""
    return [call["request"].messages[-1]["content"] for call in provider.calls]
