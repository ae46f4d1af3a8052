"""A model-written program hunts for the API key; neither the sandbox nor papercoder's output gives it away."""

import asyncio
import os
import socket
import tempfile
import threading
from pathlib import Path

import pytest

from papercoder.llm import LLM, CallLog, ScriptedProvider
from papercoder.secrets import MARK, redact
from papercoder.pipeline.debugging import debug_repository
from papercoder.repo.sandbox import Limits, isolation, run_sandboxed

CANARY = "sk-canary-4f1b9c2e7d0a55aa"

HUNT = '''
import glob, os, socket
found = []
for path in glob.glob("/proc/[0-9]*/environ"):
    try:
        found.append(open(path, "rb").read().decode("utf-8", "replace"))
    except OSError:
        pass
found.append(repr(dict(os.environ)))
for path in glob.glob("/dev/shm/*") + glob.glob("/tmp/*"):
    try:
        found.append(open(path, errors="replace").read())
    except OSError:
        pass
for path in glob.glob("/tmp/*") + glob.glob("/tmp/*/*"):
    try:
        client = socket.socket(socket.AF_UNIX)
        client.settimeout(1)
        client.connect(path)
        found.append(client.recv(200).decode())
    except OSError:
        pass
text = "\\n".join(found)
print("HUNT", len(found), "KEY" if "sk-canary" in text else "nothing", "MARK" if "[redacted]" in text else "")
raise SystemExit("hunt failed: " + text[-2000:])
'''


@pytest.fixture
def planted(tmp_path, monkeypatch):
    """The canary as the key in papercoder's environment, in /dev/shm and behind a unix socket in the temp folder."""
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    shm = Path("/dev/shm") / f"papercoder-canary-{os.getpid()}"
    shm.write_text(CANARY)
    sock_path = Path(tempfile.gettempdir()) / f"papercoder-canary-{os.getpid()}.sock"
    sock_path.unlink(missing_ok=True)
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sock_path))
    server.listen(4)
    stop = threading.Event()

    def serve():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            conn.sendall(CANARY.encode())
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "main.py").write_text(HUNT)
    yield repo
    stop.set()
    thread.join(2)
    server.close()
    sock_path.unlink(missing_ok=True)
    shm.unlink(missing_ok=True)


def test_the_sandbox_hides_the_key_from_a_program_that_hunts_for_it(planted):
    found = isolation()
    if not (found.mounts and found.pid_namespace):
        pytest.skip("no mount and PID namespaces here: /proc and /tmp of the host stay visible")
    result = run_sandboxed(planted, ["python3", "main.py"], limits=Limits(timeout=60))
    assert "HUNT" in result.stdout
    # not found, and not merely masked by the second wall: the sandbox itself kept it out
    assert "nothing" in result.stdout and "MARK" not in result.stdout
    assert CANARY not in result.stdout + result.stderr


def test_the_key_reaches_no_request_no_call_log_and_no_report(planted, tmp_path):
    provider = ScriptedProvider(lambda messages: "I see no problem to fix.")
    with CallLog(tmp_path / "calls.sqlite") as log:
        report = asyncio.run(
            debug_repository(planted, LLM(provider, log=log), limits=Limits(timeout=60), max_iterations=1,
                             cmd="python3 main.py")
        )
        rows = [str(r.request) + str(r.text) + str(r.error) for r in log.calls()]
    assert report.status != "passed"
    sent = [m["content"] for call in provider.calls for m in call["request"].messages]
    assert sent and all(CANARY not in text for text in sent)
    assert all(CANARY not in row for row in rows)
    for path in (planted / ".papercoder").rglob("*"):
        if path.is_file():
            assert CANARY not in path.read_text(errors="replace"), path


def test_redaction_cuts_every_known_secret_value():
    env = {"OPENAI_API_KEY": "sk-abcdef123456", "MY_SERVICE_TOKEN": "tok-987654321", "HOME": "/root/home-folder"}
    text = "key sk-abcdef123456 token tok-987654321 at /root/home-folder"
    assert redact(text, env) == f"key {MARK} token {MARK} at /root/home-folder"
