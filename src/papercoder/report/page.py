"""One self-contained HTML page for a :class:`RunReport`: no scripts, no fonts, no requests.

Everything the page needs is in the file: the styles, the diagrams as inline SVG, the code
highlighted by pygments into spans. Collapsible parts are ``<details>`` elements, so the page
works with scripts disabled and in any mail client that shows HTML attachments.
"""

from __future__ import annotations

import base64

import re
from html import escape
from typing import Any

from papercoder.paper.figures import preview
from papercoder.report.collect import RepoFile, RunReport, number
from papercoder.mermaid import DiagramError, render

_STATUS_CLASS = {"done": "ok", "degraded": "warn", "failed": "bad", "interrupted": "warn", "running": "warn"}


def render_page(report: RunReport) -> str:
    """The HTML of the whole page."""
    manifest = report.manifest
    title = manifest.title or report.root.name
    body = [
        _header(report, title),
        _stages(report),
        _paper_and_plan(report),
        _diagrams(report),
        _repository(report),
        _rounds(report),
        _checks_and_scores(report),
    ]
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; base-uri 'none'\">"
        f"<title>{escape(title)} · papercoder report</title><style>{_CSS}{_code_css()}</style></head><body>"
        + _nav() + "<main>" + "".join(body) + "</main></body></html>\n"
    )


def _anchor(kind: str, name: str) -> str:
    return f"{kind}-" + re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")


def _nav() -> str:
    links = [("status", "Status"), ("paper", "Paper and plan"), ("diagrams", "Diagrams"), ("repository", "Code"),
             ("rounds", "Debug and verify"), ("checks", "Checklist and scores")]
    return "<nav>" + "".join(f'<a href="#{a}">{t}</a>' for a, t in links) + "</nav>"


def _header(report: RunReport, title: str) -> str:
    m = report.manifest
    status = m.status
    fallbacks = m.fallbacks()
    out = [f'<header id="status"><h1>{escape(title)}</h1>',
           f'<p class="status {_STATUS_CLASS.get(status, "warn")}">status: <strong>{escape(status)}</strong></p>',
           "<dl>"]
    for label, value in (("paper", m.source), ("model", m.model or ""), ("started", m.created), ("last change", m.updated),
                         ("papercoder", m.papercoder_version)):
        if value:
            out.append(f"<dt>{label}</dt><dd>{escape(str(value))}</dd>")
    out.append("</dl>")
    if m.error:
        out.append(f'<p class="bad">stopped: {escape(m.error)}</p>')
    stopped = [name for name, record in report.stage_rows if record.status not in ("done", "degraded", "pending")]
    if stopped:
        out.append(f'<p class="warn">stages not finished: {escape(", ".join(stopped))}</p>')
    if fallbacks:
        out.append(f'<div class="fallbacks"><h2>{len(fallbacks)} fallback(s): what is less than asked for</h2><ul>')
        out += [f"<li><b>{escape(stage)}</b>: {escape(_without_prefix(message, stage))}</li>" for stage, message in fallbacks]
        out.append("</ul></div>")
    for problem in report.problems:
        out.append(f'<p class="warn">{escape(problem)}</p>')
    out.append("</header>")
    return "".join(out)


def _stages(report: RunReport) -> str:
    totals = report.manifest.totals or {}
    rows = []
    for name, record in report.stage_rows:
        cell = f'<a href="#stage-{name}">{name}</a>' if name in ("debug", "verify") else name
        rows.append(f'<tr><td>{cell}</td><td class="{_STATUS_CLASS.get(record.status, "")}">'
                    f"{escape(record.status)}</td><td>{record.seconds:.1f}&nbsp;s</td></tr>")
    table = "<table><tr><th>stage</th><th>status</th><th>wall time</th></tr>" + "".join(rows) + "</table>"
    calls = [(label, t) for label, t in totals.items() if isinstance(t, dict)]
    if calls:
        head = "<tr><th>calls of</th><th>calls</th><th>input</th><th>cached input</th><th>output</th><th>cost</th><th>call time</th></tr>"
        lines = []
        for label, t in calls:
            cost = "unknown" if t.get("cost_unknown") and not t.get("cost") else f"${number(t.get('cost')):.4f}"
            row_class = ' class="total"' if label == "total" else ""
            lines.append(f"<tr{row_class}><td>{escape(STAGE_NAMES.get(str(label), str(label)))}</td><td>{int(number(t.get('calls'))):,}</td>"
                         f"<td>{int(number(t.get('input_tokens'))):,}</td><td>{int(number(t.get('cached_input_tokens'))):,}</td>"
                         f"<td>{int(number(t.get('output_tokens'))):,}</td><td>{cost}</td><td>{number(t.get('call_seconds')):.1f}&nbsp;s</td></tr>")
        table += "<h3>Model calls, tokens and cost</h3><table>" + head + "".join(lines) + "</table>" + _token_chart(calls)
    return f'<section><h2>Stages</h2>{table}</section>'


