"""Mermaid class and sequence diagrams: parsed (planning checks them) and drawn as SVG (the report).

The planning stage asks for exactly these two kinds of diagram, in the part of Mermaid's syntax
that design answers use: classes with members and relations (with labels and cardinalities);
participants, actors, messages of every arrow kind, notes, activations and the loop/alt/opt/par
blocks. Drawing them here keeps the report one small static file that needs no script at all
(Mermaid's own renderer is a 3 MB script), at the price of a plainer layout: classes on a grid
with straight relation lines, participants in a row. A line the parser does not understand makes
the whole diagram fail with its line number, so the report can show the source and the reason
instead of a wrong picture.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from html import escape


class DiagramError(ValueError):
    """The diagram's source does not parse; the message names the line."""


_CHAR = 7.0  # px per character at the 12 px font the drawings use
_LINE = 16.0  # px per line of text inside a class box


def _width(text: str) -> float:
    return len(text) * _CHAR


def render(source: str) -> str:
    """An ``<svg>`` element for a class or sequence diagram; :class:`DiagramError` if it does not parse."""
    diagram = _parse(source)
    return _draw_classes(diagram) if isinstance(diagram, ClassDiagram) else _draw_sequence(diagram)


def check_diagram(source: str) -> None:
    """Parse a class or sequence diagram without drawing it; :class:`DiagramError` if it does not parse."""
    _parse(source)


def _parse(source: str) -> "ClassDiagram | SequenceDiagram":
    lines = _lines(source)
    if not lines:
        raise DiagramError("the diagram is empty")
    kind = lines[0][1].split()[0]
    if kind == "classDiagram":
        return parse_class_diagram(lines)
    if kind == "sequenceDiagram":
        return parse_sequence_diagram(lines)
    raise DiagramError(f"line {lines[0][0]}: {kind!r} is not a class or sequence diagram")


def _lines(source: str) -> list[tuple[int, str]]:
    """(line number, text) of the lines that say something (comments and blanks dropped)."""
    out = []
    for number, raw in enumerate(source.splitlines(), start=1):
        text = raw.strip()
        if text and not text.startswith("%%") and not text.startswith("```"):
            out.append((number, text))
    return out


# ---------------------------------------------------------------- class diagrams

@dataclass
class ClassBox:
    name: str
    members: list[str] = field(default_factory=list)  # attributes and methods, as written
    annotation: str = ""  # <<interface>> and the like


@dataclass
class Relation:
    left: str
    right: str
    arrow: str  # the Mermaid operator, e.g. "<|--", "-->", "*--"
    label: str = ""


@dataclass
class ClassDiagram:
    classes: dict[str, ClassBox] = field(default_factory=dict)
    relations: list[Relation] = field(default_factory=list)


_NAME = r"[A-Za-z_][\w.]*(?:~[^~]+~)?"
_ARROWS = ["<|--", "--|>", "<|..", "..|>", "*--", "--*", "o--", "--o", "<--", "-->", "<..", "..>", "--", ".."]
_RELATION = re.compile(
    rf'^({_NAME})\s*(?:"([^"]*)"\s*)?({"|".join(re.escape(a) for a in _ARROWS)})\s*(?:"([^"]*)"\s*)?({_NAME})\s*(?::\s*(.*))?$'
)
_CLASS_OPEN = re.compile(rf"^class\s+({_NAME})\s*(?:\[\"?([^\]\"]*)\"?\])?\s*(\{{)?\s*(\}})?$")
_MEMBER = re.compile(rf"^({_NAME})\s*:\s*(.+)$")
_ANNOTATION = re.compile(rf"^<<([^>]+)>>\s*({_NAME})?$")
_IGNORED = re.compile(r"^(?:direction\s+(?:TB|BT|LR|RL)|note\b.*|click\b.*|link\b.*|style\b.*|classDef\b.*|cssClass\b.*|callback\b.*|namespace\b.*\{|\})$")


