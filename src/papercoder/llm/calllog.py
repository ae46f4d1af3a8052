"""The call log: every model call in one SQLite file; the cache and the cost ledger of a run.

One row per call (repair turns and cache hits included) with its stage label, the request, the
answer, usage, cost, latency, finish reason and error. A request already answered well (no
error, not cut at the output limit) is answered again from here: a resumed run never pays
twice. The schema is built by numbered migrations recorded in the file itself. WAL mode and a
busy timeout make it safe for several threads and processes writing at once.
API keys are never part of a request, so they never reach this file.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from papercoder.errors import PapercoderError
from papercoder.llm.accounting import StageTotals, sum_totals
from papercoder.secrets import redact
from papercoder.llm.images import without_image_data
from papercoder.llm.types import Usage, clean_text

BUSY_TIMEOUT_SECONDS = 60.0


def request_hash(payload: dict[str, Any]) -> str:
    """A stable hash of a request payload (model, messages, parameters, options)."""
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class CallRecord:
    """One row of the call log."""

    id: int
    created: float
    request_hash: str
    stage: str
    model: str
    request: dict[str, Any]
    text: str | None
    finish_reason: str | None
    usage: Usage = field(default_factory=Usage)
    cost: float | None = None
    latency: float = 0.0
    error: str | None = None
    cached: bool = False
    others: list[tuple[str, str]] = field(default_factory=list)  # answers 2..n of one request


def _migration_1(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE calls (
            id INTEGER PRIMARY KEY,
            created REAL NOT NULL,
            request_hash TEXT NOT NULL,
            stage TEXT NOT NULL DEFAULT '',
            model TEXT NOT NULL,
            request TEXT NOT NULL,
            response TEXT,
            finish_reason TEXT,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            cached_input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            reasoning_tokens INTEGER NOT NULL DEFAULT 0,
            cost REAL,
            latency REAL NOT NULL DEFAULT 0,
            error TEXT,
            cached INTEGER NOT NULL DEFAULT 0
        )
        """
    )
    db.execute("CREATE INDEX calls_by_hash ON calls (request_hash)")
    db.execute("CREATE INDEX calls_by_stage ON calls (stage)")


def _migration_2(db: sqlite3.Connection) -> None:
    # the answers after the first of a request that asked for n > 1: JSON [[text, finish reason], ...]
    db.execute("ALTER TABLE calls ADD COLUMN others TEXT")


# Append only: a migration, once released, never changes; its number is its position + 1.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_migration_1, _migration_2]

_COLUMNS = (
    "id, created, request_hash, stage, model, request, response, finish_reason, input_tokens, "
    "cached_input_tokens, output_tokens, reasoning_tokens, cost, latency, error, cached, others"
)


class CallLogError(PapercoderError):
    """The call log cannot be opened or written (damaged file, full disk): one line, no traceback."""