def _token_chart(calls: list[tuple[str, dict[str, Any]]]) -> str:
    """Stacked bars per stage label: uncached input, cached input, output."""
    rows = [(label, t) for label, t in calls if label != "total"]
    if not rows:
        return ""
    biggest = max(int(t.get("input_tokens", 0)) + int(t.get("output_tokens", 0)) for _, t in rows) or 1
    height = 22 * len(rows) + 30
    parts = []
    for k, (label, t) in enumerate(rows):
        cached = int(t.get("cached_input_tokens", 0))
        fresh = max(0, int(t.get("input_tokens", 0)) - cached)
        output = int(t.get("output_tokens", 0))
        x = 130.0
        y = 8 + 22 * k
        parts.append(f'<text x="0" y="{y + 12}">{escape(label[:18])}</text>')
        for value, cls in ((fresh, "fresh"), (cached, "cached"), (output, "output")):
            width = 360 * value / biggest
            if width > 0:
                parts.append(f'<rect class="{cls}" x="{x:.1f}" y="{y}" width="{width:.1f}" height="14"><title>{cls}: {value:,}</title></rect>')
            x += width
    legend = (f'<text x="130" y="{height - 4}">■ uncached input</text><text x="260" y="{height - 4}" class="cached-t">■ cached input</text>'
              f'<text x="380" y="{height - 4}" class="output-t">■ output</text>')
    return f'<svg class="chart" viewBox="0 0 500 {height}" role="img">{"".join(parts)}{legend}</svg>'


def _paper_and_plan(report: RunReport) -> str:
    out = ['<section id="paper"><h2>Paper and plan</h2>']
    if report.paper_outline:
        out.append("<details open><summary>The paper's outline</summary><ul class=\"outline\">")
        out += [f'<li class="l{level}">{escape(text)}</li>' for level, text in report.paper_outline]
        out.append("</ul></details>")
    if report.figures or report.figure_warnings:
        # the images are inlined: the page allows no other source, and it stays one file to send
        out.append(f"<details><summary>The paper's figures ({len(report.figures)})</summary>")
        for figure in report.figures:
            media_type, small = preview(figure)  # a light copy: the full image is in paper/figures/
            data = base64.b64encode(small).decode("ascii")
            out.append(f'<figure class="paperfig"><img alt="{escape(figure.label)}" loading="lazy" '
                       f'src="data:{escape(media_type)};base64,{data}"><figcaption>{escape(figure.caption or figure.label)}'
                       f' <span class="muted">({escape(figure.source)}; paper/figures/{escape(figure.file_name)})</span>'
                       '</figcaption></figure>')
        out += [f'<p class="muted">{escape(warning)}</p>' for warning in report.figure_warnings]
        out.append("</details>")
    if report.inventory:
        out.append("<h3>What the plan must cover</h3><table><tr><th>id</th><th>kind</th><th>item</th><th>files</th></tr>")
        for item in report.inventory:
            files = ", ".join(f'<a href="#{_anchor("file", f)}">{escape(f)}</a>' for f in item["files"]) or '<span class="warn">no file</span>'
            names = item.get("names") or []
            if names:
                files += " (" + ", ".join(f'<a href="#{_anchor("file", path)}"><code>{escape(name)}</code></a>' for path, name in names) + ")"
            ident = str(item.get("id"))
            out.append(f'<tr id="{_anchor("item", ident)}"><td>{escape(ident)}</td><td>{escape(str(item.get("kind", "")))}</td>'
                       f"<td>{escape(str(item.get('text', '')))}</td><td>{files}</td></tr>")
        out.append("</table>")
    else:
        out.append('<p class="muted">The plan has no inventory of experiments, baselines and datasets.</p>')
    if report.plan.strip():
        out.append(f"<details><summary>The overall plan</summary><div class=\"prose\">{markdown(report.plan)}</div></details>")
    out.append("</section>")
    return "".join(out)


