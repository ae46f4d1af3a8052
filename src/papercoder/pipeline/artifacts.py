"""The planning artifacts as analysis and coding read them back from the run directory.

Both stages ground every request in the same context (paper, plan, design, logic, config),
rendered the same way each time from the files on disk, so a resumed run builds identical
requests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from papercoder.errors import InputError
from papercoder.llm import Message
from papercoder.rundir.paths import RunPaths
from papercoder.pipeline.inventory import Item, load_inventory
from papercoder.pipeline.requirements import Requirement, load_checklist, render_requirements, requirements_by_file
from papercoder.pipeline.schemas import Design, TaskPlan, load_design, load_tasks
from papercoder.pipeline.prefix import layered_messages
from papercoder.pipeline.window import Part, cut, fit_parts
from papercoder.prompts import render
from papercoder.tokens import CHARS_PER_TOKEN


# What gives way, in order, when a request made of the planning artifacts and a short instruction
# (an analysis, the interface skeleton) would not fit the context window.
CONTEXT_FIT_STEPS = [
    ("shortened the logic design", cut("logic")),
    ("shortened the overall plan", cut("plan")),
    ("shortened the design", cut("design")),
    ("shortened the paper", cut("paper", keep_chars=2000)),
]


@dataclass(frozen=True)
class PlanningArtifacts:
    """Everything the planning stage left on disk, read back."""

    paper: str
    plan: str
    design: Design
    tasks: TaskPlan
    config: str
    addendum: str = ""
    inventory: tuple[Item, ...] = ()
    interfaces: str = ""  # planning/interfaces.md: the skeleton every file is written against
    requirements: dict[str, tuple[Requirement, ...]] = field(default_factory=dict)  # by owning file (the checklist)

    def requirements_part(self, path: str, *, key: str = "requirements") -> list[Part]:
        """The requirements ``path`` owns, as a part of its own request (none: no part)."""
        owned = self.requirements.get(path, ())
        if not owned:
            return []
        title = f"Requirements {path} must meet (the checklist the code will be judged against)"
        return [Part(key, title, render_requirements(list(owned)))]

    def context_parts(self) -> list[Part]:
        """The shared context of analysis and coding prompts, in a fixed order; the skeleton last."""
        skeleton = [Part("interfaces", "Interface skeleton of the repository", self.interfaces.strip())] if self.interfaces.strip() else []
        return [*self.planning_parts(), *skeleton]

    def planning_parts(self) -> list[Part]:
        """The paper and the four planning answers, in a fixed order.

        The addendum comes right after the paper and is never shortened (no fitting step names it).
        """
        addendum = [Part("addendum", "Clarifications to the paper (they take precedence)", self.addendum)] if self.addendum else []
        return [
            Part("paper", "The paper", self.paper.strip()),
            *addendum,
            Part("plan", "Overall implementation plan", self.plan.strip()),
            Part("design", "Architecture design", render("planning/design_summary", design=self.design).strip()),
            Part("logic", "Logic design", render("planning/logic_summary", tasks=self.tasks).strip()),
            Part("config", "config.yaml", "```yaml\n" + self.config.strip() + "\n```"),
        ]


def shared_prefix(
    artifacts: PlanningArtifacts, *, window: int, reserve: int, what: str, note: Callable[[str], None] = lambda m: None
) -> list[Message]:
    """The run's shared prefix for a request whose own part needs about ``reserve`` tokens.

    The same leading messages as every analysis and code request (the paper and addendum, the plan,
    the skeleton), so the provider's cache serves them and the request sees the paper whole; in a
    window too small for that, the plan, then the paper, are shortened to fit, and that is noted.
    """
    placeholder = "x" * (reserve * CHARS_PER_TOKEN)

    def build(chosen: list[Part]) -> list[Message]:
        return layered_messages(chosen, lambda rest: placeholder)

    messages, taken = fit_parts(artifacts.context_parts(), build, window=window, min_output=0, steps=CONTEXT_FIT_STEPS, what=what)
    if taken:
        note(f"{what}: to fit the context window, " + "; ".join(taken))
    return messages[:-1]


def load_artifacts(paths: RunPaths) -> PlanningArtifacts:
    """Read the paper and the planning artifacts; a missing one is an error naming the stage to run."""
    required = [paths.paper, paths.plan, paths.design, paths.tasks, paths.config]
    missing = [p for p in required if not p.is_file()]
    if missing:
        names = ", ".join(str(p.relative_to(paths.root)) for p in missing)
        stage = "ingest the paper" if paths.paper in missing else "run the planning stage (papercoder plan RUN_DIR)"
        raise InputError(f"{names} missing in {paths.root}; {stage} first")
    try:
        design = load_design(paths.design)
        tasks = load_tasks(paths.tasks)
    except ValueError as exc:
        raise InputError(
            f"the planning artifacts in {paths.planning} are unreadable ({str(exc).splitlines()[0]}); "
            "run the planning stage again"
        ) from None
    return PlanningArtifacts(
        paper=paths.paper.read_text(encoding="utf-8"),
        plan=paths.plan.read_text(encoding="utf-8"),
        design=design,
        tasks=tasks,
        config=paths.config.read_text(encoding="utf-8"),
        addendum=read_addendum(paths),
        inventory=tuple(load_inventory(paths.inventory)),
        interfaces=paths.interfaces.read_text(encoding="utf-8") if paths.interfaces.is_file() else "",
        requirements=_owned_requirements(paths),
    )


def _owned_requirements(paths: RunPaths) -> dict[str, tuple[Requirement, ...]]:
    """Each planned file's requirements from ``planning/checklist.json``; none when there is none
    (a run planned before checklists came first) or it is unreadable (planning said so then)."""
    if not paths.checklist.is_file():
        return {}
    try:
        _, meta = load_checklist(paths.checklist)
    except (OSError, ValueError, InputError):
        return {}
    return {path: tuple(reqs) for path, reqs in requirements_by_file(meta).items()}


def read_addendum(paths: RunPaths) -> str:
    """The run's addendum (clarifications given with ``--addendum``), or ``""``."""
    try:
        return paths.addendum.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return ""


def paper_title(paper: str) -> str:
    """The first Markdown heading of the paper, or a neutral name."""
    for line in paper.splitlines():
        if line.startswith("# "):
            return line[2:].strip() or "Paper reproduction"
    return "Paper reproduction"
