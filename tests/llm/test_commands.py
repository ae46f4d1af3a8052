"""`papercoder models` and `papercoder ask`, run as a user would, against the fake server."""

import json
import os
import subprocess
import sys

from papercoder.testing.fake_openai import FakeOpenAIServer, Reply


def cli(*args, cwd, extra_env=None):
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env.update({"XDG_CONFIG_HOME": str(cwd / "xdg"), **(extra_env or {})})
    return subprocess.run([sys.executable, "-m", "papercoder", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd, env=env)


def test_ask_prints_the_answer_and_a_summary(tmp_path):
    with FakeOpenAIServer([Reply("four", input_tokens=12, output_tokens=1)]) as server:
        result = cli("ask", "-m", "openai:gpt-4.1", "--base-url", server.base_url, "--max-tokens", "9",
                     "--system", "Be terse.", "2+2?", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "four"
    assert "openai:gpt-4.1: 12 tokens in, 1 out, $" in result.stderr
    body = server.requests[0].body
    assert body["max_tokens"] == 9 and body["messages"][0] == {"role": "system", "content": "Be terse."}


def test_ask_json_and_config_file_model(tmp_path):
    with FakeOpenAIServer(["hello"], models=("served",)) as server:
        (tmp_path / "papercoder.toml").write_text(f'model = "served"\nbase_url = "{server.base_url}"\n')
        result = cli("ask", "--json", "hi", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["text"] == "hello" and record["model"] == "openai:served" and record["cost"] is None


def test_ask_failure_is_one_line(tmp_path):
    result = cli("ask", "-m", "openai:gpt-4.1", "hi", cwd=tmp_path)
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0 and "OPENAI_API_KEY" in result.stderr
    assert "Traceback" not in result.stderr


def test_ask_unreachable_server_is_one_line(tmp_path):
    (tmp_path / "papercoder.toml").write_text("retries = 1\ntimeout = 2\n")
    result = cli("ask", "-m", "x", "--base-url", "http://127.0.0.1:9/v1", "hi", cwd=tmp_path)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "did not answer" in result.stderr


def test_models_reports_keys_and_servers(tmp_path):
    with FakeOpenAIServer([], models=("alpha", "beta")) as server:
        result = cli("models", "--base-url", server.base_url, cwd=tmp_path, extra_env={"OPENAI_API_KEY": "sk-hidden"})
    assert result.returncode == 0, result.stderr
    assert "default model: openai:alpha" in result.stdout
    assert "answers; models: alpha, beta" in result.stdout
    assert "OPENAI_API_KEY" in result.stdout and "sk-hidden" not in result.stdout
