"""``manifest.json``: what a run directory holds, so a resumed run knows where to pick up.

The manifest is the only place with wall-clock timestamps: prompts and generated files never
see them, so a resumed run sends byte-identical requests and the call log can answer them.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from papercoder import __version__
from papercoder.errors import InputError, PapercoderError

class RunDirectoryError(PapercoderError):
    """The run directory cannot be written (a full disk, no permission)."""


# A stage that finished: ``done`` with everything asked for, ``degraded`` when a fallback fired,
# something came out cut, empty or unparsable, or (debug) the code does not pass its smoke run.
FINISHED = ("done", "degraded")


def now() -> str:
    """UTC wall-clock time, ISO 8601, to the second."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass
class StageRecord:
    """One stage's entry in the manifest."""

    status: str = "pending"  # pending, running, done, degraded, failed, interrupted
    started: str | None = None
    finished: str | None = None
    seconds: float = 0.0  # wall time of the last attempt
    detail: dict[str, Any] = field(default_factory=dict)  # e.g. the debug stage's outcome


@dataclass
class Manifest:
    """The state of one run directory, written after every change of state."""

    source: str = ""
    model: str | None = None
    base_url: str | None = None
    title: str = ""
    papercoder_version: str = __version__
    status: str = "new"  # new, running, done, degraded, failed, interrupted
    created: str = field(default_factory=now)
    updated: str = field(default_factory=now)
    paper: dict[str, Any] = field(default_factory=dict)  # format, tokens, how it was fitted
    stages: dict[str, StageRecord] = field(default_factory=dict)
    totals: dict[str, Any] = field(default_factory=dict)  # per stage label, from the call log
    error: str | None = None

    def arrange(self, names: tuple[str, ...] | list[str]) -> None:
        """Hold a record for each stage of ``names``, in that order (the engine's stage table);
        the manifest itself knows no stage names, so every method below follows this order."""
        ordered = {name: self.stage(name) for name in names}
        ordered.update(self.stages)
        self.stages = ordered

    @property
    def stages_done(self) -> list[str]:
        return [s for s, record in self.stages.items() if record.status in FINISHED]

    def fallbacks(self, only: str | None = None) -> list[tuple[str, str]]:
        """``(stage, message)`` for every fallback recorded by the finished stages (or stage ``only``)."""
        return [
            (s, str(message))
            for s in ((only,) if only else list(self.stages))
            if self.stage(s).status == "degraded"
            for message in (self.stage(s).detail.get("fallbacks") or [])
        ]

    def outcome(self) -> str:
        """``degraded`` when any finished stage is, else ``done``."""
        return "degraded" if any(record.status == "degraded" for record in self.stages.values()) else "done"

    def stage(self, name: str) -> StageRecord:
        return self.stages.setdefault(name, StageRecord())

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["stages_done"] = self.stages_done
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Manifest":
        """The manifest in ``data``; ``ValueError`` saying what is wrong when its shape is not a manifest's."""
        if not isinstance(data, dict):
            raise ValueError(f"it holds a {type(data).__name__}, not an object")
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        stages_data = known.pop("stages", None)
        stages_data = {} if stages_data is None else stages_data
        if not isinstance(stages_data, dict) or not all(isinstance(r, dict) for r in stages_data.values()):
            raise ValueError("its stages are not objects")
        for name, kind in (("paper", dict), ("totals", dict), ("status", str), ("source", str), ("title", str)):
            if name in known and not isinstance(known[name], kind):
                raise ValueError(f"its {name} is not a {kind.__name__}")
        stages = {}
        for name, record in stages_data.items():
            fields = {k: v for k, v in record.items() if k in StageRecord.__dataclass_fields__}
            if not isinstance(fields.get("detail", {}), dict) or not isinstance(fields.get("status", ""), str):
                raise ValueError(f"its stage {name!r} is not a stage record")
            stages[name] = StageRecord(**fields)
        return cls(**known, stages=stages)

    def save(self, path: Path) -> None:
        """Write atomically, so a kill mid-write leaves the previous manifest intact."""
        self.updated = now()
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        try:
            tmp.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8", errors="replace")
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise RunDirectoryError(
                f"cannot write {path} ({exc.strerror or exc}); free some disk space or fix the folder's "
                "permissions, then continue the run with --resume"
            ) from None

    @classmethod
    def load(cls, path: Path) -> "Manifest":
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (FileNotFoundError, NotADirectoryError):
            raise InputError(
                f"{path.parent} is not a papercoder run directory (no manifest.json); "
                "create one with `papercoder run PAPER`"
            ) from None
        except (ValueError, TypeError) as exc:
            raise InputError(f"{path} is damaged ({exc}); fix or delete it, then run again") from None
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