def parse_class_diagram(lines: list[tuple[int, str]]) -> ClassDiagram:
    """Classes, members and relations of a ``classDiagram``."""
    diagram = ClassDiagram()
    current: ClassBox | None = None

    def box(name: str) -> ClassBox:
        name = name.split("~")[0]
        return diagram.classes.setdefault(name, ClassBox(name))

    for number, text in lines[1:]:
        if current is not None:
            if text == "}":
                current = None
                continue
            annotation = _ANNOTATION.match(text)
            if annotation:
                current.annotation = annotation.group(1)
            else:
                current.members.append(text)
            continue
        opened = _CLASS_OPEN.match(text)
        if opened:
            found = box(opened.group(1))
            if opened.group(3) and not opened.group(4):
                current = found
            continue
        relation = _RELATION.match(text)
        if relation:
            left, _, arrow, _, right, label = relation.groups()
            box(left), box(right)
            diagram.relations.append(Relation(left.split("~")[0], right.split("~")[0], arrow, (label or "").strip()))
            continue
        annotation = _ANNOTATION.match(text)
        if annotation and annotation.group(2):
            box(annotation.group(2)).annotation = annotation.group(1)
            continue
        member = _MEMBER.match(text)
        if member:
            box(member.group(1)).members.append(member.group(2).strip())
            continue
        if _IGNORED.match(text):
            continue
        raise DiagramError(f"line {number}: cannot read {text!r} in a class diagram")
    if current is not None:
        raise DiagramError(f"the class {current.name} is opened with '{{' and never closed")
    if not diagram.classes:
        raise DiagramError("the class diagram names no class")
    return diagram


def _draw_classes(diagram: ClassDiagram) -> str:
    boxes = list(diagram.classes.values())
    columns = max(1, math.ceil(math.sqrt(len(boxes))))
    sizes = []
    for item in boxes:
        texts = [item.name] + item.members + ([f"«{item.annotation}»"] if item.annotation else [])
        width = max(120.0, max(_width(t) for t in texts) + 20)
        height = _LINE * (len(item.members) + (2 if item.annotation else 1)) + 18 + (8 if item.members else 0)
        sizes.append((width, height))
    col_width = [0.0] * columns
    rows = math.ceil(len(boxes) / columns)
    row_height = [0.0] * rows
    for index, (w, h) in enumerate(sizes):
        col_width[index % columns] = max(col_width[index % columns], w)
        row_height[index // columns] = max(row_height[index // columns], h)
    gap = 70.0
    place: dict[str, tuple[float, float, float, float]] = {}
    parts: list[str] = []
    for index, item in enumerate(boxes):
        column, row = index % columns, index // columns
        x = 20 + sum(col_width[:column]) + gap * column
        y = 20 + sum(row_height[:row]) + gap * row
        w, h = sizes[index]
        place[item.name] = (x, y, w, h)
        parts.append(f'<g class="class"><rect x="{x:.0f}" y="{y:.0f}" width="{w:.0f}" height="{h:.0f}" rx="3"/>')
        top = y + 16
        if item.annotation:
            parts.append(_text(x + w / 2, top, f"«{item.annotation}»", anchor="middle", cls="annotation"))
            top += _LINE
        parts.append(_text(x + w / 2, top, item.name, anchor="middle", cls="name"))
        if item.members:
            parts.append(f'<line x1="{x:.0f}" y1="{top + 6:.0f}" x2="{x + w:.0f}" y2="{top + 6:.0f}"/>')
            for k, member in enumerate(item.members):
                parts.append(_text(x + 8, top + 6 + _LINE * (k + 1), member))
        parts.append("</g>")
    for relation in diagram.relations:
        parts.append(_draw_relation(relation, place[relation.left], place[relation.right]))
    width = 40 + sum(col_width) + gap * (columns - 1)
    height = 40 + sum(row_height) + gap * (rows - 1)
    return _svg(width, height, "".join(parts), "class-diagram")


def _edge_point(box: tuple[float, float, float, float], toward: tuple[float, float]) -> tuple[float, float]:
    """Where the line from the box's centre to ``toward`` leaves the box."""
    x, y, w, h = box
    cx, cy = x + w / 2, y + h / 2
    dx, dy = toward[0] - cx, toward[1] - cy
    if dx == 0 and dy == 0:
        return cx, cy
    scale = min((w / 2) / abs(dx) if dx else math.inf, (h / 2) / abs(dy) if dy else math.inf)
    return cx + dx * scale, cy + dy * scale


_MARKERS = {"<|": "triangle", "|>": "triangle", "*": "diamond-filled", "o": "diamond", "<": "arrow", ">": "arrow"}


def _draw_relation(relation: Relation, left: tuple, right: tuple) -> str:
    lc = (left[0] + left[2] / 2, left[1] + left[3] / 2)
    rc = (right[0] + right[2] / 2, right[1] + right[3] / 2)
    start, end = _edge_point(left, rc), _edge_point(right, lc)
    arrow = relation.arrow
    dashed = ".." in arrow
    body = arrow.replace("--", " ").replace("..", " ")
    head_left, _, head_right = body.partition(" ")
    attrs = ' stroke-dasharray="5,4"' if dashed else ""
    if head_left in _MARKERS:
        attrs += f' marker-start="url(#{_MARKERS[head_left]})"'
    if head_right in _MARKERS:
        attrs += f' marker-end="url(#{_MARKERS[head_right]})"'
    line = (f'<line class="relation" x1="{start[0]:.0f}" y1="{start[1]:.0f}" x2="{end[0]:.0f}" y2="{end[1]:.0f}"{attrs}/>')
    if relation.label:
        mx, my = (start[0] + end[0]) / 2, (start[1] + end[1]) / 2
        line += _text(mx, my - 4, relation.label, anchor="middle", cls="label")
    return line


# ---------------------------------------------------------------- sequence diagrams

@dataclass
class Participant:
    key: str
    label: str
    actor: bool = False


@dataclass
class Step:
    kind: str  # "message", "note", "open" (a block starts), "branch" (else/and), "close"
    text: str = ""
    source: str = ""
    target: str = ""
    arrow: str = ""
    over: list[str] = field(default_factory=list)


@dataclass
class SequenceDiagram:
    participants: dict[str, Participant] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)


