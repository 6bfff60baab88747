"""The notebook side of a wpeval report: parameters, data, displayed results, results.json.

A notebook uses one :class:`Report`::

    rep = Report.start("02_prime_comparison", globals())  # validates params, starts provenance
    df = rep.load_data()  # wpeval.data.io + wpeval.data.schema checks
    rep.show(table, key="contrasts", caption="...")        # display + record in results.json
    rep.figure(ax, caption="...", alt="...")               # <img> with alt text + caption
    rep.record("n_referrals", len(df))                     # a key figure
    rep.finish()                                           # writes results.json, provenance.json

``results.json`` holds no timestamps (the same inputs give a byte-identical file); timings go
to ``provenance.json``. Person-level rows are never written: :meth:`Report.show` refuses a
frame with a ``person_id`` column, and one with more than :data:`MAX_ROWS` rows unless the
caller declares it aggregate.

Displaying and recording tables and figures is in :mod:`wpeval.publish.report_show`, the
documents written by :meth:`Report.finish` in :mod:`wpeval.publish.report_documents`; both are
mixins of :class:`Report`.
"""

from __future__ import annotations

import html
import json
import os
import time
import warnings
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from wpeval.exceptions import ParameterError, StatisticalWarning
from wpeval.publish import downloads as _dl
from wpeval.publish import params as _params
from wpeval.publish import provenance as _prov
from wpeval.publish.report_documents import DocumentsMixin, _utc_now
from wpeval.publish.report_show import (  # noqa: F401 - re-exported
    DISPLAY_ROWS,
    MAX_ROWS,
    PERSON_COLUMNS,
    ShowMixin,
    _display,
    _html,
)
from wpeval.publish.values import _has_nonfinite, frame_records, to_json  # noqa: F401


def resolve_data_path(path: str | Path) -> Path:
    """Resolve a data path: as given (relative to the working folder) when it exists, else
    relative to the project folder (so a notebook opened from ``notebooks/`` finds
    ``data_synthetic/...``). Returns the first candidate when neither exists."""
    given = Path(path)
    if given.is_absolute() or given.exists():
        return given
    alt = _params.project_root() / given
    return alt if alt.exists() else given


def _in_runner() -> bool:
    return bool(os.environ.get("WPEVAL_RUN_ID"))


def _format_warning(message, category, filename, lineno, line=None) -> str:
    return f"{category.__name__}: {message}\n"


