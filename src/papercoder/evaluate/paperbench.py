"""Grading a rubric the way PaperBench's judge does (the protocol of SimpleJudge, in our own words).

For every leaf, three calls:

1. **Rank files.** The model sees the paper, the addendum, the criterion and the submission's file
   tree (files of the kinds the leaf's category reads; depth 4, then cut, when the tree is too
   long) and lists the ten files most relevant to the criterion.
2. **Judge.** The model sees the judge's instructions (with the judge addendum), the paper, the
   addendum, those files read whole in rank order up to the context left after the paper and a
   reserve, ``reproduce.sh`` (and ``reproduce.log`` for execution and result leaves; neither in
   Code-Dev mode), the preceding nodes of the tree (ancestors, their earlier siblings and the
   leaf's earlier siblings), the criterion, its category and the question for that category, and
   answers in free text: what it expected, what it found, a score.
3. **Parse.** A second model (the judge itself unless another is given) turns that text into
   ``{valid_score, score, explanation}``.

Result Analysis leaves read only documentation and the files written after ``reproduce.log`` was
created; when the run wrote none, or there is no ``reproduce.log``, they score 0 without a call.
Scores aggregate with :func:`papercoder.rubric.score_tree`, PaperBench's weighted mean.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, Field

from papercoder.evaluate.calls import CallOutcome, UsageTally
from papercoder.evaluate.judgecontext import paper_for_judge
from papercoder.evaluate.graded import GradeResult, LeafGrade
from papercoder.rubric import CODE_DEV, RubricNode, code_dev_only, score_tree
from papercoder.llm import LLM, LLMError, StructuredOutputError, TruncatedError
from papercoder.paper import Paper
from papercoder.tokens import estimate_tokens
from papercoder.prompts import render

STAGE = "grade"
MAX_FILES = 10
RESERVE_TOKENS = 10_000  # kept free of paper and files, as PaperBench's judge does (less on small windows)
FILE_MARGIN = 2_000
ANSWER_TOKENS = 4096
PAPER_SHARE = 0.5
BLOCKED_DIRS = ("venv", ".venv", ".env", "wandb", ".egg-info", ".git", ".github", "__pycache__", "node_modules", ".papercoder")
DOCS = {".md", ".txt", ".rst"}
CODE = {".py", ".R", ".Rmd", ".m", ".jl", ".c", ".h", ".cpp", ".hpp", ".cc", ".cxx", ".hxx", ".java", ".js", ".ts",
        ".scala", ".go", ".rs", ".sh", ".config", ".cfg", ".json", ".yaml", ".yml", ".toml", ".ini"}
TABLES = {".csv", ".tsv", ".psv", ".json", ".jsonl", ".html", ".xml", ".yaml", ".yml", ".toml", ".arff", ".tex",
          ".svm", ".libsvm"}
RESULT_ANALYSIS = "Result Analysis"
CODE_EXECUTION = "Code Execution"


class ParsedVerdict(BaseModel):
    """A judge's free-text answer, read back."""

    valid_score: bool = Field(description="Whether the answer states a clear score.")
    score: int = Field(description="The score: 1 when the criterion is met, 0 when it is not (0 when invalid).")
    explanation: str = Field(description="A short summary of the judge's reasons.")


# --- pure parts ------------------------------------------------------------------------------------


def prior_nodes(root: RubricNode, target: RubricNode, limit: int | None = None) -> list[RubricNode]:
    """Ancestors of ``target``, their preceding siblings and its own preceding siblings, root first;
    the last ``limit`` of them when given."""
    path: list[RubricNode] = []

    def find(node: RubricNode) -> bool:
        path.append(node)
        if node is target or any(find(child) for child in node.sub_tasks):
            return True
        path.pop()
        return False

    if not find(root) or len(path) < 2:
        return []
    found = [root]
    for parent, node in zip(path, path[1:]):
        index = next(i for i, child in enumerate(parent.sub_tasks) if child is node)
        found += parent.sub_tasks[: index + 1]
    found = found[:-1]  # not the target itself
    return found[-limit:] if limit else found


