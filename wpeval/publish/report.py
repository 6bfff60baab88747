"""The notebook side of a wpeval report: parameters, data, displayed results, results.json.

A notebook uses one :class:`Report`::

    rep = Report.start("02_prime_comparison", globals())  # validates params, starts provenance
    df = rep.load_data()                                   # wpeval.data.io + wpeval.data.schema checks
    rep.show(table, key="contrasts", caption="...")        # display + record in results.json
    rep.figure(ax, caption="...", alt="...")               # <img> with alt text + caption
    rep.record("n_referrals", len(df))                     # a key figure
    rep.finish()                                           # writes results.json, provenance.json

``results.json`` holds no timestamps (the same inputs give a byte-identical file); timings go
to ``provenance.json``. Person-level rows are never written: :meth:`Report.show` refuses a
frame with a ``person_id`` column, and one with more than :data:`MAX_ROWS` rows unless the
caller declares it aggregate.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import json
import math
import os
import time
import warnings
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from wpeval.publish import params as _params
from wpeval.publish import provenance as _prov
from wpeval.exceptions import ParameterError, StatisticalWarning

#: largest frame :meth:`Report.show` records without ``aggregate=True``
MAX_ROWS = 5000
#: rows of a frame displayed in the notebook (all rows are still recorded)
DISPLAY_ROWS = 200
#: columns that identify a person; frames holding one are never recorded
PERSON_COLUMNS = ("person_id",)


def to_json(value: Any) -> Any:
    """Convert numpy / pandas values and containers to plain JSON types.

    NaN and infinities become ``None``; timestamps become ISO strings; periods, intervals,
    categories and other objects become their ``str``.
    """
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        seq = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [to_json(v) for v in seq]
    if isinstance(value, np.ndarray):
        return [to_json(v) for v in value.tolist()]
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, (pd.Timestamp, _dt.datetime, _dt.date)):
        return value.isoformat()
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else pd.Timestamp(value).isoformat()
    if isinstance(value, (pd.Timedelta, np.timedelta64)):
        return None if pd.isna(value) else str(pd.Timedelta(value))
    if isinstance(value, pd.DataFrame):
        return frame_records(value)
    if isinstance(value, pd.Series):
        return frame_records(value.to_frame())
    return str(value)


def _has_nonfinite(value: Any) -> bool:
    if isinstance(value, (float, np.floating)):
        return not math.isfinite(float(value))
    if isinstance(value, Mapping):
        return any(_has_nonfinite(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_nonfinite(v) for v in value)
    return False


def frame_records(df: pd.DataFrame) -> list[dict]:
    """Rows of ``df`` as JSON-ready dicts (a meaningful index becomes columns)."""
    if not isinstance(df.index, pd.RangeIndex) or df.index.name is not None:
        df = df.reset_index()
    df = df.copy()
    df.columns = [" / ".join(map(str, c)) if isinstance(c, tuple) else str(c) for c in df.columns]
    return [to_json(rec) for rec in df.to_dict(orient="records")]


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


def _display(obj: Any) -> None:
    try:
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython ships with ipykernel
        print(obj)
        return
    display(obj)


def _html(markup: str) -> Any:
    try:
        from IPython.display import HTML
    except ImportError:  # pragma: no cover
        return markup
    return HTML(markup)


def _format_warning(message, category, filename, lineno, line=None) -> str:
    return f"{category.__name__}: {message}\n"


def _utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


class Report:
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
    """

    def __init__(self, name: str, params: dict, schema: _params.NotebookSchema,
                 output_dir: Path):
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

    # -- start ------------------------------------------------------------------------------
    @classmethod
    def start(cls, name: str, namespace: Mapping[str, Any], *, header: bool | None = None
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
            raise ParameterError(f"Report.start({name!r}) but the notebook being run is "
                                 f"{Path(running).stem!r}; pass the notebook's own name")
        else:
            schema = _params.schema(name)
        values = {}
        for spec in schema.params:
            if spec.name not in namespace:
                raise ParameterError(f"parameter {spec.name!r} of notebook {name!r} is not "
                                     "defined: run the parameters cell first")
            values[spec.name] = _params.check_value(spec, namespace[spec.name], name)
            if isinstance(namespace, dict):
                namespace[spec.name] = values[spec.name]
        # warnings reach the published report as stderr: show them as "Category: message",
        # without the file path and source line of the default format
        warnings.formatwarning = _format_warning
        from wpeval.plots.theme import theme

        theme()  # one look for every figure of the report
        out = values.get("output_dir") or os.environ.get("WPEVAL_OUTPUT_DIR") or "."
        rep = cls(name, values, schema, Path(out))
        if header if header is not None else not _in_runner():
            rep._display_parameters()
        return rep

    def _display_parameters(self) -> None:
        rows = "".join(
            f"<tr><th>{html.escape(p.name)}</th><td><code>{html.escape(repr(self.params[p.name]))}"
            f"</code></td><td>{html.escape(p.doc)}</td></tr>" for p in self.schema.params)
        _display(_html(f"<details class='wpeval-params'><summary>Parameters of "
                       f"{html.escape(self.name)}</summary><table>{rows}</table></details>"))

    # -- data -------------------------------------------------------------------------------
    def load_data(self, path: str | Path | None = None, *, strict: bool = False,
                  period_freq: str | None = None) -> pd.DataFrame:
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
        from wpeval.data.schema import validate

        if path is None:
            if "data_path" not in self.params:
                raise ParameterError(f"notebook {self.name!r} has no data_path parameter; "
                                     "pass load_data(path)")
            path = self.params["data_path"]
        resolved = resolve_data_path(path)
        if not resolved.is_file():
            raise ParameterError(f"data file {str(path)!r} does not exist (looked in "
                                 f"{os.getcwd()} and {_params.project_root()})")
        t0 = time.perf_counter()
        raw = read_referrals(resolved)
        if period_freq is None:
            period_freq = self.params.get("period_freq", "Q")
        checks = validate(raw, strict=strict, period_freq=period_freq)
        self.checks = checks
        data = checks.data
        self.timings["load_data_s"] = round(time.perf_counter() - t0, 3)
        self.data_info = {"path": str(path),
                          "fingerprint": to_json(_prov.data_fingerprint(resolved)),
                          "rows_read": int(checks.rows_in), "rows_after_checks": int(len(data))}
        frame = checks.to_frame()
        if "examples" in frame.columns:
            if self.params.get("synthetic", False) is True:
                frame["examples"] = frame["examples"].map(
                    lambda v: ", ".join(map(str, v)) if isinstance(v, (list, tuple)) else v)
            else:  # example person_ids are never published from real data
                frame = frame.drop(columns="examples")
        flagged = frame[frame["n_failing"] > 0] if "n_failing" in frame.columns else frame
        caption = (f"Data checks: {len(raw):,} rows read, {len(data):,} kept, "
                   f"{len(raw) - len(data):,} dropped; {len(frame)} rules checked, "
                   f"{len(flagged)} with rows failing or flagged")
        if flagged.empty:
            self._display_wrapped("<p>Every check passed.</p>", caption, "wpeval-table-figure")
        else:
            self._display_table(flagged.reset_index(drop=True), caption=caption)
        return data

    # -- display + record -------------------------------------------------------------------
    def _claim(self, key: str) -> None:
        if not isinstance(key, str) or not key.strip():
            raise ParameterError(f"result key must be a non-empty string, got {key!r}")
        if key in self.results:
            raise ParameterError(f"result key {key!r} is already recorded in this report; "
                                 "use a distinct key")

    @staticmethod
    def _guard_frame(df: pd.DataFrame, aggregate: bool, what: str) -> None:
        cols = {str(c) for c in df.columns} | {str(n) for n in df.index.names if n is not None}
        person = [c for c in PERSON_COLUMNS if c in cols]
        if person:
            raise ParameterError(f"{what} has a {person[0]!r} column: person-level rows are "
                                 "never shown or written to results.json; aggregate first")
        if len(df) > MAX_ROWS and not aggregate:
            raise ParameterError(f"{what} has {len(df):,} rows (> {MAX_ROWS:,}): it looks "
                                 "person-level; aggregate it, or pass aggregate=True if it is "
                                 "already an aggregate table")

    def _display_table(self, df: pd.DataFrame, caption: str | None) -> None:
        shown = df.head(DISPLAY_ROWS)
        note = (f"<p class='wpeval-note'>First {DISPLAY_ROWS} of {len(df):,} rows shown; all are "
                "recorded.</p>" if len(df) > DISPLAY_ROWS else "")
        body = shown.to_html(index=not isinstance(df.index, pd.RangeIndex), na_rep="&ndash;",
                             float_format=lambda v: f"{v:,.4g}", classes="wpeval-table",
                             border=0)
        self._display_wrapped(body + note, caption, "wpeval-table-figure")

    @staticmethod
    def _display_wrapped(body: str, caption: str | None, cls: str) -> None:
        cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        _display(_html(f"<figure class='{cls}'>{cap}{body}</figure>"))

    def show(self, obj: Any, key: str | None = None, caption: str | None = None, *,
             aggregate: bool = False) -> None:
        """Display a table with a caption and, when ``key`` is given, record it.

        Parameters
        ----------
        obj : EffectTable, DataFrame, Series, Styler, or an object with ``to_dict()``
            What to show. EffectTables are recorded with ``to_dict()`` (estimates and the
            method); frames as a list of row records.
        key : str, optional
            Name in ``results.json``; None displays without recording. Keys are unique.
        caption : str, optional
            Caption displayed above the table.
        aggregate : bool, optional
            Declare a frame of more than :data:`MAX_ROWS` rows to be aggregate (it is then
            recorded). Frames with a ``person_id`` column are refused regardless.

        Raises
        ------
        ParameterError
            Duplicate key, a person-level frame, or an object that cannot be recorded.
        """
        from wpeval.results import EffectTable

        if key is not None:
            self._claim(key)
        styler_cls = getattr(getattr(pd.io.formats, "style", None), "Styler", None)
        if isinstance(obj, pd.Series):
            obj = obj.to_frame()
        if isinstance(obj, EffectTable):
            self._guard_frame(obj.table, aggregate, f"table {key or caption!r}")
            if caption and caption.strip() == (obj.title or "").strip():
                caption = None   # the table shows its own title: do not repeat it
            self._display_wrapped(obj._repr_html_(), caption, "wpeval-table-figure")
            value = obj.to_dict()
        elif isinstance(obj, pd.DataFrame):
            self._guard_frame(obj, aggregate, f"table {key or caption!r}")
            self._display_table(obj, caption)
            value = frame_records(obj)
        elif styler_cls is not None and isinstance(obj, styler_cls):
            self._guard_frame(obj.data, aggregate, f"table {key or caption!r}")
            self._display_wrapped(obj.to_html(), caption, "wpeval-table-figure")
            value = frame_records(obj.data)
        elif hasattr(obj, "to_dict") and callable(obj.to_dict):
            value = to_json(obj.to_dict())
            if caption:
                self._display_wrapped("", caption, "wpeval-table-figure")
            _display(obj)
        else:
            raise ParameterError(f"show() takes an EffectTable, DataFrame, Series or Styler; got "
                                 f"{type(obj).__name__} (use record() for scalars)")
        if key is not None:
            self.results[key] = to_json(value)

    def figure(self, fig_or_ax: Any, caption: str, alt: str, *, dpi: int = 110) -> None:
        """Display a matplotlib figure as an ``<img>`` with alt text and a caption, then close it.

        Parameters
        ----------
        fig_or_ax : Figure, Axes, array of Axes, or a seaborn grid
            The figure to show.
        caption : str
            Visible caption (``<figcaption>``).
        alt : str
            Text alternative describing what the figure shows (required, non-empty).
        dpi : int, optional
            Resolution of the embedded PNG.
        """
        import matplotlib.pyplot as plt

        if not isinstance(alt, str) or not alt.strip():
            raise ParameterError("figure() needs alt text describing the figure (alt='...')")
        if not isinstance(caption, str) or not caption.strip():
            raise ParameterError("figure() needs a caption")
        fig = fig_or_ax
        if isinstance(fig, np.ndarray):
            fig = fig.flat[0]
        for attr in ("figure", "fig"):
            if not hasattr(fig, "savefig") and hasattr(fig, attr):
                fig = getattr(fig, attr)
        if not hasattr(fig, "savefig"):
            raise ParameterError(f"figure() takes a matplotlib Figure or Axes, got "
                                 f"{type(fig_or_ax).__name__}")
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
        plt.close(fig)
        data = base64.b64encode(buf.getvalue()).decode("ascii")
        self.figures.append({"caption": caption, "alt": alt})
        _display(_html(
            f"<figure class='wpeval-figure'><img src='data:image/png;base64,{data}' "
            f"alt='{html.escape(alt, quote=True)}' style='max-width:100%;height:auto'/>"
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"))

    def record(self, key: str, value: Any) -> None:
        """Record a key figure (scalar, or a small list/dict of scalars) in ``results.json``.

        NaN / infinite values are stored as ``null`` with a :class:`StatisticalWarning`.

        Raises
        ------
        ParameterError
            Duplicate key, or a frame/table (use :meth:`show`).
        """
        self._claim(key)
        if isinstance(value, (pd.DataFrame, pd.Series)) or hasattr(value, "tidy"):
            raise ParameterError(f"record({key!r}, ...) takes scalars; use show() for tables")
        if _has_nonfinite(value):
            warnings.warn(f"result {key!r} is NaN or infinite; recorded as null",
                          StatisticalWarning, stacklevel=2)
        self.results[key] = to_json(value)

    # -- finish -----------------------------------------------------------------------------
    def results_document(self) -> dict:
        """The content of ``results.json`` (no timestamps, no output locations)."""
        git = _prov.git_info()
        shown_params = {k: v for k, v in self.params.items()
                        if k not in _params.LOCATION_PARAMS}
        return to_json({
            "notebook": self.name,
            "provenance": {"package_version": _prov.package_version(),
                           "git_commit": git["commit"], "git_dirty": git["dirty"],
                           "parameters": shown_params, "data": self.data_info or None},
            "results": self.results,
            "figures": self.figures,
        })

    def provenance_document(self) -> dict:
        """The content of the kernel-side ``provenance.json`` (timings, versions, interpreter)."""
        git = _prov.git_info()
        return to_json({
            "notebook": self.name,
            "package_version": _prov.package_version(),
            "git": git,
            "parameters": self.params,
            "data": self.data_info or None,
            "kernel": _prov.interpreter(),
            "libraries": _prov.library_versions(),
            "started_utc": self._started,
            "finished_utc": _utc_now(),
            "duration_s": round(time.perf_counter() - self._t0, 3),
            "timings": self.timings,
        })

    def finish(self) -> None:
        """Write ``results.json`` (sorted keys) and ``provenance.json`` into ``output_dir``.

        The path written is kept in ``self.results_path`` (nothing is returned, so the last
        cell of a notebook shows no stray output).
        """
        self.output_dir.mkdir(parents=True, exist_ok=True)
        path = self.output_dir / "results.json"
        text = json.dumps(self.results_document(), sort_keys=True, indent=2, allow_nan=False)
        path.write_text(text + "\n", encoding="utf-8")
        (self.output_dir / "provenance.json").write_text(
            json.dumps(self.provenance_document(), sort_keys=True, indent=2, allow_nan=False)
            + "\n", encoding="utf-8")
        self._finished = True
        self.results_path = path
        if not _in_runner():
            _display(_html(f"<p class='wpeval-note'>Results written to "
                           f"<code>{html.escape(str(path))}</code>.</p>"))
