"""After the coding wave: check the files against each other and repair what disagrees.

Files written at the same time agree only as far as each followed the skeleton. Before the
debug stage runs anything, the static checks that compare files (imports of local names, calls
and their arguments, attributes, config keys read without a default) run on the repository;
mismatches go to the debugging stage's SEARCH/REPLACE repair once, with the skeleton as the
contract. The code as written and the repaired code are two git commits, and
``coding/consistency.json`` records what was found before and after.
"""

from __future__ import annotations

import json

from papercoder.pipeline.artifacts import PlanningArtifacts, shared_prefix
from papercoder.rundir.context import StageContext
from papercoder.pipeline.repair import blocking_findings, repair_findings, reserve_for
from papercoder.repo import git
from papercoder.repo.checks import Finding, check_repository
from papercoder.repo.paths import write_inside

STAGE = "coding"
KINDS = ("local-import", "interface", "config-key")


def mismatches(findings: list[Finding]) -> list[Finding]:
    """The findings that are disagreements between files (or between code and config.yaml)."""
    return [f for f in blocking_findings(findings) if f.kind in KINDS]


async def reconcile(ctx: StageContext, artifacts: PlanningArtifacts) -> list[Finding]:
    """Check ``ctx.paths.repo``; repair mismatches once; returns the ones that remain."""
    repo = ctx.paths.repo
    before = mismatches(check_repository(repo))
    record: dict = {"before": [f.to_dict() for f in before], "applied": [], "failed": [], "after": []}
    if not before:
        _save(ctx, record)
        return []
    ctx.note(f"coding: {len(before)} mismatch(es) between files; one repair round before debugging")
    git.ensure_repository(repo, "papercoder: the code as written")
    prefix = shared_prefix(artifacts, window=ctx.llm.context_window, reserve=reserve_for(repo, ctx.llm.context_window),
                           what="coding (consistency repair)", note=ctx.note)
    applied, failed, transcript = await repair_findings(
        ctx.llm, repo, before, prefix, reference=artifacts.interfaces.strip(), stage=STAGE
    )
    record["applied"], record["failed"] = applied, failed
    write_inside(ctx.paths.coding, "consistency-model.md", transcript)
    after = mismatches(check_repository(repo))
    record["after"] = [f.to_dict() for f in after]
    git.commit_all(repo, f"papercoder coding: reconcile {len(before)} mismatch(es) between files ({len(after)} left)")
    _save(ctx, record)
    if after:
        shown = "; ".join(str(f) for f in after[:3]) + (" ..." if len(after) > 3 else "")
        ctx.degrade(f"coding: {len(after)} mismatch(es) between files remain after a repair round ({shown}); see coding/consistency.json")
    else:
        ctx.note(f"coding: repaired {len(before)} mismatch(es) between files")
    return after


def _save(ctx: StageContext, record: dict) -> None:
    write_inside(ctx.paths.coding, "consistency.json", json.dumps(record, indent=2) + "\n")