def _diagrams(report: RunReport) -> str:
    out = ['<section id="diagrams"><h2>Diagrams</h2>']
    if not report.diagrams:
        out.append('<p class="muted">This run has no diagrams.</p>')
    for kind, source in report.diagrams.items():
        out.append(f"<h3>{kind.capitalize()} diagram</h3>")
        try:
            out.append(f'<div class="diagram-box">{render(source)}</div>')
            out.append(f"<details><summary>Mermaid source</summary><pre>{escape(source)}</pre></details>")
        except DiagramError as exc:
            out.append(f'<p class="warn">The {kind} diagram does not parse: {escape(str(exc))}. Its source:</p>'
                       f"<pre>{escape(source)}</pre>")
    out.append("</section>")
    return "".join(out)


def _repository(report: RunReport) -> str:
    out = ['<section id="repository"><h2>The generated repository</h2>']
    if not report.files:
        out.append('<p class="muted">No repository was written (the run stopped before the code stage).</p></section>')
        return "".join(out)
    findings = sum(len(f.findings) for f in report.files)
    out.append(f"<p>{len(report.files)} files; static checks: {findings} finding(s).</p><ul class=\"tree\">")
    for item in report.files:
        marks = f' <span class="warn">{len(item.findings)} finding(s)</span>' if item.findings else ""
        out.append(f'<li><a href="#{_anchor("file", item.path)}">{escape(item.path)}</a>{marks}</li>')
    out.append("</ul>")
    out += [_file(item) for item in report.files]
    out.append("</section>")
    return "".join(out)


def _file(item: RepoFile) -> str:
    anchor = _anchor("file", item.path)
    out = [f'<details class="file" id="{anchor}"><summary><code>{escape(item.path)}</code> '
           f'<span class="muted">{item.size:,} bytes</span></summary>']
    if item.covers:
        out.append("<p>covers: " + ", ".join(f'<a href="#{_anchor("item", c)}">{escape(c)}</a>' for c in item.covers) + "</p>")
    if item.findings:
        out.append('<ul class="findings">')
        out += [f'<li><a href="#{anchor}-L{f["line"]}">line {f["line"]}</a> <b>{escape(f["kind"])}</b>: {escape(f["message"])}</li>'
                for f in item.findings]
        out.append("</ul>")
    out.append('<div class="side">')
    out.append(f'<div class="code">{_highlight(item, anchor)}</div>')
    if item.analysis.strip():
        out.append(f'<div class="analysis"><h4>Analysis</h4><div class="prose">{markdown(item.analysis)}</div></div>')
    out.append("</div></details>")
    return "".join(out)


def _highlight(item: RepoFile, anchor: str) -> str:
    if item.text is None:
        return '<p class="muted">binary or too large to show</p>'
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import TextLexer, get_lexer_for_filename
    from pygments.util import ClassNotFound

    try:
        lexer = get_lexer_for_filename(item.path, stripnl=False)
    except ClassNotFound:
        lexer = TextLexer(stripnl=False)
    lines = sorted({int(f["line"]) for f in item.findings if int(f.get("line") or 0) > 0})
    formatter = HtmlFormatter(linenos="inline", lineanchors=f"{anchor}-L", anchorlinenos=True, hl_lines=lines, wrapcode=True)
    return highlight(item.text, lexer, formatter)


def _rounds(report: RunReport) -> str:
    out = ['<section id="rounds"><h2>Debugging and verification rounds</h2>']
    if report.debug:
        out.append(f'<p id="stage-debug">debugging: <b>{escape(str(report.debug.get("status")))}</b> after '
                   f'{int(number(report.debug.get("iterations")))} round(s); {int(number(report.debug.get("lines_changed")))} of '
                   f'{int(number(report.debug.get("lines_total")))} lines changed'
                   + (f'; {len(report.debug["planned_ran"])} of {int(number(report.debug.get("planned_total")))} planned files ran a function in the smoke run'
                      if isinstance(report.debug.get("planned_ran"), list) else "") + '.</p>')
        if report.debug.get("last_error"):
            out.append(f'<details><summary>last error</summary><pre>{escape(str(report.debug["last_error"]))}</pre></details>')
    if report.verify:
        v = report.verify
        out.append(f'<p id="stage-verify">verification: <b>{escape(str(v.get("status")))}</b>; coverage '
                   f'{number(v.get("coverage_before")):.2f} → {number(v.get("coverage_after")):.2f} of '
                   f'{int(number(v.get("leaves")))} requirements; {len(v.get("failing")) if isinstance(v.get("failing"), list) else 0} still failing.</p>')
    if not report.rounds:
        out.append('<p class="muted">No repair rounds were needed or run.</p>')
    for item in report.rounds:
        out.append(f'<details class="round"><summary>{item.stage} round {item.number}: {escape(item.status)}</summary>')
        if item.summary:
            out.append(f"<p><code>{escape(item.summary)}</code></p>")
        if item.error:
            out.append(f"<h4>what it answered</h4><pre>{escape(item.error)}</pre>")
        out.append(f"<h4>the change</h4>{_diff(item.diff)}" if item.diff else '<p class="muted">no change was committed</p>')
        out.append("</details>")
    out.append("</section>")
    return "".join(out)


