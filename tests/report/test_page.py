"""The report page of a run: what it shows, what it says when parts are missing or broken."""

from __future__ import annotations

import re

from papercoder.cli import main
from papercoder.report import write_report

from .runfixture import make_run


def _page(tmp_path, **kwargs) -> str:
    return write_report(make_run(tmp_path / "run", **kwargs)).read_text(encoding="utf-8")


def test_the_page_shows_status_fallbacks_diagrams_code_rounds_checklist_and_cost(tmp_path):
    html = _page(tmp_path)
    assert "status: <strong>degraded</strong>" in html
    assert "the config had no learning rate" in html  # every fallback, prominently
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" class="diagram') == 2  # both diagrams drawn
    assert "Mermaid source" in html
    assert 'id="file-main-py"' in html and 'id="file-pkg-module_1-py"' in html
    assert 'href="#file-main-py"' in html  # the inventory item E1 links to the file covering it
    assert "no file" in html  # B1 is covered by no file
    assert '<code>five_way_accuracy</code></a>' in html  # and E1 names the function that implements it
    assert "runs the &lt;experiment&gt; &amp; reports it." in html  # the analysis beside its file, escaped
    assert "debug round 1" in html and "NameError" in html and 'class="add">+import os' in html
    assert "Requirement 3 is implemented" in html and "reason 3" in html
    assert "70,000" in html and "45,000" in html  # tokens, cached and not
    assert re.search(r'<rect class="cached"', html)  # the chart


def test_no_resource_leaves_the_page(tmp_path):
    html = _page(tmp_path)
    assert not re.search(r'<(?:script|link|img|iframe)\b', html)
    assert not re.search(r'(?:src|href)="(?:https?:)?//', html)
    assert "default-src 'none'" in html  # and the browser is told to fetch nothing


def test_a_diagram_that_does_not_parse_is_shown_as_source_with_the_reason(tmp_path):
    html = _page(tmp_path, broken_diagram=True)
    assert "The class diagram does not parse: line 2: cannot read" in html
    assert "A ==&gt; B" in html
    assert html.count('class="diagram sequence-diagram"') == 1


def test_a_run_stopped_after_planning_still_gets_a_page(tmp_path):
    import shutil

    root = make_run(tmp_path / "run")
    for part in ("repo", "debug", "verify", "analysis"):
        shutil.rmtree(root / part)
    html = write_report(root).read_text(encoding="utf-8")
    assert "No repository was written" in html and "No verification checklist" in html


def test_the_command_writes_the_page_and_refuses_a_folder_that_is_no_run(tmp_path, capsys):
    root = make_run(tmp_path / "run")
    try:
        main(["report", str(root)])
    except SystemExit as exc:
        assert exc.code in (0, None)
    assert f"report: {root / 'report.html'}" in capsys.readouterr().out
    (tmp_path / "empty").mkdir()
    try:
        main(["report", str(tmp_path / "empty")])
    except SystemExit as exc:
        assert exc.code == 2
    err = capsys.readouterr().err
    assert "not a papercoder run directory" in err and "Traceback" not in err


def test_markdown_is_rendered_raw_html_is_not_and_groups_have_scores(tmp_path):
    import json

    from papercoder.report import write_report

    from .runfixture import make_run

    run = make_run(tmp_path / "run")
    analysis = next((run / "analysis").rglob("*.md"))
    analysis.write_text("## Steps\n\nUse `softmax` over **distances**.\n\n<script>alert(1)</script>\n")
    verify = run / "verify"
    verify.mkdir(exist_ok=True)
    tree = {"id": "root", "requirements": "r", "weight": 1, "sub_tasks": [
        {"id": "1", "requirements": "The model", "weight": 1, "sub_tasks": [
            {"id": "1.1", "requirements": "a", "weight": 1, "task_category": "Code Development", "sub_tasks": []},
            {"id": "1.2", "requirements": "b", "weight": 3, "task_category": "Code Development", "sub_tasks": []}]}]}
    (verify / "checklist.json").write_text(json.dumps(tree))
    for old in verify.glob("grades-*.json"):
        old.unlink()
    (verify / "grades-0.json").write_text(json.dumps({"1.1": {"score": 1, "explanation": "yes"}, "1.2": {"score": 0, "explanation": "no"}}))
    page = write_report(run).read_text()
    assert "<code>softmax</code>" in page and "<strong>distances</strong>" in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert '<summary>The model <span class="score warn">0.25</span></summary>' in page  # (1*1 + 0*3) / 4
