"""The index page: ``outputs/index.html`` rebuilt from every ``outputs/*/provenance.json``."""

from __future__ import annotations

import datetime as _dt
import itertools
import json
import os
from pathlib import Path

from wpeval.publish import formats as _formats
from wpeval.publish import provenance as _prov
from wpeval.publish.run.plan import ERROR_ANCHOR, TEMPLATES


def _key_figures(doc: dict, limit: int = 8) -> list[tuple[str, str]]:
    """(label, formatted value) of a report's scalar key figures: labelled ones first (in the
    order recorded), then the others humanised, rounded by :func:`formats.fmt_value`."""
    results = doc.get("results") or {}
    labels = doc.get("labels") or {}
    scalars = [k for k, v in results.items() if v is None or isinstance(v, (int, float, str, bool))]
    order = [k for k in labels if k in scalars] + sorted(k for k in scalars if k not in labels)
    out = []
    for k in order[:limit]:
        lab = labels.get(k) or {}
        out.append(
            (
                lab.get("label") or _formats.humanise(k),
                _formats.fmt_value(results[k], lab.get("unit")),
            )
        )
    return out


def _index_row(prov_path: Path, out: Path) -> dict:
    run_dir = prov_path.parent
    rel = run_dir.name
    try:
        prov = json.loads(prov_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return _unreadable_row(rel, exc)
    doc = _results_doc(run_dir)
    figures = _key_figures(doc)
    links, csvs = _links(prov, doc, run_dir, rel)
    thumb = _thumbnail(doc, run_dir, rel)
    files = prov.get("files") or {}
    error_link = None
    if prov.get("status") != "ok" and files.get("html") and (run_dir / files["html"]).is_file():
        error_link = f"{rel}/{files['html']}#{ERROR_ANCHOR}"
    git = prov.get("git") or {}
    return {
        "run_id": prov.get("run_id", rel),
        "batch": prov.get("batch", ""),
        "notebook": prov.get("notebook", "?"),
        "title": prov.get("title") or prov.get("notebook"),
        "question": prov.get("question", ""),
        "variant": ", ".join(f"{k}={v}" for k, v in (prov.get("variant") or {}).items()),
        "status": prov.get("status", "unknown"),
        "error": prov.get("error"),
        "error_link": error_link,
        "started": str(prov.get("started_utc", ""))[:19].replace("T", " ") + " UTC",
        "duration": f"{prov.get('duration_s', 0):.1f} s",
        "params": [(k, _formats.fmt_value(v)) for k, v in (prov.get("parameters") or {}).items()],
        "changed": [
            (k, _formats.fmt_value(v)) for k, v in (prov.get("parameters_changed") or {}).items()
        ],
        "figures": figures,
        "links": links,
        "csvs": csvs,
        "thumb": thumb,
        "findings": doc.get("findings") or [],
        "synthetic": bool(prov.get("synthetic") or doc.get("synthetic")),
        "commit": (git.get("commit") or "unknown")[:10] + (" (dirty)" if git.get("dirty") else ""),
    }


def _unreadable_row(rel: str, exc: Exception) -> dict:
    """The index row of a run whose provenance cannot be read."""
    return {
        "run_id": rel,
        "batch": rel[:16],
        "notebook": "?",
        "title": rel,
        "status": "unreadable",
        "error": {"ename": "BadProvenance", "evalue": str(exc)},
        "links": [],
        "figures": [],
        "params": [],
        "changed": [],
        "duration": "",
        "csvs": [],
        "thumb": None,
        "findings": [],
        "synthetic": False,
    }


def _results_doc(run_dir: Path) -> dict:
    """The run's ``results.json`` (empty when absent or unreadable)."""
    doc: dict = {}
    results_file = run_dir / "results.json"
    if results_file.is_file():
        try:
            doc = json.loads(results_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            doc = {}
    return doc


def _links(prov: dict, doc: dict, run_dir: Path, rel: str) -> tuple[list, list]:
    """The run's file links present on disk (report, PDF, spreadsheets, notebook, results,
    provenance) and its table CSVs, as ``(label, href)`` pairs."""
    files = prov.get("files") or {}
    links = [
        (label, f"{rel}/{files[key]}")
        for key, label in (("html", "report"), ("pdf", "PDF"))
        if files.get(key) and (run_dir / files[key]).is_file()
    ]
    dl = doc.get("downloads") or {}
    for ext, href in sorted((dl.get("spreadsheets") or {}).items()):
        if (run_dir / href).is_file():
            links.append((f"spreadsheet ({ext.upper()})", f"{rel}/{href}"))
    links += [
        (label, f"{rel}/{files[key]}")
        for key, label in (("ipynb", "notebook"), ("results", "results.json"))
        if files.get(key) and (run_dir / files[key]).is_file()
    ]
    links.append(("provenance.json", f"{rel}/provenance.json"))
    csvs = [
        (t.get("caption") or t["key"], f"{rel}/{t['csv']}")
        for t in dl.get("tables") or []
        if (run_dir / t["csv"]).is_file()
    ]
    return links, csvs


def _thumbnail(doc: dict, run_dir: Path, rel: str) -> dict | None:
    """The main figure's PNG as the run's thumbnail, when there is one."""
    main = next((f for f in doc.get("figures") or [] if f.get("main")), None)
    thumb = None
    if main and main.get("png") and (run_dir / main["png"]).is_file():
        thumb = {
            "src": f"{rel}/{main['png']}",
            "alt": main.get("alt", ""),
            "caption": main.get("caption", ""),
        }
    return thumb


def write_index(out: str | Path = "outputs") -> Path:
    """Rewrite ``out/index.html`` listing every run found in ``out/*/provenance.json``."""
    import jinja2

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = [_index_row(p, out) for p in sorted(out.glob("*/provenance.json"))]
    rows.sort(key=lambda r: r["run_id"])  # within a batch: by notebook
    rows.sort(key=lambda r: r["batch"], reverse=True)  # batches: newest first
    batches = []
    for batch, group in itertools.groupby(rows, key=lambda r: r["batch"]):
        group = list(group)
        batches.append(
            {
                "batch": batch,
                "rows": group,
                "failed": sum(r["status"] != "ok" for r in group),
                "synthetic": any(r["synthetic"] for r in group),
            }
        )
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True)
    text = env.get_template("index.html.j2").render(
        batches=batches,
        n_runs=len(rows),
        n_failed=sum(r["status"] != "ok" for r in rows),
        css=(TEMPLATES / "wpeval.css").read_text(encoding="utf-8"),
        version=_prov.package_version(),
        generated=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    )
    target = out / "index.html"
    tmp = out / f".index.{os.getpid()}.html"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)
    return target
