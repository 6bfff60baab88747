"""Export an executed notebook to the code-hidden HTML report (title, question, parameters,
contents, provenance footer, a link to the failing cell)."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from wpeval.publish import params as _params
from wpeval.publish.report import to_json
from wpeval.publish.run.plan import ERROR_ANCHOR, TEMPLATES, Job


# -- HTML export ----------------------------------------------------------------------------

_ERROR_TAG = "papermill-error-cell-tag"


def _mark_failure(nb) -> None:
    """Drop papermill's top-of-notebook error note (the header shows a banner instead) and make
    sure an anchor with id ERROR_ANCHOR precedes the failing cell, quoting its code (the
    export hides code, but the reader of a failure needs it)."""
    import nbformat

    def tagged(c) -> bool:
        return _ERROR_TAG in c.metadata.get("tags", [])

    anchor_id = f'id="{ERROR_ANCHOR}"'
    cells = [c for c in nb.cells if not (tagged(c) and anchor_id not in c.source)]
    anchor_at = next((i for i, c in enumerate(cells) if tagged(c) and anchor_id in c.source),
                     None)
    if anchor_at is None:
        # no papermill marker (e.g. a cell timed out): the failing cell is the last one started
        started = [i for i, c in enumerate(cells) if c.cell_type == "code"
                   and c.metadata.get("papermill", {}).get("start_time")]
        anchor_at = started[-1] if started else None
        if anchor_at is None:
            nb.cells = cells
            return
        cells.insert(anchor_at, nbformat.v4.new_markdown_cell(""))
    failing = cells[anchor_at + 1].source if anchor_at + 1 < len(cells) else ""
    fence = "~~~~" if "```" in failing else "```"
    cells[anchor_at] = nbformat.v4.new_markdown_cell(
        f'<span id="{ERROR_ANCHOR}" class="wpeval-error-anchor">Execution stopped with an error '
        f"in the next cell. Its code:</span>\n\n{fence}python\n{failing}\n{fence}\n")
    nb.cells = cells


def _strip_external_scripts(text: str) -> str:
    """Remove the exporter's CDN scripts (require.js, MathJax, mermaid): reports work offline."""
    def keep(m: re.Match) -> str:
        tag, body = m.group(1), m.group(2)
        external = re.search(r"src\s*=\s*[\"']?https?:", tag) or "https://" in body
        return "" if external or "MathJax" in body else m.group(0)

    return re.sub(r"(<script\b[^>]*>)(.*?)</script>", keep, text, flags=re.S | re.I)


def _headings(body: str) -> list[dict]:
    out = []
    for m in re.finditer(r'<h([2-3]) id="([^"]+)"[^>]*>(.*?)</h\1>', body, flags=re.S):
        text = re.sub(r'<a class="anchor-link".*?</a>', "", m.group(3), flags=re.S)
        text = html.unescape(re.sub(r"<[^>]+>", "", text)).strip()
        if text:
            out.append({"level": int(m.group(1)), "id": html.unescape(m.group(2)), "text": text})
    return out


def export_html(nb_path: str | Path, html_path: str | Path, prov: dict, job: Job) -> Path:
    """Export an executed notebook to HTML with code hidden, adding a header (title, question,
    parameters, contents, failure banner) and a provenance footer.

    Uses nbconvert's HTMLExporter (lab template) with ``exclude_input``,
    ``exclude_input_prompt``, ``exclude_output_prompt`` and ``embed_images``; CDN scripts
    (MathJax, require.js, mermaid) are removed so the page needs no network.
    """
    import jinja2
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    nb = nbformat.read(str(nb_path), as_version=4)
    if prov.get("status") != "ok" and (prov.get("error") or {}).get("ename") != "MissingResults":
        _mark_failure(nb)
    intro = next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"
                  and ERROR_ANCHOR not in c.source), None)
    intro_html = markdown2html_mistune(nb.cells.pop(intro).source) if intro is not None else ""
    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True, embed_images=True)
    body, _ = exporter.from_notebook_node(nb)
    body = _strip_external_scripts(body)
    sch = _params.parse_parameters(_params.read_parameters_cell(job.path), notebook=job.notebook)
    rows = [{"name": p.name, "value": json.dumps(to_json(job.params[p.name])), "doc": p.doc,
             "changed": p.name in job.changed} for p in sch.params if p.name in job.params]
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True)
    ctx = {"prov": prov, "title": prov.get("title") or job.notebook, "intro": intro_html,
           "params": rows, "toc": _headings(body), "anchor": ERROR_ANCHOR,
           "has_anchor": f'id="{ERROR_ANCHOR}"' in body,
           "prov_json": json.dumps(to_json({k: v for k, v in prov.items() if k != "kernel"}),
                                   sort_keys=True, indent=2)}
    header = env.get_template("report_header.html.j2").render(**ctx)
    footer = env.get_template("report_footer.html.j2").render(**ctx)
    css = (TEMPLATES / "wpeval.css").read_text(encoding="utf-8")
    body = body.replace("</head>", f"<style>{css}</style>\n</head>", 1)
    body = re.sub(r"<main>", lambda m: m.group(0) + header, body, count=1) \
        if "<main>" in body else re.sub(r"<body[^>]*>", lambda m: m.group(0) + header, body, 1)
    cut = body.rfind("</main>") if "</main>" in body else body.rfind("</body>")
    body = body[:cut] + footer + body[cut:]
    body = re.sub(r"<title>.*?</title>", f"<title>{html.escape(ctx['title'])}</title>", body,
                  count=1, flags=re.S)
    Path(html_path).write_text(body, encoding="utf-8")
    return Path(html_path)


# -- index ----------------------------------------------------------------------------------