class CallLog:
    """The SQLite call log of one run. Thread-safe; several processes may share the file."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.exists() and not self.path.is_file():
                raise sqlite3.DatabaseError("it is not a file")
            self._db = sqlite3.connect(
                str(self.path), timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
            )
            self._db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._migrate()
        except sqlite3.Error as exc:
            raise CallLogError(
                f"{self.path} cannot be used as a call log ({exc}); if it is damaged, move it away and run again "
                "(the answers it held will be asked again)"
            ) from None
        except OSError as exc:
            raise CallLogError(f"cannot create the call log {self.path}: {exc.strerror or exc}") from None

    # -- schema ---------------------------------------------------------------------------

    def _migrate(self) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "CREATE TABLE IF NOT EXISTS migrations (version INTEGER PRIMARY KEY, applied REAL NOT NULL)"
                )
                done = {row[0] for row in self._db.execute("SELECT version FROM migrations")}
                for version, migration in enumerate(MIGRATIONS, start=1):
                    if version not in done:
                        migration(self._db)
                        self._db.execute("INSERT INTO migrations VALUES (?, ?)", (version, time.time()))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def schema_version(self) -> int:
        """The number of the last migration applied to this file."""
        with self._lock:
            row = self._db.execute("SELECT MAX(version) FROM migrations").fetchone()
        return int(row[0] or 0)

    # -- writing and reading ----------------------------------------------------------------

    def record(
        self,
        *,
        request_hash: str,
        stage: str,
        model: str,
        request: dict[str, Any],
        text: str | None,
        finish_reason: str | None,
        usage: Usage | None = None,
        cost: float | None = None,
        latency: float = 0.0,
        error: str | None = None,
        cached: bool = False,
        others: list[tuple[str, str]] | None = None,
    ) -> int:
        """Store one call; returns its row id. Committed at once, so a killed run keeps it."""
        usage = usage or Usage()
        row = (
            time.time(),
            request_hash,
            stage,
            model,
            redact(clean_text(json.dumps(without_image_data(request), ensure_ascii=False))),  # images by digest
            redact(clean_text(text)) if text is not None else None,
            finish_reason,
            usage.input_tokens,
            usage.cached_input_tokens,
            usage.output_tokens,
            usage.reasoning_tokens,
            cost,
            latency,
            redact(clean_text(error)) if error else error,
            int(cached),
            json.dumps([[redact(clean_text(t)), f] for t, f in others], ensure_ascii=False) if others else None,
        )
        with self._lock:
            try:
                cursor = self._db.execute(
                    "INSERT INTO calls (created, request_hash, stage, model, request, response, finish_reason, "
                    "input_tokens, cached_input_tokens, output_tokens, reasoning_tokens, cost, latency, error, cached, "
                    "others) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                )
            except sqlite3.Error as exc:
                raise CallLogError(
                    f"cannot write to the call log {self.path} ({exc}); free some disk space, then continue the run "
                    "with --resume"
                ) from None
            return int(cursor.lastrowid)

    def lookup(self, request_hash: str) -> CallRecord | None:
        """The latest answer to this request: no error, from the model itself.

        An answer cut at the output limit is served too: the identical request (same
        ``max_tokens``) would be cut again, and the caller decides again what a cut means
        (``acomplete`` raises TruncatedError, or continues with ``allow_truncated``). Serving it
        keeps a resumed run from paying twice and keeps the continuation turns that followed it
        byte for byte the same.
        """
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM calls WHERE request_hash = ? AND error IS NULL AND cached = 0 "
                "AND response IS NOT NULL "
                "ORDER BY id DESC LIMIT 1",
                (request_hash,),
            ).fetchone()
        return _to_record(row) if row else None

    def calls(self, stage: str | None = None) -> Iterator[CallRecord]:
        """Every recorded call in order, optionally of one stage only."""
        query = f"SELECT {_COLUMNS} FROM calls"
        params: tuple[Any, ...] = ()
        if stage is not None:
            query += " WHERE stage = ?"
            params = (stage,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY id", params).fetchall()
        return (_to_record(row) for row in rows)

    def totals(self) -> dict[str, StageTotals]:
        """Calls, tokens, cost and time per stage label, over everything in the file."""
        with self._lock:
            rows = self._db.execute(
                "SELECT stage, cached, error IS NOT NULL, cost IS NULL, COUNT(*), COALESCE(SUM(cost), 0), "
                "SUM(latency), SUM(input_tokens), SUM(cached_input_tokens), SUM(output_tokens), "
                "SUM(reasoning_tokens) FROM calls GROUP BY 1, 2, 3, 4"
            ).fetchall()
        per_stage: dict[str, StageTotals] = {}
        for stage, cached, failed, cost_missing, count, cost, seconds, inp, cached_inp, out, reasoning in rows:
            totals = per_stage.setdefault(stage, StageTotals())
            totals.calls += count
            if failed:
                totals.errors += count
            if cached:
                totals.cached_calls += count
                continue
            totals.usage = totals.usage + Usage(inp or 0, cached_inp or 0, out or 0, reasoning or 0)
            totals.seconds += seconds or 0.0
            totals.cost += cost or 0.0
            if cost_missing:
                totals.cost_unknown = True
        return per_stage

    def total(self) -> StageTotals:
        """The whole run's totals."""
        return sum_totals(self.totals())

    def spent(self) -> float:
        """USD recorded so far (known prices only): the starting point of a resumed run's budget."""
        with self._lock:
            row = self._db.execute("SELECT COALESCE(SUM(cost), 0) FROM calls WHERE cached = 0").fetchone()
        return float(row[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "CallLog":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _to_record(row: tuple[Any, ...]) -> CallRecord:
    (id_, created, hash_, stage, model, request, response, finish, inp, cached_inp, out, reasoning, cost, latency,
     error, cached, others) = row
    return CallRecord(
        id=id_,
        created=created,
        request_hash=hash_,
        stage=stage,
        model=model,
        request=json.loads(request),
        text=response,
        finish_reason=finish,
        usage=Usage(inp, cached_inp, out, reasoning),
        cost=cost,
        latency=latency,
        error=error,
        cached=bool(cached),
        others=[(str(t), str(f)) for t, f in json.loads(others)] if others else [],
    )
