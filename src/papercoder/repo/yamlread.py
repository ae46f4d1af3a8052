"""Reading YAML that a model wrote, with bounds: ``config.yaml`` is data, not a puzzle.

``yaml.safe_load`` executes nothing, but an alias tree ("billion laughs") expands to billions of
nodes and a recursive alias (``a: &x {self: *x}``) makes a structure that never ends. Configs
of papers use a few anchors at most, so a document with more aliases than :data:`MAX_ALIASES`
or longer than :data:`MAX_CHARS`, or whose aliases expand past :data:`MAX_NODES` values, is refused
with a message, and so is one that refers to itself.
"""

from __future__ import annotations

import re

from typing import Any

import yaml

MAX_CHARS = 1_000_000
MAX_ALIASES = 100
MAX_NODES = 100_000  # values after aliases are expanded


class YamlLimitError(yaml.YAMLError):
    """A YAML document refused for its size, its aliases, or a recursive structure."""


def load_yaml(text: str) -> Any:
    """``yaml.safe_load(text)`` within the limits above; ``yaml.YAMLError`` when it fails them."""
    if len(text) > MAX_CHARS:
        raise YamlLimitError(f"the document has {len(text):,} characters; at most {MAX_CHARS:,} are read")
    _check_depth(text)  # before PyYAML, whose scanner slows to a crawl on deep flow nesting
    try:
        return _load(text)
    except RecursionError:
        raise YamlLimitError("the document nests too deeply to read") from None


MAX_DEPTH = 64  # nesting levels; a config has a handful


def _check_depth(text: str) -> None:
    """Refuse a document that nests flow collections (``[``, ``{``) or indentation deeper than
    MAX_DEPTH, counted in one pass without parsing (quoted text aside)."""
    depth = 0
    quote = ""
    for char in text:
        if quote:
            if char == quote or char == "\n":
                quote = ""
        elif char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise YamlLimitError(f"the document nests deeper than {MAX_DEPTH} levels; a config has a handful")
        elif char in "]}":
            depth = max(0, depth - 1)
    widest = max((len(line) - len(line.lstrip(" ")) for line in text.splitlines()), default=0)
    if widest > MAX_DEPTH * 8:
        raise YamlLimitError(f"the document is indented {widest} spaces deep; a config has a handful of levels")


def _load(text: str) -> Any:
    aliases = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise YamlLimitError(f"the document uses more than {MAX_ALIASES} aliases (*name); write the values out")
    data = yaml.safe_load(text)
    if aliases and _recursive(data):
        raise YamlLimitError("the document refers to itself through an alias; write the values out")
    if aliases and _expanded_size(data, {}) > MAX_NODES:
        raise YamlLimitError(f"its aliases expand to more than {MAX_NODES:,} values; write the values out")
    return data


def _expanded_size(node: Any, sizes: dict[int, int]) -> int:
    """How many values ``node`` holds with every alias written out (memoised: shared parts count once per use)."""
    if not isinstance(node, (dict, list)):
        return 1
    if id(node) not in sizes:
        children = node.values() if isinstance(node, dict) else node
        sizes[id(node)] = 1 + sum(_expanded_size(child, sizes) for child in children)
    return sizes[id(node)]


def _recursive(root: Any) -> bool:
    """True when a container contains itself; each shared container is walked once."""
    finished: set[int] = set()
    on_path: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        if not isinstance(node, (dict, list)):
            continue
        if leaving:
            on_path.discard(id(node))
            finished.add(id(node))
            continue
        if id(node) in on_path:
            return True
        if id(node) in finished:
            continue
        on_path.add(id(node))
        stack.append((node, True))
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, (dict, list)) and id(child) in on_path:
                return True
            stack.append((child, False))
    return False


# A number YAML 1.1 (PyYAML) reads as a string: an exponent without a dot or without a sign
# ("1e-4", "5E3", "1.5e5"). Papers write learning rates and weight decays this way; code then
# computes with '1e-4'. YAML 1.1 wants "1.0e-4", "5.0e+3", "1.5e+5".
_STRING_NUMBER = re.compile(
    r"^(?P<lead>\s*(?:-\s+|[^#'\"\n]*?:\s+))(?P<num>[+-]?\d+)(?:\.(?P<frac>\d*))?[eE](?P<sign>[+-]?)(?P<exp>\d+)"
    r"(?P<tail>\s*(?:#.*)?)$", re.M)


def _fixed(m: re.Match) -> str:
    return f"{m['num']}.{m['frac'] or '0'}e{m['sign'] or '+'}{m['exp']}"


def _needs_fix(m: re.Match) -> bool:
    return m["frac"] is None or not m["sign"]


def numbers_as_numbers(text: str) -> str:
    """``text`` with every plain scalar like ``1e-4`` written ``1.0e-4``, which loads as a float."""
    return _STRING_NUMBER.sub(lambda m: f"{m['lead']}{_fixed(m)}{m['tail']}" if _needs_fix(m) else m[0], text)


def string_numbers(text: str) -> list[tuple[int, str, str]]:
    """(line, value, how to write it) of every plain scalar that looks like a number but loads as a string."""
    return [(text.count("\n", 0, m.start()) + 1, m[0][len(m["lead"]):].split("#")[0].strip(), _fixed(m))
            for m in _STRING_NUMBER.finditer(text) if _needs_fix(m)]
