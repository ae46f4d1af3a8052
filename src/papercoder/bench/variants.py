"""Variants of papercoder's options, named on the command line: ``--variant paper="--analysis-group 1"``.

A variant is a name and a few ``papercoder run`` options; each paper runs under each variant, so a
user can measure the trade-offs of papercoder's defaults instead of trusting them.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

from papercoder.errors import InputError

# option -> (RunOptions field, kind); what a variant may change
OPTIONS: dict[str, tuple[str, type]] = {
    "-m": ("model", str), "--model": ("model", str), "--base-url": ("base_url", str),
    "--analysis-group": ("analysis_group", int), "--coding": ("coding", str), "--verify-rounds": ("verify_rounds", int),
    "--debug-iterations": ("debug_iterations", int), "--judge-model": ("judge_model", str),
    "--context-window": ("context_window", int), "--concurrency": ("concurrency", int), "--stages": ("stages", str),
    "--max-figures": ("max_figures", int),
}


@dataclass
class Variant:
    """A name and the run options it sets (``stages`` is passed apart, as ``run_paper`` takes it)."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)
    text: str = ""


def parse_variant(spec: str) -> Variant:
    """``NAME="--opt value ..."`` (or ``NAME=`` for papercoder's defaults); one line when it is wrong."""
    name, sep, rest = spec.partition("=")
    name = name.strip()
    if not sep or not name or not all(c.isalnum() or c in "-_." for c in name):
        raise InputError(f"--variant {spec!r}: write NAME=\"OPTIONS\", e.g. --variant paper=\"--analysis-group 1\"")
    rest = rest.strip()
    if len(rest) >= 2 and rest[0] == rest[-1] and rest[0] in "\"'":  # the quotes, when no shell took them off
        rest = rest[1:-1]
    try:
        words = shlex.split(rest)
    except ValueError as exc:
        raise InputError(f"--variant {name}: its options do not parse ({exc})") from None
    options: dict[str, Any] = {}
    i = 0
    while i < len(words):
        option = words[i]
        if option not in OPTIONS:
            raise InputError(f"--variant {name}: unknown option {option!r}; a variant may set {', '.join(sorted(OPTIONS))}")
        if i + 1 >= len(words):
            raise InputError(f"--variant {name}: {option} needs a value")
        key, kind = OPTIONS[option]
        try:
            options[key] = kind(words[i + 1])
        except ValueError:
            raise InputError(f"--variant {name}: {option} takes a {kind.__name__}, not {words[i + 1]!r}") from None
        i += 2
    return Variant(name, options, rest.strip())
