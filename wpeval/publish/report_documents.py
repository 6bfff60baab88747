"""The documents a :class:`wpeval.publish.report.Report` writes when it finishes: the content
of ``results.json`` (no timestamps, so the same inputs give the same bytes), of the kernel-side
``provenance.json`` (timings, versions, interpreter) and the downloadable spreadsheets with
their cover sheet, as a mixin of ``Report``.
"""

from __future__ import annotations

import datetime as _dt
import json
import time

from wpeval.publish import downloads as _dl
from wpeval.publish import params as _params
from wpeval.publish import provenance as _prov
from wpeval.publish.values import to_json


def _utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


class DocumentsMixin:
    """results.json, provenance.json and the spreadsheets (mixed into ``Report``)."""

    def results_document(self) -> dict:
        """The content of ``results.json`` (no timestamps, no output locations)."""
        git = _prov.git_info()
        shown_params = {k: v for k, v in self.params.items() if k not in _params.LOCATION_PARAMS}
        return to_json(
            {
                "notebook": self.name,
                "provenance": {
                    "package_version": _prov.package_version(),
                    "git_commit": git["commit"],
                    "git_dirty": git["dirty"],
                    "parameters": shown_params,
                    "data": self.data_info or None,
                },
                "results": self.results,
                "figures": self.figures,
                "synthetic": self.synthetic,
                "findings": self.findings,
                "labels": self.labels,
                "downloads": self._downloads(),
            }
        )

    def _downloads(self) -> dict:
        if not self.write_files:
            return {}
        stem = f"{_dl.FOLDER}/{self.name}"
        return {
            "tables": [
                {"key": t.key, "caption": t.caption, "csv": f"{_dl.FOLDER}/{t.csv}"}
                for t in self.tables
                if t.csv
            ],
            "spreadsheets": {ext: f"{stem}.{ext}" for ext in _dl.SPREADSHEET_ENGINES},
        }

    def _write_spreadsheets(self) -> None:
        title = self.params.get("title") or self.name
        doc = self.results_document()["provenance"]
        cover = {
            "What this is": f"Tables of the wpeval report {self.name}, one per sheet.",
            "Data": (
                "SYNTHETIC DATA made by the wpeval generator: the providers are invented "
                "and the figures are not statistics of any real programme."
                if self.synthetic
                else "Referral-level administrative data."
            ),
            "Source": (self.data_info or {}).get("path", ""),
            "Input data fingerprint (SHA-256)": str((self.data_info or {}).get("fingerprint", "")),
            "Produced by": f"wpeval {doc['package_version']}, git commit {doc['git_commit']}",
            "Parameters": json.dumps(doc["parameters"], sort_keys=True),
            "Findings": " ".join(self.findings),
        }
        for ext in _dl.SPREADSHEET_ENGINES:
            _dl.write_spreadsheet(
                self.output_dir / _dl.FOLDER / f"{self.name}.{ext}",
                ("SYNTHETIC DATA: " if self.synthetic else "") + title,
                self.tables,
                cover,
            )

    def provenance_document(self) -> dict:
        """The content of the kernel-side ``provenance.json`` (timings, versions, interpreter)."""
        git = _prov.git_info()
        return to_json(
            {
                "notebook": self.name,
                "package_version": _prov.package_version(),
                "git": git,
                "parameters": self.params,
                "data": self.data_info or None,
                "synthetic": self.synthetic,
                "kernel": _prov.interpreter(),
                "libraries": _prov.library_versions(),
                "started_utc": self._started,
                "finished_utc": _utc_now(),
                "duration_s": round(time.perf_counter() - self._t0, 3),
                "timings": self.timings,
            }
        )