def _diff(text: str) -> str:
    lines = []
    for line in text.splitlines():
        cls = "add" if line.startswith("+") and not line.startswith("+++") else \
            "del" if line.startswith("-") and not line.startswith("---") else "hunk" if line.startswith("@@") else ""
        lines.append(f'<span class="{cls}">{escape(line)}</span>' if cls else escape(line))
    return '<pre class="diff">' + "\n".join(lines) + "</pre>"


def _checks_and_scores(report: RunReport) -> str:
    out = ['<section id="checks"><h2>Checklist and scores</h2>']
    if report.checklist:
        out.append("<h3>Requirements checklist (made at planning; the verify stage's last grades)</h3>" + _tree(report.checklist))
    else:
        out.append('<p class="muted">No verification checklist.</p>')
    for name, data in report.scores:
        if data.get("kind") == "grade":
            out.append(f"<h3>grade: {escape(name)}</h3><p>score <b>{float(data.get('total') or 0):.3f}</b> "
                       f"({data.get('leaves', 0)} leaves, {data.get('invalid', 0)} invalid) by {escape(str(data.get('model')))}</p>")
            if isinstance(data.get("tree"), dict):
                out.append(_tree(data["tree"]))
        else:
            score = data.get("score") or {}
            out.append(f"<h3>eval: {escape(name)}</h3><p>{escape(str(data.get('mode')))}: mean <b>{score.get('mean')}</b> of "
                       f"{score.get('valid', 0)} valid sample(s) by {escape(str(data.get('model')))}</p>")
            for critique in data.get("critiques") or []:
                out.append(f"<details><summary>critique</summary><pre class=\"prose\">{escape(str(critique))}</pre></details>")
    out.append("</section>")
    return "".join(out)


def _tree(node: dict[str, Any], depth: int = 0) -> str:
    children = node.get("sub_tasks") or []
    grade = node.get("grade") if isinstance(node.get("grade"), dict) else None
    score = node.get("score")
    if score is None and grade is not None:
        score = grade.get("score")
    score = None if score is None else number(score)
    mark = "" if score is None else f' <span class="score {"ok" if float(score) >= 1 else "bad" if float(score) == 0 else "warn"}">{float(score):.2f}</span>'
    text = escape(str(node.get("requirements", "")))
    ident = _anchor("leaf", str(node.get("id", "")))
    if not children:
        reason = ""
        if grade:
            why = grade.get("explanation") or grade.get("reason") or grade.get("error") or ""
            reason = f'<div class="reason">{escape(str(why))}</div>' if why else ""
        return f'<div class="leaf" id="{ident}">{text}{mark}{_source(node)}{reason}</div>'
    inner = "".join(_tree(child, depth + 1) for child in children)
    return f'<details class="node" id="{ident}"{" open" if depth < 1 else ""}><summary>{text}{mark}</summary>{inner}</details>'


def _source(leaf: dict[str, Any]) -> str:
    """Where a checklist leaf comes from (section, quote) and the files that own it."""
    parts = []
    if isinstance(leaf.get("section"), str) and leaf["section"]:
        parts.append(escape(leaf["section"]))
    if isinstance(leaf.get("quote"), str) and leaf["quote"]:
        parts.append("“" + escape(leaf["quote"][:300]) + "”")
    files = [f for f in leaf.get("files") or [] if isinstance(f, str)] if isinstance(leaf.get("files"), list) else []
    if files:
        parts.append("files: " + ", ".join(f"<code>{escape(f)}</code>" for f in files[:8]))
    return f'<div class="reason">{" · ".join(parts)}</div>' if parts else ""


