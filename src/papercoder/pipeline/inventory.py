"""The plan's inventory: every experiment, baseline, ablation, dataset, variant and metric.

PaperBench grades coverage (its rubrics name every experiment, baseline and dataset of a paper),
so the overall plan ends with one line per item the repository must implement, each with an ID
(``- [E1] experiment: Table 2, ... ``). The logic design says which file covers which ID; an ID
no file covers and no unclear point explains is sent back to the model, and if it stays
uncovered the run is degraded. The generated README maps every item to its files.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from papercoder.pipeline.schemas import TaskPlan

KINDS = {"E": "experiment", "B": "baseline", "A": "ablation", "D": "dataset", "V": "variant", "M": "metric"}
MAX_ITEMS = 300
# "- [E1] experiment: ...", "* **[B2]** baseline - ...", "1. [D1] ..."
_LINE = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s*\**\s*\[\s*([A-Za-z]{1,2})\s*-?\s*(\d{1,3})\s*\]\**\s*[:.\-–]?\s*(.+?)\s*$")
_KIND = re.compile(r"^\**\s*(" + "|".join(KINDS.values()) + r")s?\b\**\s*[:\-–]?\s*", re.I)


@dataclass(frozen=True)
class Item:
    """One inventory line: its ID (``E1``), kind (``experiment``) and text."""

    id: str
    kind: str
    text: str


def parse_inventory(plan: str) -> list[Item]:
    """The inventory lines of an overall plan, in order, one per ID (the first wins)."""
    items: list[Item] = []
    seen: set[str] = set()
    for line in plan.splitlines():
        match = _LINE.match(line)
        if not match:
            continue
        ident = f"{match.group(1).upper()}{int(match.group(2))}"
        if ident in seen:
            continue
        text = match.group(3).strip()
        kind_match = _KIND.match(text)
        kind = kind_match.group(1).lower() if kind_match else KINDS.get(ident[0], "item")
        text = text[kind_match.end() :].strip() if kind_match and text[kind_match.end() :].strip() else text
        seen.add(ident)
        items.append(Item(ident, kind, text))
        if len(items) >= MAX_ITEMS:
            break
    return items


def uncovered(items: list[Item], plan: TaskPlan, explained: list[str]) -> list[Item]:
    """Items no file's ``covers`` names and no unclear point mentions by ID."""
    covered = {ident.strip().upper() for entry in plan.logic_analysis for ident in entry.covers}
    said = " ".join(explained).upper()
    return [item for item in items if item.id not in covered and not re.search(rf"\b{item.id}\b", said)]


def files_covering(item: Item, plan: TaskPlan) -> list[str]:
    return [entry.path for entry in plan.logic_analysis if item.id in {c.strip().upper() for c in entry.covers}]


def save_inventory(path: Path, items: list[Item]) -> None:
    from papercoder.repo.paths import write_inside

    write_inside(path.parent, path.name, json.dumps([asdict(i) for i in items], indent=2, ensure_ascii=False) + "\n")


def load_inventory(path: Path) -> list[Item]:
    """The saved inventory; none when the file is missing or unreadable (older runs)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [Item(str(d["id"]), str(d["kind"]), str(d["text"])) for d in data]
    except (OSError, ValueError, KeyError, TypeError):
        return []