def file_tree(paths: list[str]) -> str:
    """``paths`` drawn as a directory tree with branch lines."""
    tree: dict = {}
    for path in paths:
        node = tree
        for part in Path(path).parts:
            node = node.setdefault(part, {})

    def draw(node: dict, prefix: str) -> list[str]:
        lines = []
        items = list(node.items())
        for index, (name, child) in enumerate(items):
            last = index == len(items) - 1
            lines.append(f"{prefix}{'└── ' if last else '├── '}{name}")
            if child:
                lines += draw(child, prefix + ("    " if last else "│   "))
        return lines

    return "\n".join(draw(tree, ""))


def parse_ranking(answer: str, known: set[str]) -> list[str]:
    """The files of ``known`` an answer lists, in its order, each once (numbering and quotes ignored)."""
    out: list[str] = []
    for line in (answer or "").splitlines():
        name = re.sub(r"^\s*(?:[-*+]|\d+[.)])\s*", "", line).strip().strip("`'\"").strip()
        name = name.removeprefix("./").strip("/")
        if name in known and name not in out:
            out.append(name)
    return out


def judge_files(root: Path, category: str | None, *, log_created: float | None = None, max_depth: int | None = None) -> list[str]:
    """The files a leaf of ``category`` may read, sorted: docs and code, or for Result Analysis docs
    and the tables written after ``log_created`` (seconds since the epoch)."""
    if category == RESULT_ANALYSIS:
        suffixes = DOCS | TABLES
    else:
        suffixes = DOCS | CODE
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root)
        if any(blocked in part for blocked in BLOCKED_DIRS for part in rel_dir.parts):
            dirnames[:] = []
            continue
        if max_depth is not None and len(rel_dir.parts) >= max_depth:
            dirnames[:] = []
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path.suffix not in suffixes or not path.is_file() or path.is_symlink():
                continue
            if category == RESULT_ANALYSIS and path.suffix not in DOCS:
                if log_created is None or path.stat().st_mtime < log_created:
                    continue
            found.append((rel_dir / name).as_posix())
    return sorted(found)


def log_creation_time(repo: Path) -> float | None:
    """When ``reproduce.log`` was created: from ``reproduce.log.creation_time`` (epoch seconds or an
    ISO time) when present, else the time of the repository's last commit (the code as submitted),
    else the log's own modification time; None without a log."""
    log = repo / "reproduce.log"
    if not log.is_file():
        return None
    marker = repo / "reproduce.log.creation_time"
    if marker.is_file():
        text = marker.read_text(encoding="utf-8", errors="replace").strip()
        try:
            return float(text)
        except ValueError:
            try:
                return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
            except ValueError:
                pass
    if (repo / ".git").exists():
        done = subprocess.run(["git", "-C", str(repo), "log", "-1", "--format=%ct"], capture_output=True, text=True, timeout=30)
        if done.returncode == 0 and done.stdout.strip().isdigit():
            return float(done.stdout.strip())
    return log.stat().st_mtime


# --- the judge -------------------------------------------------------------------------------------


@dataclass
class _Context:
    repo: Path
    paper: str
    addendum: str
    judge_addendum: str
    code_only: bool
    reproduce_sh: str
    reproduce_log: str
    log_created: float | None
    file_budget: int
    max_prior: int | None
    _listings: dict[str, tuple[list[str], str]] = field(default_factory=dict)

    def listing(self, category: str | None) -> tuple[list[str], str]:
        """The files a leaf of ``category`` may read and their tree as the ranking call shows it
        (depth 4, then cut, when too long); one walk of the repository per kind of leaf."""
        key = RESULT_ANALYSIS if category == RESULT_ANALYSIS else ""
        if key not in self._listings:
            files = judge_files(self.repo, category, log_created=self.log_created)
            tree = file_tree(files)
            if estimate_tokens(tree) > self.file_budget:
                tree = file_tree(judge_files(self.repo, category, log_created=self.log_created, max_depth=4))
            if estimate_tokens(tree) > self.file_budget:
                tree = tree[: self.file_budget * 4]
            self._listings[key] = (files, tree)
        return self._listings[key]