class Report(ShowMixin, DocumentsMixin):
    """Collects what a notebook shows into ``results.json`` and its provenance.

    Create one with :meth:`Report.start`; do not call the constructor directly.

    Attributes
    ----------
    name : str
        Notebook name.
    params : dict
        The validated parameters (cell order).
    output_dir : pathlib.Path
        Where :meth:`finish` writes ``results.json`` and ``provenance.json``.
    results : dict
        What has been recorded so far (key -> JSON-ready value).
    findings : list of str
        Headline findings in words (:meth:`finding`).
    synthetic : bool
        The data are synthetic (see :attr:`synthetic`).
    write_files : bool
        Write downloads (CSV, PNG, SVG, spreadsheets) under ``output_dir/downloads``.
    """

    def __init__(
        self,
        name: str,
        params: dict,
        schema: _params.NotebookSchema,
        output_dir: Path,
        write_files: bool = False,
    ):
        self.name = name
        self.params = params
        self.schema = schema
        self.output_dir = output_dir
        self.results: dict[str, Any] = {}
        self.figures: list[dict] = []
        self.data_info: dict[str, Any] = {}
        self.checks = None  # the ChecksReport of load_data()
        self.timings: dict[str, float] = {}
        self._started = _utc_now()
        self._t0 = time.perf_counter()
        self._finished = False
        self.results_path: Path | None = None
        self.findings: list[str] = []
        self.labels: dict[str, dict] = {}
        self.tables: list[_dl.TableFile] = []
        self.data_marker: dict | None = None
        self.write_files = bool(write_files)

    @property
    def synthetic(self) -> bool:
        """True when the data are synthetic: the data file carries the generator's marker
        (Parquet metadata, see :mod:`wpeval.data.parquet`), or the ``synthetic`` parameter
        says so. The marker cannot be switched off by a parameter."""
        return self.data_marker is not None or self.params.get("synthetic") is True

    # -- start ------------------------------------------------------------------------------
    @classmethod
    def start(
        cls,
        name: str,
        namespace: Mapping[str, Any],
        *,
        header: bool | None = None,
        files: bool | None = None,
    ) -> "Report":
        """Validate the notebook's parameters and start the report.

        Parameters
        ----------
        name : str
            The notebook's name (file stem, e.g. ``"02_prime_comparison"``); its parameters cell
            gives the typed schema.
        namespace : dict
            The notebook's ``globals()``: every parameter of the schema must be defined there
            (papermill injects overrides after the parameters cell). Values are checked against
            their declared types; ints given for float parameters are converted in place.
        header : bool, optional
            Display a parameters table. Default: only when not run by ``wpeval run`` (whose
            HTML export adds a header with title, question, parameters and contents).
        files : bool, optional
            Write the downloads (tables as CSV, figures as PNG and SVG, the spreadsheets)
            under ``output_dir/downloads``. Default: when run by ``wpeval run``.

        Raises
        ------
        ParameterError
            A parameter is missing or has the wrong type, or ``name`` is not the notebook
            being run.
        """
        running = os.environ.get("WPEVAL_NOTEBOOK_FILE")
        if running and Path(running).stem == name:
            schema = _params.schema(running)
        elif running:
            raise ParameterError(
                f"Report.start({name!r}) but the notebook being run is "
                f"{Path(running).stem!r}; pass the notebook's own name"
            )
        else:
            schema = _params.schema(name)
        values = {}
        for spec in schema.params:
            if spec.name not in namespace:
                raise ParameterError(
                    f"parameter {spec.name!r} of notebook {name!r} is not "
                    "defined: run the parameters cell first"
                )
            values[spec.name] = _params.check_value(spec, namespace[spec.name], name)
            if isinstance(namespace, dict):
                namespace[spec.name] = values[spec.name]
        # warnings reach the published report as stderr: show them as "Category: message",
        # without the file path and source line of the default format
        warnings.formatwarning = _format_warning
        from wpeval.plots.theme import theme

        theme()  # one look for every figure of the report
        out = values.get("output_dir") or os.environ.get("WPEVAL_OUTPUT_DIR") or "."
        rep = cls(
            name, values, schema, Path(out), write_files=_in_runner() if files is None else files
        )
        if header if header is not None else not _in_runner():
            rep._display_parameters()
        return rep

    def _display_parameters(self) -> None:
        rows = "".join(
            f"<tr><th>{html.escape(p.name)}</th><td><code>{html.escape(repr(self.params[p.name]))}"
            f"</code></td><td>{html.escape(p.doc)}</td></tr>"
            for p in self.schema.params
        )
        _display(
            _html(
                f"<details class='wpeval-params'><summary>Parameters of "
                f"{html.escape(self.name)}</summary><table>{rows}</table></details>"
            )
        )

    # -- data -------------------------------------------------------------------------------
    def load_data(
        self,
        path: str | Path | None = None,
        *,
        strict: bool = False,
        period_freq: str | None = None,
        programme: Any = None,
    ) -> pd.DataFrame:
        """Read and check the referral-level data; display the checks summary.

        Parameters
        ----------
        path : str or path, optional
            Data file (Parquet or CSV). Default: the ``data_path`` parameter.
        strict : bool, optional
            Passed to :func:`wpeval.data.schema.validate` (strict: any failed check raises).
        period_freq : str, optional
            Period of the randomisation strata passed to :func:`wpeval.data.schema.validate`
            ("Q", "M" or "H"); default: the notebook's ``period_freq`` parameter if it has
            one, else quarterly. The checks report is kept as ``rep.checks``.
        programme : Programme or path, optional
            The programme the data are checked against (CPAs and their primes). Default:
            :func:`wpeval.data.programme.for_data` (the invented prime names for data made by
            the generator, the real programme otherwise).

        Returns
        -------
        pandas.DataFrame
            The validated data (``report.data``).

        Raises
        ------
        ParameterError
            No path given and the notebook has no ``data_path`` parameter, or the file does
            not exist.
        DataContractError
            The data break the contract (from :func:`wpeval.data.schema.validate`).
        """
        from wpeval.data.io import read_referrals
        from wpeval.data.programme import for_data, synthetic_marker
        from wpeval.data.schema import validate

        if path is None:
            if "data_path" not in self.params:
                raise ParameterError(
                    f"notebook {self.name!r} has no data_path parameter; pass load_data(path)"
                )
            path = self.params["data_path"]
        resolved = resolve_data_path(path)
        if not resolved.is_file():
            hint = (
                " Make it with `make data` from the project folder (or `wpeval generate "
                "--n 200000 --seed 20110601 --out data_synthetic/default.parquet`)."
                if "data_synthetic" in str(path)
                else ""
            )
            raise ParameterError(
                f"data file {str(path)!r} does not exist (looked in "
                f"{os.getcwd()} and {_params.project_root()}).{hint}"
            )
        t0 = time.perf_counter()
        raw = read_referrals(resolved)
        if period_freq is None:
            period_freq = self.params.get("period_freq", "Q")
        # generated data carry a marker (Parquet metadata): they are checked against the
        # programme with invented prime names, and the report says it is synthetic
        self.data_marker = synthetic_marker(raw)
        checks = validate(
            raw, programme=for_data(raw, programme), strict=strict, period_freq=period_freq
        )
        self.checks = checks
        data = checks.data
        self.timings["load_data_s"] = round(time.perf_counter() - t0, 3)
        self.data_info = {
            "path": str(path),
            "fingerprint": to_json(_prov.data_fingerprint(resolved)),
            "rows_read": int(checks.rows_in),
            "rows_after_checks": int(len(data)),
            "synthetic_marker": self.data_marker,
        }
        frame = checks.to_frame()
        if "examples" in frame.columns:
            if self.synthetic:
                frame["examples"] = frame["examples"].map(
                    lambda v: ", ".join(map(str, v)) if isinstance(v, (list, tuple)) else v
                )
            else:  # example person_ids are never published from real data
                frame = frame.drop(columns="examples")
        flagged = frame[frame["n_failing"] > 0] if "n_failing" in frame.columns else frame
        caption = (
            f"Data checks: {len(raw):,} rows read, {len(data):,} kept, "
            f"{len(raw) - len(data):,} dropped; {len(frame)} rules checked, "
            f"{len(flagged)} with rows failing or flagged"
        )
        if flagged.empty:
            self._display_wrapped("<p>Every check passed.</p>", caption, "wpeval-table-figure")
        else:
            shown = [
                c
                for c in ("rule", "column", "n_failing", "n_dropped", "action", "examples")
                if c in flagged.columns
            ]
            self._display_table(
                flagged.reset_index(drop=True), caption=caption, columns=shown or None
            )
        return data

    # -- record ---------------------------------------------------------------------------
    def record(
        self, key: str, value: Any, *, label: str | None = None, unit: str | None = None
    ) -> None:
        """Record a key figure (scalar, or a small list/dict of scalars) in ``results.json``.

        NaN / infinite values are stored as ``null`` with a :class:`StatisticalWarning`.

        Parameters
        ----------
        key : str
            Name in ``results.json`` (unique).
        value : scalar, list or dict
            The figure.
        label : str, optional
            The reader's name of the figure, shown in the index (default: the key, humanised).
        unit : str, optional
            How to show it (:func:`wpeval.publish.formats.fmt_value`): ``"%"`` (a proportion,
            shown as a percentage), ``"pp"``, ``"p"``, ``"count"``, ``"£"``, ``"days"``...

        Raises
        ------
        ParameterError
            Duplicate key, or a frame/table (use :meth:`show`).
        """
        self._claim(key)
        if isinstance(value, (pd.DataFrame, pd.Series)) or hasattr(value, "tidy"):
            raise ParameterError(f"record({key!r}, ...) takes scalars; use show() for tables")
        if _has_nonfinite(value):
            warnings.warn(
                f"result {key!r} is NaN or infinite; recorded as null",
                StatisticalWarning,
                stacklevel=2,
            )
        self.results[key] = to_json(value)
        if label is not None or unit is not None:
            from wpeval.publish.formats import UNITS, humanise

            if unit is not None and unit not in UNITS:
                raise ParameterError(f"record({key!r}): unit must be one of {UNITS}, not {unit!r}")
            self.labels[key] = {"label": label or humanise(key), "unit": unit or ""}

    def describe(self, labels: Mapping[str, tuple]) -> None:
        """Give key figures readable labels and units for the index: ``{key: (label, unit)}``
        (units as in :meth:`record`); keys may be recorded before or after."""
        from wpeval.publish.formats import UNITS

        for key, spec in labels.items():
            label, unit = (spec, "") if isinstance(spec, str) else (spec[0], spec[1] or "")
            if unit not in UNITS:
                raise ParameterError(f"describe({key!r}): unit must be one of {UNITS}")
            self.labels[str(key)] = {"label": str(label), "unit": unit}

    def finding(self, text: str) -> None:
        """Record a headline finding: one sentence in words, generated from the results with
        its interval (see :mod:`wpeval.publish.findings`). Shown at the top of the report
        and in the index; a report has at most five."""
        if not isinstance(text, str) or not text.strip():
            raise ParameterError("finding() needs a non-empty sentence")
        if len(self.findings) >= 5:
            raise ParameterError("a report has at most five headline findings")
        self.findings.append(text.strip())
        _display(
            _html(
                f"<p class='wpeval-finding'><strong>Finding.</strong> "
                f"{html.escape(text.strip())}</p>"
            )
        )

    # -- finish (the documents: DocumentsMixin) ---------------------------------------------
    def finish(self) -> None:
        """Write ``results.json`` (sorted keys) and ``provenance.json`` into ``output_dir``.

        The path written is kept in ``self.results_path`` (nothing is returned, so the last
        cell of a notebook shows no stray output).
        """
        self.output_dir.mkdir(parents=True, exist_ok=True)
        if self.write_files:
            self._write_spreadsheets()
        path = self.output_dir / "results.json"
        text = json.dumps(self.results_document(), sort_keys=True, indent=2, allow_nan=False)
        path.write_text(text + "\n", encoding="utf-8")
        (self.output_dir / "provenance.json").write_text(
            json.dumps(self.provenance_document(), sort_keys=True, indent=2, allow_nan=False)
            + "\n",
            encoding="utf-8",
        )
        self._finished = True
        self.results_path = path
        if not _in_runner():
            _display(
                _html(
                    f"<p class='wpeval-note'>Results written to "
                    f"<code>{html.escape(str(path))}</code>.</p>"
                )
            )
