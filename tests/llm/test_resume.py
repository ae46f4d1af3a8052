"""Killing a run after N of M calls, then running again, answers those N from the log."""

import subprocess
import sys
import textwrap

from papercoder.llm import CallLog
from papercoder.testing.fake_openai import FakeOpenAIServer

RUN = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from papercoder.config import Config
    from papercoder.llm import open_model

    base_url, log_path, total, die_after = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    llm = open_model("openai:gpt-4.1", base_url=base_url, log_path=log_path, config=Config(), quiet=True)
    for i in range(total):
        if i == die_after:
            os._exit(9)  # killed: no cleanup, no flush
        completion = llm.complete([{"role": "user", "content": f"write file {i}"}], stage="code")
        print(i, completion.cached, completion.text, flush=True)
    """
)


def run(server, log_path, total, die_after):
    return subprocess.run(
        [sys.executable, "-c", RUN, server.base_url, str(log_path), str(total), str(die_after)],
        capture_output=True, text=True, timeout=120,
    )


def test_killed_run_resumes_from_the_log(tmp_path):
    log_path = tmp_path / "calls.sqlite"
    with FakeOpenAIServer(lambda body: "code for " + body["messages"][-1]["content"]) as server:
        first = run(server, log_path, total=5, die_after=3)
        assert first.returncode == 9, first.stderr
        assert len(server.requests) == 3
        second = run(server, log_path, total=5, die_after=99)
        assert second.returncode == 0, second.stderr
        assert len(server.requests) == 5  # only the two missing calls reached the server
    lines = second.stdout.splitlines()
    assert lines[:3] == [f"{i} True code for write file {i}" for i in range(3)]
    assert lines[3:] == [f"{i} False code for write file {i}" for i in (3, 4)]
    with CallLog(log_path) as log:
        totals = log.totals()["code"]
    assert (totals.calls, totals.cached_calls) == (8, 3)
    assert totals.cost > 0 and not totals.cost_unknown
