"""The long-paper mode of benchmarks/verify.py: requirements stated only in a long paper's appendix.

    python benchmarks/verify.py --long-paper [PAPER]          # default ../shared/papers/online-sinkhorn
    PYTHONPATH=OLD_CHECKOUT/src python benchmarks/verify.py --long-paper   # the same on older code

The example's 7-file repository (tests/pipeline/run_answer_code.py) is checked against a paper of
at least 60,000 characters through ``verify_repository`` on a plain folder, the API every version
has. Four requirements are planted whose only statement is in the appendix, beyond the first
30,000 characters of the paper; each names a line of code in backticks that the repository lacks.
The scripted reviewer passes a requirement when its code appears in the files it is shown; the
scripted editor adds a requirement's code only when the passage of the paper that states it is
somewhere in its request (it cannot implement what it cannot read), and only to the file that
owns it. Reported: coverage before and after, the planted requirements fixed, regressions caught,
and calls, input, cached and output tokens per step, with the fake server's strict prompt cache.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PAPER = ROOT.parent / "shared" / "papers" / "online-sinkhorn"
MIN_CHARS = 60_000
APPENDIX_FROM = 30_000

# (id, requirement with its code in backticks, the passage that states it, owning file)
PLANTED = [
    ("1.1", "Batch Sinkhorn runs for 5,000 iterations (`SINKHORN_ITERATIONS = 5000`)",
     "We train Sinkhorn on $t = 5000$ iterations", "train.py"),
    ("1.2", "Fully-corrective online Sinkhorn stops once n_t exceeds 20,000 samples (`FCOS_MAX_SAMPLES = 20_000`)",
     "we interrupt FCOS for $n_t > 20,000$, as our implementation of the $C$-transform has a quadratic memory cost", "model.py"),
    ("1.3", "The Gaussian experiment compares batch Sinkhorn with N of 100, 1000 and 10000 (`GAUSSIAN_BATCH_SIZES = (100, 1000, 10000)`)",
     "We compare batch Sinkhorn $(N=100, 1000, 10000)$ to (non fully-corrected) online Sinkhorn", "main.py"),
    ("1.4", "The warmup samples without replacement (`WARMUP_WITH_REPLACEMENT = False`)",
     "found sampling without replacement to be more efficient", "data.py"),
]
# requirements the repository meets already: a refinement that breaks one is a regression
MET = [
    ("2.1", "Adam with bias correction (`m_hat = m / (1 - self.beta1**self.t)`)", "optim.py"),
    ("2.2", "Expected calibration error with equal-width bins (`edges = np.linspace(0.0, 1.0, bins + 1)`)", "metrics.py"),
]
_QUOTED = re.compile(r"`([^`]+)`")


def _normal(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def checklist_answer() -> str:
    items = [{"requirement": text, "weight": 2, "section": "C Extra numerical experiments", "quote": quote, "files": [owner]}
             for _, text, quote, owner in PLANTED]
    met = [{"requirement": text, "weight": 1, "section": "", "quote": "", "files": [owner]} for _, text, owner in MET]
    return json.dumps({"groups": [{"requirement": "Experimental details of Appendix C", "weight": 3, "items": items},
                                  {"requirement": "Optimisation and evaluation", "weight": 1, "items": met}]})


def _section(text: str, start: str, end: str) -> str:
    head = text.find(start)
    if head < 0:
        return ""
    tail = text.find(end, head + len(start))
    return text[head + len(start) : tail if tail >= 0 else len(text)]


def judge(prompt: str) -> str:
    requirement = _section(prompt, "# The requirement to grade", "Give your JSON verdict")
    shown = _section(prompt, "# Repository files relevant to this requirement", "# Where the requirement sits")
    missing = [q for q in _QUOTED.findall(requirement) if q not in shown]
    if missing:
        return json.dumps({"explanation": f"The code never does {missing[0]!r}.", "score": 0})
    return json.dumps({"explanation": "The code does this.", "score": 1})


def edit(messages: list[dict]) -> str:
    """Blocks adding each asked requirement's code to its owner, when the request holds its passage."""
    request = messages[-1]["content"]
    everything = _normal("\n".join(m["content"] for m in messages))
    files = {m.group(1): m.group(2) for m in re.finditer(r"(?m)^(\S+\.py)\n```\n(.*?)\n```", request, re.S)}
    blocks = []
    for leaf_id, text, quote, owner in PLANTED:
        if f"[{leaf_id}]" not in request or owner not in files:
            continue
        code = _QUOTED.findall(text)[0]
        if code in files[owner] or _normal(quote) not in everything:
            continue  # met already, or the passage that says what to write is not in the request
        last = files[owner].rstrip("\n").splitlines()[-1]
        blocks.append(f"{owner}\n<<<<<<< SEARCH\n{last}\n=======\n{last}\n{code}  # Appendix C\n>>>>>>> REPLACE\n")
    return "\n".join(blocks) if blocks else "Nothing to change: the request does not say what the paper asks."