_PARTICIPANT = re.compile(r"^(participant|actor)\s+(.+?)(?:\s+as\s+(.+))?$")
_SEQ_ARROWS = ["-->>", "->>", "-->", "->", "--x", "-x", "--)", "-)"]
_MESSAGE = re.compile(rf'^(.+?)\s*({"|".join(re.escape(a) for a in _SEQ_ARROWS)})\s*([+-]?)\s*(.+?)\s*(?::\s*(.*))?$')
_NOTE = re.compile(r"^note\s+(over|left of|right of)\s+([^:]+?)\s*:\s*(.*)$", re.IGNORECASE)
_BLOCK = re.compile(r"^(loop|alt|opt|par|critical|break|rect|box)\b\s*(.*)$")
_BRANCH = re.compile(r"^(else|and|option)\b\s*(.*)$")
_SEQ_IGNORED = re.compile(r"^(?:autonumber\b.*|activate\s+.+|deactivate\s+.+|title\b.*|create\s+.+|destroy\s+.+)$")


def parse_sequence_diagram(lines: list[tuple[int, str]]) -> SequenceDiagram:
    """Participants and steps of a ``sequenceDiagram``."""
    diagram = SequenceDiagram()
    depth = 0

    def who(name: str) -> str:
        name = name.strip()
        diagram.participants.setdefault(name, Participant(name, name))
        return name

    for number, text in lines[1:]:
        declared = _PARTICIPANT.match(text)
        if declared:
            key = declared.group(2).strip()
            diagram.participants[key] = Participant(key, (declared.group(3) or key).strip(), declared.group(1) == "actor")
            continue
        message = _MESSAGE.match(text)
        if message:
            source, arrow, _, target, words = message.groups()
            diagram.steps.append(Step("message", (words or "").strip(), who(source), who(target), arrow))
            continue
        note = _NOTE.match(text)
        if note:
            over = [who(name) for name in note.group(2).split(",")]
            diagram.steps.append(Step("note", note.group(3).strip(), over=over))
            continue
        block = _BLOCK.match(text)
        if block:
            depth += 1
            diagram.steps.append(Step("open", f"{block.group(1)} {block.group(2)}".strip()))
            continue
        branch = _BRANCH.match(text)
        if branch:
            if not depth:
                raise DiagramError(f"line {number}: {branch.group(1)!r} outside a block")
            diagram.steps.append(Step("branch", f"{branch.group(1)} {branch.group(2)}".strip()))
            continue
        if text == "end":
            if not depth:
                raise DiagramError(f"line {number}: 'end' closes no block")
            depth -= 1
            diagram.steps.append(Step("close"))
            continue
        if _SEQ_IGNORED.match(text):
            continue
        raise DiagramError(f"line {number}: cannot read {text!r} in a sequence diagram")
    if depth:
        raise DiagramError(f"{depth} block(s) opened with loop/alt/opt/par are never closed with 'end'")
    if not diagram.participants:
        raise DiagramError("the sequence diagram names no participant")
    return diagram