def markdown(text: str) -> str:
    """Markdown from a model's answer as HTML, raw HTML in it shown as text, never rendered."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).render(text)


# the call log's labels, in the stage vocabulary of the rest of the page
STAGE_NAMES = {"planning": "plan", "analysis": "analyze", "coding": "code", "debugging": "debug"}


def _without_prefix(message: str, stage: str) -> str:
    """``verify: the checklist…`` under the heading ``verify``: the stage said once."""
    for name in (stage, STAGE_NAMES.get(stage, stage)):
        if message.startswith(f"{name}: "):
            return message[len(name) + 2 :]
    return message


def _code_css() -> str:
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(style="default").get_style_defs(".highlight")


_CSS = """
*{box-sizing:border-box}body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d2430;background:#f6f7f9}
nav{position:sticky;top:0;z-index:2;display:flex;flex-wrap:wrap;gap:4px 14px;padding:8px 16px;background:#1d2430}
nav a{color:#e8ecf2;text-decoration:none;font-size:14px}main{max-width:1200px;margin:0 auto;padding:12px 16px 60px}
section,header{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:12px 16px;margin:14px 0;overflow-wrap:anywhere}
h1{font-size:22px;margin:4px 0}h2{font-size:18px;margin:6px 0 10px}h3{font-size:16px;margin:14px 0 6px}h4{margin:8px 0 4px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:6px 0}dt{color:#5b6472}dd{margin:0}
table{border-collapse:collapse;margin:6px 0;display:block;overflow-x:auto;max-width:100%}td,th{border:1px solid #dde1e7;padding:3px 8px;text-align:left;vertical-align:top;overflow-wrap:normal}
tr.total td{font-weight:600}.ok{color:#17803d}.warn{color:#a15c00}.bad{color:#b42318}.muted{color:#6b7280}
.status{font-size:18px}.fallbacks{background:#fff7e6;border:1px solid #f0c36d;border-radius:6px;padding:4px 12px;margin:8px 0}
pre{background:#f3f4f6;padding:8px;overflow-x:auto;white-space:pre-wrap;font-size:13px;border-radius:4px}pre.prose{white-space:pre-wrap}
.prose code{background:#f3f4f6;padding:0 3px;border-radius:3px}.prose pre code{padding:0}.prose h1,.prose h2,.prose h3{font-size:15px;margin:10px 0 4px}
.diagram-box{overflow-x:auto;background:#fff;border:1px solid #eceef2;border-radius:4px;padding:6px}
svg.diagram{max-width:none;font:12px system-ui,sans-serif}svg.diagram rect{fill:#eef3fb;stroke:#44618f}svg.diagram line,svg.diagram path{stroke:#44618f;fill:none}
svg.diagram marker path{fill:#44618f;stroke:#44618f}svg.diagram marker path.hollow{fill:#fff}svg.diagram text{fill:#1d2430}svg.diagram .name{font-weight:600}
svg.diagram rect.note{fill:#fff8d6;stroke:#c9a227}svg.diagram rect.block{fill:none;stroke:#8a97ad;stroke-dasharray:3,3}svg.diagram .lifeline{stroke-dasharray:2,4;stroke:#8a97ad}
svg.diagram .label{fill:#33415c}svg.diagram .block-label{font-weight:600;fill:#55627a}svg.diagram line.branch{stroke:#8a97ad;stroke-dasharray:3,3}
svg.chart{width:100%;max-width:560px;font:11px system-ui,sans-serif}svg.chart .fresh{fill:#44618f}svg.chart .cached{fill:#9db4d9}svg.chart .output{fill:#e0a030}
svg.chart .cached-t{fill:#6c88b5}svg.chart .output-t{fill:#c0851a}
figure.paperfig{display:flex;gap:12px;align-items:flex-start;margin:8px 0}figure.paperfig img{max-width:60%;border:1px solid #ddd}ul.tree{columns:2 260px;padding-left:18px}ul.outline{padding-left:18px}ul.outline .l2{margin-left:18px}
details{margin:4px 0}summary{cursor:pointer}details.file{border-top:1px solid #eceef2;padding-top:4px}
.side{display:flex;flex-wrap:wrap;gap:12px}.side .code{flex:3 1 480px;min-width:0;overflow-x:auto}.side .analysis{flex:2 1 280px;min-width:0}
.highlight pre{margin:0}.highlight .hll{background:#ffe4e1}ul.findings{color:#a15c00}
pre.diff .add{color:#17803d;background:#eaf7ee}pre.diff .del{color:#b42318;background:#fdeceb}pre.diff .hunk{color:#6b46c1}
.node,.leaf{margin-left:14px}.leaf{padding:2px 0;border-bottom:1px dotted #e3e6eb}.reason{color:#5b6472;font-size:13px;margin-left:10px}
.score{font-weight:600;margin-left:6px}
@media (max-width:600px){main{padding:6px}section,header{padding:8px}body{font-size:14px}}
"""
