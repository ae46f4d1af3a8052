"""The call log: schema migrations, what counts as a good answer, totals, concurrent writers."""

import multiprocessing
import sqlite3

from papercoder.llm.calllog import MIGRATIONS, CallLog, request_hash
from papercoder.llm.types import Usage


def _record(log, key="k", stage="plan", text="answer", finish="stop", error=None, cost=0.01, cached=False):
    return log.record(
        request_hash=key, stage=stage, model="fake:m", request={"messages": []}, text=text, finish_reason=finish,
        usage=Usage(100, 10, 50, 5), cost=cost, latency=0.5, error=error, cached=cached,
    )


def test_schema_is_migrated_once_and_reopening_keeps_rows(tmp_path):
    path = tmp_path / "calls.sqlite"
    with CallLog(path) as log:
        assert log.schema_version() == len(MIGRATIONS)
        _record(log)
    with CallLog(path) as log:
        assert log.schema_version() == len(MIGRATIONS)
        assert len(list(log.calls())) == 1
    versions = sqlite3.connect(path).execute("SELECT version FROM migrations").fetchall()
    assert versions == [(k,) for k in range(1, len(MIGRATIONS) + 1)]
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_log_of_the_first_schema_is_migrated_and_keeps_serving_its_answers(tmp_path):
    from papercoder.llm.calllog import _migration_1

    path = tmp_path / "calls.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE migrations (version INTEGER PRIMARY KEY, applied REAL NOT NULL)")
    _migration_1(db)
    db.execute("INSERT INTO migrations VALUES (1, 0)")
    db.execute("INSERT INTO calls (created, request_hash, model, request, response, finish_reason) "
               "VALUES (0, 'old', 'm', '{}', 'an old answer', 'stop')")
    db.commit()
    db.close()
    with CallLog(path) as log:
        assert log.schema_version() == len(MIGRATIONS)
        hit = log.lookup("old")
        assert hit is not None and hit.text == "an old answer" and hit.others == []


def test_lookup_returns_answers_not_failures(tmp_path):
    with CallLog(tmp_path / "calls.sqlite") as log:
        _record(log, key="cut", finish="length")
        _record(log, key="failed", text=None, finish=None, error="TransientError: 500")
        cut = log.lookup("cut")
        assert cut is not None and cut.finish_reason == "length"
        assert log.lookup("failed") is None
        assert log.lookup("never") is None
        _record(log, key="ok", text="first")
        _record(log, key="ok", text="second")
        hit = log.lookup("ok")
        assert hit is not None and hit.text == "second" and hit.usage == Usage(100, 10, 50, 5)


def test_cache_hits_are_not_themselves_served(tmp_path):
    with CallLog(tmp_path / "calls.sqlite") as log:
        _record(log, key="k", text="original")
        _record(log, key="k", text="copy", cached=True, cost=0.0)
        assert log.lookup("k").text == "original"


def test_totals_per_stage(tmp_path):
    with CallLog(tmp_path / "calls.sqlite") as log:
        _record(log, stage="plan", cost=0.25)
        _record(log, stage="plan", cost=0.25)
        _record(log, stage="plan", cached=True, cost=0.0)
        _record(log, stage="code", cost=None)
        _record(log, stage="code", text=None, error="boom", cost=0.0)
        totals = log.totals()
        total = log.total()
    plan, code = totals["plan"], totals["code"]
    assert (plan.calls, plan.cached_calls, plan.cost, plan.cost_unknown) == (3, 1, 0.5, False)
    assert plan.usage == Usage(200, 20, 100, 10)  # the cache hit is not counted as tokens processed
    assert plan.seconds == 1.0
    assert (code.calls, code.errors, code.cost_unknown) == (2, 1, True)
    assert total.calls == 5 and total.cost == 0.5 and total.cost_unknown
    assert total.describe_cost() == "$0.5000 + unknown"


def test_request_hash_is_stable_and_sensitive():
    a = request_hash({"model": "m", "messages": [{"role": "user", "content": "x"}], "sample": 0})
    b = request_hash({"sample": 0, "messages": [{"content": "x", "role": "user"}], "model": "m"})
    c = request_hash({"model": "m", "messages": [{"role": "user", "content": "x"}], "sample": 1})
    assert a == b != c


def _write_many(path, worker, count):
    log = CallLog(path)
    for i in range(count):
        _record(log, key=f"{worker}-{i}", stage=f"w{worker}")
    log.close()


def test_several_processes_write_at_once(tmp_path):
    path = tmp_path / "calls.sqlite"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_many, args=(path, w, 40)) for w in range(3)]
    for worker in workers:
        worker.start()
    _write_many(path, 9, 40)  # and this process too
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    with CallLog(path) as log:
        assert log.total().calls == 160
        assert {stage for stage in log.totals()} == {"w0", "w1", "w2", "w9"}