async def grade_paperbench(
    repo: Path,
    paper: Paper,
    rubric: RubricNode,
    llm: LLM,
    *,
    code_dev: bool = True,
    addendum: str = "",
    judge_addendum: str = "",
    parser: LLM | None = None,
    max_prior_nodes: int | None = None,
) -> GradeResult:
    """Grade every leaf of ``rubric`` with the three-call protocol (see the module doc)."""
    tree = code_dev_only(rubric) if code_dev else rubric
    if tree is None:
        from papercoder.errors import InputError

        raise InputError("the rubric has no Code Development leaves; grade it with --mode full")
    window = llm.context_window
    reserve = min(RESERVE_TOKENS, window // 8)
    paper_text, notes = paper_for_judge(paper, int(window * PAPER_SHARE))
    log = repo / "reproduce.log"
    log_text = "" if code_dev or not log.is_file() else log.read_text(encoding="utf-8", errors="replace")
    if log_text and estimate_tokens(log_text) > window // 4:
        log_text = log_text[: window] + "\n[... the rest of reproduce.log is cut ...]"
        notes.append("reproduce.log was cut to a quarter of the judge's context")
    sh = repo / "reproduce.sh"
    ctx = _Context(
        repo=repo, paper=paper_text, addendum=addendum.strip(), judge_addendum=judge_addendum.strip(), code_only=code_dev,
        reproduce_sh=sh.read_text(encoding="utf-8", errors="replace") if sh.is_file() else "(there is no reproduce.sh)",
        reproduce_log=log_text or "(there is no reproduce.log)", log_created=log_creation_time(repo),
        file_budget=max(0, window - estimate_tokens(paper_text) - estimate_tokens(log_text) - reserve - FILE_MARGIN - ANSWER_TOKENS),
        max_prior=max_prior_nodes,
    )
    parser = parser or llm
    tally = UsageTally()
    leaves = tree.leaves()

    async def one(leaf: RubricNode) -> LeafGrade:
        try:
            return await _grade_leaf(ctx, tree, leaf, llm, parser, tally)
        except LLMError as exc:  # a leaf whose calls failed scores 0, counted invalid
            tally.failed += 1
            return LeafGrade(id=leaf.id, score=0, explanation="", valid=False, error=str(exc))

    grades: dict[str, LeafGrade] = {}
    if leaves:  # the first leaf alone: its calls make the shared prefix (instructions, paper) cacheable
        grades[leaves[0].id] = await one(leaves[0])
    for grade in await asyncio.gather(*(one(leaf) for leaf in leaves[1:])):
        grades[grade.id] = grade
    scores = score_tree(tree, {i: g.score for i, g in grades.items()})
    if ctx.log_created is None and not code_dev:
        notes.append("no reproduce.log: reproduce.sh was not run, so every Result Analysis leaf scores 0")
    return GradeResult(tree=tree, grades=grades, scores=scores, code_dev=code_dev, model=llm.model, usage=tally, notes=notes)


async def _grade_leaf(ctx: _Context, tree: RubricNode, leaf: RubricNode, llm: LLM, parser: LLM, tally: UsageTally) -> LeafGrade:
    category = leaf.task_category
    if category == RESULT_ANALYSIS and not ctx.code_only:
        if ctx.log_created is None:
            return LeafGrade(id=leaf.id, score=0, explanation="There is no reproduce.log, so there are no reproduced results.", valid=True)
        if not any(Path(p).suffix not in DOCS for p in ctx.listing(category)[0]):
            return LeafGrade(id=leaf.id, score=0, explanation="reproduce.sh wrote no files, so there are no reproduced results.", valid=True)
    files, shown = await _relevant_files(ctx, leaf, llm, tally)
    messages = _judge_messages(ctx, tree, leaf, files)
    answer = await llm.acomplete(messages, max_tokens=ANSWER_TOKENS, stage=STAGE, allow_truncated=True)
    tally.add(CallOutcome(text=answer.text, completion=answer))
    parsed = await _parse(parser, answer.text, tally)
    score = parsed.score if parsed.valid_score and parsed.score in (0, 1) else 0
    return LeafGrade(id=leaf.id, score=score, explanation=parsed.explanation.strip(), valid=parsed.valid_score and parsed.score in (0, 1),
                     error="" if parsed.valid_score else "the judge's answer had no clear score", files=shown)


async def _relevant_files(ctx: _Context, leaf: RubricNode, llm: LLM, tally: UsageTally) -> tuple[str, list[str]]:
    """The ranked files' text for ``leaf`` (up to ten, whole, within the budget) and their paths."""
    candidates, tree_text = ctx.listing(leaf.task_category)
    messages = [
        {"role": "system", "content": render("evaluate/pb_rank_system")},
        {"role": "user", "content": render("evaluate/pb_paper", paper=ctx.paper)},
        {"role": "user", "content": render("evaluate/pb_addendum", addendum=ctx.addendum)},
        {"role": "user", "content": render("evaluate/pb_rank_request", criterion=leaf.requirements, tree=tree_text, count=MAX_FILES)},
    ]
    answer = await llm.acomplete(messages, max_tokens=1024, stage=STAGE, allow_truncated=True)
    tally.add(CallOutcome(text=answer.text, completion=answer))
    ranked = parse_ranking(answer.text, set(candidates))[:MAX_FILES]
    blocks, used, shown = [], 0, []
    for path in ranked:
        try:
            text = (ctx.repo / path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        block = f'<file path="{path}">\n{text.rstrip()}\n</file>'
        room = ctx.file_budget - used
        if estimate_tokens(block) > room:
            if room > 200:
                blocks.append(block[: room * 4] + "\n[... cut: no more room ...]")
                shown.append(path)
            break
        blocks.append(block)
        shown.append(path)
        used += estimate_tokens(block)
    return "\n\n".join(blocks) or "(no file could be read)", shown


def _judge_messages(ctx: _Context, tree: RubricNode, leaf: RubricNode, files: str) -> list[dict[str, str]]:
    category = leaf.task_category or ""
    messages = [
        {"role": "system", "content": render("evaluate/pb_judge_system", judge_addendum=ctx.judge_addendum, code_only=ctx.code_only)},
        {"role": "user", "content": render("evaluate/pb_paper", paper=ctx.paper)},
        {"role": "user", "content": render("evaluate/pb_addendum", addendum=ctx.addendum)},
        {"role": "user", "content": render("evaluate/pb_files", files=files, results=category == RESULT_ANALYSIS)},
    ]
    if not ctx.code_only:
        messages.append({"role": "user", "content": render("evaluate/pb_script", script="reproduce.sh", text=ctx.reproduce_sh)})
        if category != CODE_DEV:
            messages.append({"role": "user", "content": render("evaluate/pb_script", script="reproduce.log", text=ctx.reproduce_log)})
    messages.append({"role": "user", "content": render(
        "evaluate/pb_criterion", preceding=[n.requirements for n in prior_nodes(tree, leaf, ctx.max_prior)],
        criterion=leaf.requirements, category=category or "(none)", question=_QUESTIONS.get(category, _QUESTIONS[""]),
    )})
    messages.append({"role": "user", "content": render("evaluate/pb_grading")})
    return messages


_QUESTIONS = {
    CODE_DEV: "Does the submission's code implement what this criterion asks, correctly? Code counts, not a description or a plan; it need not have been run.",
    CODE_EXECUTION: "Did reproduce.sh actually run the code this criterion describes, as reproduce.log shows, and did it run as the paper intends?",
    RESULT_ANALYSIS: "Do the results reproduce.sh produced (its log and the files it wrote) show what this criterion states?",
    "": "Does the submission meet this criterion?",
}


async def _parse(parser: LLM, answer: str, tally: UsageTally) -> ParsedVerdict:
    """The judge's free text read back by the parsing model; invalid when it cannot be."""
    if not answer.strip():
        return ParsedVerdict(valid_score=False, score=0, explanation="the judge gave no answer")
    messages = [{"role": "system", "content": render("evaluate/pb_parse_system")}, {"role": "user", "content": answer}]
    try:
        completion = await parser.acomplete(messages, max_tokens=1024, schema=ParsedVerdict, stage=STAGE)
        tally.add(CallOutcome(text=completion.text, completion=completion))
    except (StructuredOutputError, TruncatedError):
        return ParsedVerdict(valid_score=False, score=0, explanation="the judge's answer could not be parsed")
    parsed = completion.parsed
    return parsed if isinstance(parsed, ParsedVerdict) else ParsedVerdict.model_validate(parsed)
