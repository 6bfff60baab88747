"""Export an executed notebook to the code-hidden HTML report through the nbconvert template
``wpeval_report`` (title, SYNTHETIC DATA banner, question, findings, downloads, parameters,
contents, provenance footer, a link to the failing cell)."""

from __future__ import annotations

import json
from html.parser import HTMLParser
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
    anchor_at = next((i for i, c in enumerate(cells) if tagged(c) and anchor_id in c.source), None)
    if anchor_at is None:
        # no papermill marker (e.g. a cell timed out): the failing cell is the last one started
        started = [
            i
            for i, c in enumerate(cells)
            if c.cell_type == "code" and c.metadata.get("papermill", {}).get("start_time")
        ]
        anchor_at = started[-1] if started else None
        if anchor_at is None:
            nb.cells = cells
            return
        cells.insert(anchor_at, nbformat.v4.new_markdown_cell(""))
    failing = cells[anchor_at + 1].source if anchor_at + 1 < len(cells) else ""
    fence = "~~~~" if "```" in failing else "```"
    cells[anchor_at] = nbformat.v4.new_markdown_cell(
        f'<span id="{ERROR_ANCHOR}" class="wpeval-error-anchor">Execution stopped with an error '
        f"in the next cell. Its code:</span>\n\n{fence}python\n{failing}\n{fence}\n"
    )
    nb.cells = cells


class _Headings(HTMLParser):
    """h2/h3 headings (id and text) of an HTML fragment."""

    def __init__(self):
        super().__init__()
        self.found: list[dict] = []
        self._open: dict | None = None

    def handle_starttag(self, tag, attrs):
        if tag in ("h2", "h3") and dict(attrs).get("id"):
            self._open = {"level": int(tag[1]), "id": dict(attrs)["id"], "text": ""}
        elif (
            tag == "a"
            and self._open is not None
            and "anchor-link" in (dict(attrs).get("class") or "")
        ):
            self._open["skip"] = True

    def handle_endtag(self, tag):
        if tag == "a" and self._open is not None:
            self._open.pop("skip", None)
        if tag in ("h2", "h3") and self._open is not None:
            if self._open["text"].strip():
                self.found.append(
                    {
                        "level": self._open["level"],
                        "id": self._open["id"],
                        "text": self._open["text"].strip(),
                    }
                )
            self._open = None

    def handle_data(self, data):
        if self._open is not None and not self._open.get("skip"):
            self._open["text"] += data


def _headings(nb) -> list[dict]:
    """The contents: h2/h3 headings of the notebook's markdown cells, with the ids nbconvert
    gives them (rendered with nbconvert's own markdown filter)."""
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    parser = _Headings()
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            parser.feed(markdown2html_mistune(cell.source))
    return parser.found


def _run_files(run_dir: Path, pdf_name: str | None) -> tuple[dict, list, list]:
    """The results.json of a run and its download links (label, href) and tables."""
    try:
        doc = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        doc = {}
    dl = doc.get("downloads") or {}
    links = []
    if pdf_name:
        links.append(("PDF of this report", f"downloads/{pdf_name}"))
    for ext, href in sorted((dl.get("spreadsheets") or {}).items()):
        label = {"ods": "Spreadsheet (ODS, OpenDocument)", "xlsx": "Spreadsheet (XLSX, Excel)"}
        if (run_dir / href).is_file():
            links.append((label.get(ext, ext), href))
    for i, fig in enumerate(doc.get("figures") or []):
        for ext in ("png", "svg"):
            if fig.get(ext) and (run_dir / fig[ext]).is_file():
                links.append(
                    (f"Figure {i + 1} ({ext.upper()}): {fig.get('caption', '')}", fig[ext])
                )
    tables = [t for t in dl.get("tables") or [] if (run_dir / t["csv"]).is_file()]
    return doc, links, tables


def export_html(
    nb_path: str | Path, html_path: str | Path, prov: dict, job: Job, pdf_name: str | None = None
) -> Path:
    """Export an executed notebook to HTML with code hidden, through the nbconvert template
    ``wpeval_report`` (``wpeval/publish/templates/wpeval_report``, extending ``lab``): a header
    (navigation, SYNTHETIC DATA banner, title and question, findings, downloads, parameters,
    contents, failure banner) and a provenance footer; no external scripts.

    Uses nbconvert's HTMLExporter with ``exclude_input``, ``exclude_input_prompt``,
    ``exclude_output_prompt`` and ``embed_images``. The page title starts with "SYNTHETIC
    DATA" for synthetic runs. ``pdf_name`` is linked as the PDF download when given.
    """
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    nb = nbformat.read(str(nb_path), as_version=4)
    if prov.get("status") != "ok" and (prov.get("error") or {}).get("ename") != "MissingResults":
        _mark_failure(nb)
    intro = next(
        (
            i
            for i, c in enumerate(nb.cells)
            if c.cell_type == "markdown" and ERROR_ANCHOR not in c.source
        ),
        None,
    )
    intro_html = markdown2html_mistune(nb.cells.pop(intro).source) if intro is not None else ""
    run_dir = Path(html_path).parent
    doc, links, tables = _run_files(run_dir, pdf_name)
    synthetic = bool(prov.get("synthetic"))
    title = prov.get("title") or job.notebook
    nb.metadata["title"] = ("SYNTHETIC DATA \u2013 " if synthetic else "") + title
    sch = _params.parse_parameters(_params.read_parameters_cell(job.path), notebook=job.notebook)
    rows = [
        {
            "name": p.name,
            "value": json.dumps(to_json(job.params[p.name])),
            "doc": p.doc,
            "changed": p.name in job.changed,
        }
        for p in sch.params
        if p.name in job.params
    ]
    failing = ERROR_ANCHOR in "".join(c.source for c in nb.cells if c.cell_type == "markdown")
    ctx = {
        "prov": prov,
        "title": title,
        "intro": intro_html,
        "params": rows,
        "changed": bool(job.changed),
        "toc": _headings(nb),
        "anchor": ERROR_ANCHOR,
        "has_anchor": failing,
        "synthetic": synthetic,
        "marker": (prov.get("data") or {}).get("synthetic_marker"),
        "findings": doc.get("findings") or [],
        "downloads": links,
        "tables": tables,
        "css": (TEMPLATES / "wpeval.css").read_text(encoding="utf-8"),
        "prov_json": json.dumps(
            to_json({k: v for k, v in prov.items() if k != "kernel"}), sort_keys=True, indent=2
        ),
    }
    exporter = HTMLExporter(
        template_name="wpeval_report",
        extra_template_basedirs=[str(TEMPLATES)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    body, _ = exporter.from_notebook_node(nb, resources={"wpeval": ctx})
    Path(html_path).write_text(body, encoding="utf-8")
    return Path(html_path)