def reply(body: dict) -> str:
    messages = body["messages"]
    prompt = messages[-1]["content"]
    if "# The requirement to grade" in prompt:
        return judge(prompt)
    if prompt.startswith("A reviewer checked the repository below"):
        return edit(messages)
    if prompt.startswith("Your answer had no SEARCH/REPLACE block"):
        return "There is still nothing I can change from what I was shown."  # the edit loop's feedback turn
    if "checklist" in prompt.lower() or "requirements" in prompt.lower():
        return checklist_answer()  # this version's checklist request, whatever its words
    raise AssertionError("unexpected request: " + prompt[:200])


def run_long(paper_path: Path) -> dict:
    """Verify the example repository against the long paper; what the run measured."""
    import asyncio
    import subprocess

    from tests.pipeline.run_answer_code import CODE, CONFIG

    from papercoder.config import Config
    from papercoder.llm import open_model
    from papercoder.llm.calllog import CallLog
    from papercoder.paper import read_paper
    from papercoder.testing import PrefixCache
    from papercoder.testing.fake_openai import FakeOpenAIServer
    from papercoder.verify import stage

    paper = read_paper(str(paper_path)).to_markdown()
    if len(paper) < MIN_CHARS:
        raise SystemExit(f"{paper_path} is {len(paper):,} characters; the long-paper mode needs {MIN_CHARS:,} or more")
    positions = [_normal(paper).find(_normal(quote)) for _, _, quote, _ in PLANTED]
    if min(positions) < 0 or min(len(_normal(paper[:APPENDIX_FROM])), min(positions)) != len(_normal(paper[:APPENDIX_FROM])):
        raise SystemExit("a planted passage is missing from the paper or lies in its first 30,000 characters")
    with tempfile.TemporaryDirectory() as tmp, FakeOpenAIServer(reply, prefix_cache=PrefixCache()) as server:
        repo = Path(tmp) / "repo"
        repo.mkdir()
        for path, text in CODE.items():
            (repo / path).write_text(text)
        (repo / "config.yaml").write_text(CONFIG)
        subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
        # a 128k window, as the models a user would verify a long paper with have
        llm = open_model("openai:fake-model", base_url=server.base_url, log_path=Path(tmp) / "calls.sqlite", quiet=True,
                         config=Config(context_window=128_000))

        async def main():
            try:
                return await stage.verify_repository(repo, llm, paper, rounds=2, out_dir=Path(tmp) / "verify")
            finally:
                await llm.aclose()

        report = asyncio.run(main())
        for problem in report.problems:
            print(f"  problem: {problem}")
        with CallLog(Path(tmp) / "calls.sqlite") as log:
            steps: dict[str, list[int]] = {}
            for record in log.calls():
                prompt = record.request["messages"][-1]["content"]
                if "# The requirement to grade" in prompt:
                    step = "judge"
                elif prompt.startswith("A reviewer") or any(m["content"].startswith("A reviewer") for m in record.request["messages"]):
                    step = "refine"  # a refine request, or a feedback turn of its edit loop
                else:
                    step = "checklist"
                row = steps.setdefault(step, [0, 0, 0, 0])
                row[0] += 1
                row[1] += record.usage.input_tokens
                row[2] += record.usage.cached_input_tokens
                row[3] += record.usage.output_tokens
    fixed = {i for r in report.rounds for i in r.fixed}
    planted = {leaf_id for leaf_id, *_ in PLANTED}
    return {
        "chars": len(paper), "first_passage": min(positions), "leaves": report.leaves, "before": report.coverage_before,
        "after": report.coverage_after, "planted_fixed": sorted(fixed & planted), "planted": len(planted),
        "regressions": sorted({i for r in report.rounds for i in getattr(r, "regressions", [])}),
        "rounds": len(report.rounds), "steps": steps,
        "units": sum(inp - cached + 0.5 * cached for _, inp, cached, _ in steps.values()),
    }


def print_long(r: dict) -> bool:
    print(f"long paper: {r['chars']:,} characters, first planted passage at character ~{r['first_passage']:,} "
          f"(normalised); {r['leaves']} requirements, coverage {r['before']:.2f} -> {r['after']:.2f} in {r['rounds']} round(s)")
    print(f"  planted appendix requirements fixed: {len(r['planted_fixed'])} of {r['planted']} {r['planted_fixed']}; "
          f"regressions caught: {r['regressions'] or 'none'}")
    for step, (calls, inp, cached, out) in r["steps"].items():
        print(f"  {step:<10} {calls:>3} calls, input {inp:>7,}, cached {cached:>7,}, output {out:>6,}")
    print(f"  cost units (uncached input + 0.5 x cached): {r['units']:,.0f}")
    return len(r["planted_fixed"]) == r["planted"]
