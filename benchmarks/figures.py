"""What figures cost: plan+analyze+code on the fake OpenAI and Anthropic servers (prefix caches on)
with a vision model, with the paper's figures and without (--max-figures 0), the same scripted answers.

    python benchmarks/figures.py [PAPER]   # default: ../shared/papers/online-sinkhorn, else a generated LaTeX paper
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.pipeline.test_figures_run import _anthropic_script, _openai_script  # noqa: E402  Figure 2 named for model.py

from papercoder.llm.calllog import CallLog  # noqa: E402
from papercoder.run import run_paper  # noqa: E402
from papercoder.testing.fake_http import PrefixCache  # noqa: E402
from papercoder.testing.fake_anthropic import FakeAnthropicServer  # noqa: E402
from papercoder.testing.fake_openai import FakeOpenAIServer  # noqa: E402

SERVERS = {
    "openai:gpt-4.1": lambda: FakeOpenAIServer(_openai_script, prefix_cache=PrefixCache()),
    "anthropic:claude-sonnet-4-5": lambda: FakeAnthropicServer(_anthropic_script, prefix_cache=PrefixCache(minimum=1024)),
}


def measure(paper: str, root: Path, model: str, max_figures: int | None) -> tuple[int, int, int, int, float]:
    with SERVERS[model]() as server:
        run_paper(paper, out_dir=root, model=model, base_url=server.base_url, stages=["plan", "analyze", "code"],
                  show_progress=False, concurrency=8, context_window=128_000, max_figures=max_figures)
    with CallLog(root / "calls.sqlite") as log:
        calls = list(log.calls())
    images = sum(len(m.get("images") or ()) for c in calls for m in c.request.get("messages", []))
    return (len(calls), sum(c.usage.input_tokens for c in calls), sum(c.usage.cached_input_tokens for c in calls), images,
            sum(c.cost or 0.0 for c in calls))


def main() -> None:
    os.environ.setdefault("OPENAI_API_KEY", "sk-benchmark")
    os.environ.setdefault("ANTHROPIC_API_KEY", "sk-ant-benchmark")
    default = Path(__file__).resolve().parents[2] / "shared" / "papers" / "online-sinkhorn"
    paper = sys.argv[1] if len(sys.argv) > 1 else str(default)
    if not Path(paper).exists():
        sys.exit(f"{paper} does not exist; give a paper with figures")
    print(f"paper: {paper}")
    for model in SERVERS:
        with tempfile.TemporaryDirectory() as tmp:
            rows = [("with figures", measure(paper, Path(tmp) / "with", model, None)),
                    ("without (--max-figures 0)", measure(paper, Path(tmp) / "without", model, 0))]
        print(f"\n{model}")
        print(f"{'':28}{'calls':>6}{'input tokens':>14}{'cached':>10}{'images sent':>13}{'cost':>10}")
        for name, (calls, inputs, cached, images, cost) in rows:
            print(f"{name:28}{calls:>6}{inputs:>14,}{cached:>10,}{images:>13}{'$%.4f' % cost:>10}")
        (_, a, _, _, ca), (_, b, _, _, cb) = rows[0][1], rows[1][1]
        print(f"extra with figures: {a - b:+,} input tokens ({(a - b) / b:+.1%}), {'$%+.4f' % (ca - cb)} ({(ca - cb) / cb:+.1%})")


if __name__ == "__main__":
    main()