def _draw_sequence(diagram: SequenceDiagram) -> str:
    people = list(diagram.participants.values())
    spacing = max(150.0, max(_width(p.label) for p in people) + 40)
    for step in diagram.steps:  # a long message between neighbours widens the columns
        if step.kind == "message":
            span = abs(people.index(diagram.participants[step.target]) - people.index(diagram.participants[step.source]))
            if span:
                spacing = max(spacing, (_width(step.text) + 30) / span)
    spacing = min(spacing, 420.0)
    x = {p.key: 30 + spacing * (k + 0.5) for k, p in enumerate(people)}
    parts: list[str] = []
    y = 70.0
    blocks: list[tuple[float, str, list[float]]] = []  # (top, label, branch ys)
    body: list[str] = []
    for step in diagram.steps:
        if step.kind == "message":
            x1, x2 = x[step.source], x[step.target]
            dash = ' stroke-dasharray="5,4"' if step.arrow.startswith("--") else ""
            marker = "cross" if step.arrow.endswith("x") else "arrow" if step.arrow.endswith(">>") or step.arrow.endswith(")") else "open"
            if x1 == x2:  # a message to itself: a small loop to the right
                body.append(f'<path class="message" d="M{x1:.0f},{y:.0f} h30 v14 h-30"'
                            f'{dash} marker-end="url(#{marker})"/>')
                body.append(_text(x1 + 36, y + 4, step.text, cls="label"))
                y += 40
                continue
            body.append(f'<line class="message" x1="{x1:.0f}" y1="{y:.0f}" x2="{x2:.0f}" y2="{y:.0f}"'
                        f'{dash} marker-end="url(#{marker})"/>')
            body.append(_text((x1 + x2) / 2, y - 6, step.text, anchor="middle", cls="label"))
            y += 36
        elif step.kind == "note":
            xs = [x[name] for name in step.over]
            left, right = min(xs) - 60, max(xs) + 60
            width = max(right - left, _width(step.text) + 16)
            centre = (min(xs) + max(xs)) / 2
            body.append(f'<rect class="note" x="{centre - width / 2:.0f}" y="{y - 14:.0f}" width="{width:.0f}" height="24"/>')
            body.append(_text(centre, y + 2, step.text, anchor="middle"))
            y += 36
        elif step.kind == "open":
            blocks.append((y - 6, step.text, []))
            y += 24
        elif step.kind == "branch":
            blocks[-1][2].append(y - 6)
            body.append(f'<line class="branch" x1="20" y1="{y - 6:.0f}" x2="{30 + spacing * len(people):.0f}" y2="{y - 6:.0f}"/>')
            body.append(_text(40, y + 8, "[" + step.text + "]", cls="label"))
            y += 24
        elif step.kind == "close":
            top, label, _ = blocks.pop()
            inset = 6 * len(blocks)
            body.append(f'<rect class="block" x="{20 + inset}" y="{top:.0f}" width="{10 + spacing * len(people) - 2 * inset:.0f}" height="{y - top:.0f}"/>')
            body.append(_text(26 + inset, top + 14, label, cls="block-label"))
            y += 12
    bottom = y + 10
    for person in people:
        cx = x[person.key]
        w = max(100.0, _width(person.label) + 20)
        parts.append(f'<line class="lifeline" x1="{cx:.0f}" y1="44" x2="{cx:.0f}" y2="{bottom:.0f}"/>')
        for top in (10.0, bottom):
            parts.append(f'<rect class="participant{" actor" if person.actor else ""}" x="{cx - w / 2:.0f}" y="{top:.0f}" width="{w:.0f}" height="32" rx="3"/>')
            parts.append(_text(cx, top + 20, person.label, anchor="middle", cls="name"))
    return _svg(60 + spacing * len(people), bottom + 50, "".join(parts + body), "sequence-diagram")


# ---------------------------------------------------------------- SVG pieces

_DEFS = (
    "<defs>"
    '<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker>'
    '<marker id="open" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10" fill="none"/></marker>'
    '<marker id="cross" viewBox="0 0 10 10" refX="5" refY="5" markerWidth="8" markerHeight="8"><path d="M0,0 L10,10 M10,0 L0,10" fill="none"/></marker>'
    '<marker id="triangle" viewBox="0 0 12 12" refX="11" refY="6" markerWidth="12" markerHeight="12" orient="auto-start-reverse"><path d="M0,0 L12,6 L0,12 z" class="hollow"/></marker>'
    '<marker id="diamond" viewBox="0 0 16 10" refX="15" refY="5" markerWidth="14" markerHeight="10" orient="auto-start-reverse"><path d="M0,5 L8,0 L16,5 L8,10 z" class="hollow"/></marker>'
    '<marker id="diamond-filled" viewBox="0 0 16 10" refX="15" refY="5" markerWidth="14" markerHeight="10" orient="auto-start-reverse"><path d="M0,5 L8,0 L16,5 L8,10 z"/></marker>'
    "</defs>"
)


def _svg(width: float, height: float, content: str, cls: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="diagram {cls}" viewBox="0 0 {width:.0f} {height:.0f}" '
            f'width="{width:.0f}" height="{height:.0f}" role="img">{_DEFS}{content}</svg>')


def _text(x: float, y: float, text: str, *, anchor: str = "start", cls: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return f'<text x="{x:.0f}" y="{y:.0f}" text-anchor="{anchor}"{klass}>{escape(text)}</text>'
