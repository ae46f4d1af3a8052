"""The smallest --max-cost that lets a run finish, against what the run costs: the README's advice.

    python benchmarks/budget.py
    python benchmarks/budget.py --model o3-mini --hidden-tokens 2000

The fake OpenAI server answers as a capable model would for examples/prototype-classifier.md
(tests/pipeline/run_answers.py: plan, analysis, code of 7 files, debugging that passes at once),
under a model name the price list knows, so every call has a list price. The run goes once with
no budget (its cost), then again with budgets found by bisection until the smallest one that
still ends the run without stopping on the budget is known to within a cent. The gap between the
two is what the budget must hold beyond the expected cost: every call in flight holds its worst
case (prompt plus its full output room), so a budget set to the expected cost stops the run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the scripted answers live with the tests (tests.pipeline)

STAGES = ["plan", "analyze", "code", "debug"]


def run_with(budget: float | None, model: str, hidden: int) -> tuple[bool, float]:
    """(finished, cost in USD) of one run under ``budget``."""
    from tests.pipeline.run_answers import answer

    from papercoder.llm import BudgetExceededError
    from papercoder.llm.calllog import CallLog
    from papercoder.run import run_paper
    from papercoder.testing.fake_openai import FakeOpenAIServer

    with tempfile.TemporaryDirectory() as tmp, FakeOpenAIServer(lambda body: answer(body["messages"]),
                                                                 hidden_tokens=hidden) as server:
        run_dir = Path(tmp) / "run"
        try:
            result = run_paper(str(ROOT / "examples" / "prototype-classifier.md"), out_dir=run_dir, model=f"openai:{model}",
                               base_url=server.base_url, stages=STAGES, max_cost=budget, show_progress=False)
            finished = result.status in ("done", "degraded")
        except BudgetExceededError:
            finished = False
        with CallLog(run_dir / "calls.sqlite") as log:
            cost = log.total().cost or 0.0
    return finished, cost


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="gpt-4.1", help="a model name the price list knows (default gpt-4.1)")
    parser.add_argument("--hidden-tokens", type=int, default=0, help="hidden reasoning tokens per call (a reasoning model)")
    args = parser.parse_args()
    import os

    os.environ.setdefault("OPENAI_API_KEY", "sk-fake-key-for-the-local-server")
    finished, cost = run_with(None, args.model, args.hidden_tokens)
    if not finished or cost <= 0:
        sys.exit(f"the unbudgeted run did not finish or has no price (cost {cost}); pick a model the price list knows")
    low, high = cost, cost * 20
    if not run_with(high, args.model, args.hidden_tokens)[0]:
        sys.exit(f"even a budget of ${high:.2f} stops the run")
    while high - low > 0.005:
        middle = (low + high) / 2
        if run_with(middle, args.model, args.hidden_tokens)[0]:
            high = middle
        else:
            low = middle
    print(f"{args.model}{f' (+{args.hidden_tokens} hidden tokens a call)' if args.hidden_tokens else ''}: "
          f"the run costs ${cost:.3f}; the smallest budget that finishes it is ${high:.3f} "
          f"(${high - cost:.3f} above the cost, {high / cost:.2f}x)")


if __name__ == "__main__":
    main()
