"""The verify stage on planted omissions, against the fake OpenAI server with a strict prompt cache.

    python benchmarks/verify.py
    python benchmarks/verify.py --ttft 0.2 --tps 1000 --prefill-tps 50000
    python benchmarks/verify.py --long-paper [PAPER]   # appendix-only requirements (benchmarks/verify_long.py)

Builds the example paper's 7-file repository with the scripted pipeline (plan, analyze, code,
debug), plants four omissions the smoke run and the static checks do not catch (a loss term left
out, a wrong constant, a metric on the wrong split, a baseline never run), then runs the verify
stage with a scripted reviewer and editor (tests/verify/verify_answers.py: the judge passes a
requirement only when the code it quotes appears in the files its request shows; the editor
rewrites the part of a file that differs from a faithful implementation). Prints the checklist's
recall of the planted requirements, the leaves flagged and fixed, whether the smoke run still
passes, and calls, input, cached and output tokens per step; then the same run on the faithful
repository, which is what verify adds to a run that needs no refinement.

The checklist is scripted, so its recall says that the plumbing carries every requirement through,
not how well a real model writes checklists.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the scripted answers live with the tests


def run_case(plant: bool, ttft: float, tps: float, prefill: float | None) -> dict:
    from tests.pipeline.run_answer_code import CODE
    from tests.verify.verify_answers import PLANTS, planted, verify_answer

    from papercoder.llm.calllog import CallLog
    from papercoder.run import run_paper, run_stage
    from papercoder.testing import PrefixCache
    from papercoder.testing.fake_openai import FakeOpenAIServer

    with tempfile.TemporaryDirectory() as tmp, FakeOpenAIServer(
        lambda body: verify_answer(body["messages"]), ttft=ttft, tokens_per_second=tps,
        prefill_tokens_per_second=prefill, prefix_cache=PrefixCache(),
    ) as server:
        run = Path(tmp) / "run"
        options = dict(model="openai:fake-model", base_url=server.base_url, show_progress=False)
        run_paper(str(ROOT / "examples" / "prototype-classifier.md"), out_dir=run, stages=["plan", "analyze", "code", "debug"], **options)
        if plant:
            for path, text in planted({p: (run / "repo" / p).read_text() for p in CODE}).items():
                (run / "repo" / path).write_text(text)
            subprocess.run(["git", "commit", "-qam", "plant omissions"], cwd=run / "repo", check=True)
        result = run_stage("verify", run, **options)
        report = json.loads((run / "verify" / "report.json").read_text())
        first = json.loads((run / "verify" / "grades-0.json").read_text())
        checklist = json.loads((run / "verify" / "checklist.json").read_text())
        with CallLog(run / "calls.sqlite") as log:
            steps: dict[str, list[int]] = {}
            for record in log.calls():
                prompt = record.request["messages"][-1]["content"]
                if prompt.startswith("Write the checklist of requirements"):
                    step = "checklist"  # planning's, before the code
                elif record.stage != "verify":
                    continue
                else:
                    step = "refine" if prompt.startswith("A reviewer") else "judge"
                row = steps.setdefault(step, [0, 0, 0, 0])
                usage = record.usage
                row[0] += 1
                row[1] += usage.input_tokens
                row[2] += usage.cached_input_tokens
                row[3] += usage.output_tokens
    planted_ids = {leaf for leaf, *_ in PLANTS}
    leaf_ids = {leaf["id"] for group in checklist["sub_tasks"] for leaf in group["sub_tasks"]}
    flagged = {i for i, g in first.items() if g["score"] == 0}
    fixed = {i for r in report["rounds"] for i in r["fixed"]}
    return {
        "status": result.status, "leaves": report["leaves"], "recall": len(planted_ids & leaf_ids) / len(planted_ids),
        "flagged": sorted(flagged), "planted_flagged": len(planted_ids & flagged), "planted": len(planted_ids),
        "fixed": sorted(fixed), "before": report["coverage_before"], "after": report["coverage_after"],
        "smoke": (report["smoke_before"], report["smoke_after"]), "rounds": len(report["rounds"]), "steps": steps,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ttft", type=float, default=0.0, help="simulated time to first token, seconds (default 0)")
    parser.add_argument("--tps", type=float, default=10_000.0, help="simulated output tokens per second (default 10,000)")
    parser.add_argument("--prefill-tps", type=float, default=None, help="simulated prefill rate of uncached input, tokens/s")
    parser.add_argument("--long-paper", nargs="?", const="", default=None, metavar="PAPER",
                        help="the long-paper mode (benchmarks/verify_long.py): appendix-only requirements on PAPER "
                             "(default ../shared/papers/online-sinkhorn)")
    args = parser.parse_args(argv)
    os.environ.setdefault("OPENAI_API_KEY", "sk-benchmark-not-a-real-key")
    if args.long_paper is not None:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import verify_long

        path = Path(args.long_paper) if args.long_paper else verify_long.DEFAULT_PAPER
        if not path.exists():
            print(f"error: {path} does not exist; give a paper of at least 60,000 characters with an appendix")
            return 2
        return 0 if verify_long.print_long(verify_long.run_long(path)) else 1
    ok = True
    for plant in (True, False):
        r = run_case(plant, args.ttft, args.tps, args.prefill_tps)
        print(("planted omissions" if plant else "faithful repository") + f": status {r['status']}, {r['leaves']} requirements, "
              f"coverage {r['before']:.2f} -> {r['after']:.2f} in {r['rounds']} round(s); smoke before/after {r['smoke']}")
        if plant:
            print(f"  checklist recall of the planted requirements {r['recall']:.0%}; flagged {r['flagged']} "
                  f"({r['planted_flagged']} of {r['planted']} planted); fixed {r['fixed']}")
            ok = ok and r["planted_flagged"] == r["planted"] and r["after"] == 1.0 and r["smoke"] == (True, True)
        for step, (calls, inp, cached, out) in r["steps"].items():
            print(f"  {step:<10} {calls:>3} calls, input {inp:>7,}, cached {cached:>7,}, output {out:>6,}")
    print("planted omissions recovered:", "yes" if ok else "NO")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
