"""The index page: ``outputs/index.html`` rebuilt from every ``outputs/*/provenance.json``."""

from __future__ import annotations

import datetime as _dt
import itertools
import json
import os
from pathlib import Path
from typing import Any

from wpeval.publish import provenance as _prov
from wpeval.publish.run.plan import ERROR_ANCHOR, TEMPLATES


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4g}"
    return str(value)


def _index_row(prov_path: Path, out: Path) -> dict:
    run_dir = prov_path.parent
    rel = run_dir.name
    try:
        prov = json.loads(prov_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return {"run_id": rel, "batch": rel[:16], "notebook": "?", "title": rel,
                "status": "unreadable", "error": {"ename": "BadProvenance", "evalue": str(exc)},
                "links": [], "figures": [], "params": [], "changed": [], "duration": ""}
    figures = []
    results_file = run_dir / "results.json"
    if results_file.is_file():
        try:
            results = json.loads(results_file.read_text(encoding="utf-8")).get("results", {})
            figures = [(k, _fmt(v)) for k, v in sorted(results.items())
                       if v is None or isinstance(v, (int, float, str, bool))][:8]
        except (OSError, ValueError):
            figures = []
    files = prov.get("files") or {}
    links = [(label, f"{rel}/{files[key]}") for key, label in
             (("html", "report"), ("ipynb", "notebook"), ("results", "results.json"))
             if files.get(key) and (run_dir / files[key]).is_file()]
    links.append(("provenance.json", f"{rel}/provenance.json"))
    error_link = None
    if prov.get("status") != "ok" and files.get("html") and (run_dir / files["html"]).is_file():
        error_link = f"{rel}/{files['html']}#{ERROR_ANCHOR}"
    git = prov.get("git") or {}
    return {
        "run_id": prov.get("run_id", rel), "batch": prov.get("batch", ""),
        "notebook": prov.get("notebook", "?"), "title": prov.get("title") or prov.get("notebook"),
        "question": prov.get("question", ""),
        "variant": ", ".join(f"{k}={v}" for k, v in (prov.get("variant") or {}).items()),
        "status": prov.get("status", "unknown"), "error": prov.get("error"),
        "error_link": error_link,
        "started": str(prov.get("started_utc", ""))[:19].replace("T", " ") + " UTC",
        "duration": f"{prov.get('duration_s', 0):.1f} s",
        "params": [(k, _fmt(v)) for k, v in (prov.get("parameters") or {}).items()],
        "changed": [(k, _fmt(v)) for k, v in (prov.get("parameters_changed") or {}).items()],
        "figures": figures, "links": links,
        "commit": (git.get("commit") or "unknown")[:10] + (" (dirty)" if git.get("dirty") else ""),
    }


def write_index(out: str | Path = "outputs") -> Path:
    """Rewrite ``out/index.html`` listing every run found in ``out/*/provenance.json``."""
    import jinja2

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = [_index_row(p, out) for p in sorted(out.glob("*/provenance.json"))]
    rows.sort(key=lambda r: r["run_id"])                       # within a batch: by notebook
    rows.sort(key=lambda r: r["batch"], reverse=True)           # batches: newest first
    batches = []
    for batch, group in itertools.groupby(rows, key=lambda r: r["batch"]):
        group = list(group)
        batches.append({"batch": batch, "rows": group,
                        "failed": sum(r["status"] != "ok" for r in group)})
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True)
    text = env.get_template("index.html.j2").render(
        batches=batches, n_runs=len(rows), n_failed=sum(r["status"] != "ok" for r in rows),
        css=(TEMPLATES / "wpeval.css").read_text(encoding="utf-8"),
        version=_prov.package_version(),
        generated=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    target = out / "index.html"
    tmp = out / f".index.{os.getpid()}.html"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)
    return target
