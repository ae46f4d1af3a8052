"""Which figures a request carries: those its text names, within the count, the bytes and the window."""

from __future__ import annotations

from papercoder.paper.figures import Figure
from papercoder.pipeline.figures import MAX_REQUEST_BYTES, named_figures, within_budget


def figures(*labels: str, size: int = 10, side: int = 512) -> list[Figure]:
    return [Figure(label, f"{label}: caption.", b"x" * size, width=side, height=side) for label in labels]


def test_named_by_number_kind_and_lists():
    found = figures("Figure 1", "Figure 2", "Figure 3", "Figure 4", "Figure 10", "Table 1", "Algorithm 2")
    assert [f.label for f in named_figures("see Figs. 3 and 4, and Fig.2", found)] == ["Figure 2", "Figure 3", "Figure 4"]
    assert [f.label for f in named_figures("as in Figure 10 (not Figure 1)", found)] == ["Figure 1", "Figure 10"]
    assert [f.label for f in named_figures("Table 1 lists; Algorithm 2 steps; table 2", found)] == ["Table 1", "Algorithm 2"]
    assert named_figures("Section 3 and Eq. 2", found) == []
    assert named_figures("figures 1-2", found)[:2] == found[:2]


def test_budget_keeps_the_first_and_names_the_rest():
    notes: list[str] = []
    found = figures("Figure 1", "Figure 2", "Figure 3")
    kept = within_budget(found, limit=2, window=100_000, provider="openai", note=notes.append, what="coding model.py")
    assert kept == found[:2]
    assert notes == ["figures: coding model.py: 2 of 3 figures sent (--max-figures 2, 16 MB and a quarter of the "
                     "window per request); left out: Figure 3"]
    heavy = figures("Figure 1", "Figure 2", size=MAX_REQUEST_BYTES // 2 + 1)
    assert len(within_budget(heavy, limit=12, window=100_000, provider="", note=notes.append, what="x")) == 1
    # 512 x 512 costs 255 tokens on OpenAI: a 2,000-token window's quarter holds one
    assert len(within_budget(found, limit=12, window=2_000, provider="openai", note=notes.append, what="x")) == 1
    assert within_budget([], limit=12, window=100, provider="", note=notes.append, what="x") == []


def test_a_refine_request_carries_the_figures_its_requirements_name(tmp_path):
    from papercoder.llm import LLM, ScriptedProvider
    from papercoder.verify.refine import Failed, refine_messages

    (tmp_path / "model.py").write_text("def layers():\n    return 1\n")
    asked: list[tuple[str, str]] = []

    def images_for(text: str, what: str) -> list[dict]:
        asked.append((text, what))
        return [{"label": "Figure 2", "media_type": "image/png", "data": "eA==", "width": 8, "height": 8}] if "Figure 2" in text else []

    llm = LLM(ScriptedProvider([]))
    failed = [Failed("1.2", "Two layers of 64 units", "one layer", "model.py", quote="the network of Figure 2 has two layers")]
    messages = refine_messages(llm, tmp_path, "model.py", failed, [], None, images_for=images_for)
    assert messages[-1]["images"][0]["label"] == "Figure 2"
    assert asked[0][1] == "refining model.py (1.2)"
    plain = refine_messages(llm, tmp_path, "model.py", [Failed("1.3", "Use Adam", "SGD", "model.py")], [], None,
                            images_for=images_for)
    assert "images" not in plain[-1]
