"""What a :class:`~wpeval.publish.report.Report` displays: readable tables with their downloads,
and figures with alt text, a caption and PNG/SVG files.

Tables are shown with the columns a reader needs, rounded (:mod:`wpeval.publish.readable`);
the full tidy table is one click away in a collapsed section and, when the report writes files
(run by ``wpeval run``, or ``Report.start(..., files=True)``), as a CSV file under
``downloads/``. Every table shown with a key also goes into the report's spreadsheet.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from wpeval.exceptions import ParameterError
from wpeval.publish import downloads as _dl
from wpeval.publish import readable as _readable
from wpeval.publish.values import frame_records, to_json

#: largest frame :meth:`Report.show` records without ``aggregate=True``
MAX_ROWS = 5000
#: rows of a frame displayed in the notebook (all rows are still recorded)
DISPLAY_ROWS = 200
#: columns that identify a person; frames holding one are never recorded
PERSON_COLUMNS = ("person_id",)


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


class ShowMixin:
    """Display and recording of tables and figures (mixed into ``Report``)."""

    def _claim(self, key: str) -> None:
        if not isinstance(key, str) or not key.strip():
            raise ParameterError(f"result key must be a non-empty string, got {key!r}")
        if key in self.results:
            raise ParameterError(
                f"result key {key!r} is already recorded in this report; use a distinct key"
            )

    @staticmethod
    def _guard_frame(df: pd.DataFrame, aggregate: bool, what: str) -> None:
        cols = {str(c) for c in df.columns} | {str(n) for n in df.index.names if n is not None}
        person = [c for c in PERSON_COLUMNS if c in cols]
        if person:
            raise ParameterError(
                f"{what} has a {person[0]!r} column: person-level rows are "
                "never shown or written to results.json; aggregate first"
            )
        if len(df) > MAX_ROWS and not aggregate:
            raise ParameterError(
                f"{what} has {len(df):,} rows (> {MAX_ROWS:,}): it looks "
                "person-level; aggregate it, or pass aggregate=True if it is "
                "already an aggregate table"
            )

    # -- files ------------------------------------------------------------------------------
    def _table_file(
        self, key: str | None, caption: str | None, frame: pd.DataFrame, notes: Sequence[str] = ()
    ) -> list[tuple[str, str]]:
        """Keep a recorded table for the spreadsheet and write its CSV; return the links."""
        if key is None:
            return []
        t = _dl.TableFile(key=key, caption=caption or key, frame=frame, notes=list(notes))
        self.tables.append(t)
        if not self.write_files:
            return []
        name = _dl.write_csv(t, self.output_dir / _dl.FOLDER)
        return [("CSV", f"{_dl.FOLDER}/{name}")]

    @staticmethod
    def _display_wrapped(body: str, caption: str | None, cls: str) -> None:
        cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        _display(_html(f"<figure class='{cls}'>{cap}{body}</figure>"))

    def _display_table(
        self,
        df: pd.DataFrame,
        caption: str | None,
        columns: Sequence[str] | None = None,
        links: Sequence[tuple[str, str]] = (),
    ) -> None:
        shown = df.head(DISPLAY_ROWS)
        notes = (
            [f"First {DISPLAY_ROWS} of {len(df):,} rows shown; all are in the download."]
            if len(df) > DISPLAY_ROWS
            else []
        )
        view = _readable.frame_view(shown, columns)
        full = None
        if columns is not None:
            full = _readable.full_frame_html(shown)
        _display(
            _html(
                _readable.table_html(
                    _readable.view_html(view),
                    caption=caption,
                    notes=notes,
                    full_markup=full,
                    full_label=f"Full table (all {df.shape[1]} columns)",
                    downloads=links,
                )
            )
        )

    # -- show -------------------------------------------------------------------------------
    def show(
        self,
        obj: Any,
        key: str | None = None,
        caption: str | None = None,
        *,
        aggregate: bool = False,
        columns: Sequence[str] | None = None,
        points: bool | None = None,
    ) -> None:
        """Display a readable table with a caption and, when ``key`` is given, record it.

        Parameters
        ----------
        obj : EffectTable, StatTable, DataFrame, Series, Styler, or an object with ``to_dict()``
            What to show. EffectTables are shown with the columns a reader needs (estimate,
            interval, p-values, n; see :func:`wpeval.publish.readable.effect_view`) and the
            full tidy table in a collapsed section; frames with rates as percentages, p-values
            as ``< 0.001`` and numbers rounded. EffectTables are recorded with ``to_dict()``
            (estimates and the method); frames as a list of row records.
        key : str, optional
            Name in ``results.json``, of the CSV download and of the spreadsheet table; None
            displays without recording. Keys are unique.
        caption : str, optional
            Caption displayed above the table.
        aggregate : bool, optional
            Declare a frame of more than :data:`MAX_ROWS` rows to be aggregate (it is then
            recorded). Frames with a ``person_id`` column are refused regardless.
        columns : sequence of str, optional
            For a frame: the columns displayed (the full frame goes in a collapsed section,
            the CSV and the spreadsheet).
        points : bool, optional
            For an EffectTable: show estimates in percentage points (default: when the
            method's outcome is a 0/1 outcome).

        Raises
        ------
        ParameterError
            Duplicate key, a person-level frame, or an object that cannot be recorded.
        """
        from wpeval.publish.disclosure import StatTable
        from wpeval.results import EffectTable

        if key is not None:
            self._claim(key)
        styler_cls = getattr(getattr(pd.io.formats, "style", None), "Styler", None)
        what = f"table {key or caption!r}"
        if isinstance(obj, pd.Series):
            obj = obj.to_frame()
        if isinstance(obj, EffectTable):
            self._guard_frame(obj.table, aggregate, what)
            value = self._show_effects(obj, key, caption, points)
        elif isinstance(obj, StatTable):
            self._guard_frame(obj.published, aggregate, what)
            frame = obj._cells().reset_index()
            links = self._table_file(key, caption or obj.title, frame, obj.notes)
            title = caption if caption and caption.strip() != obj.title.strip() else None
            _display(
                _html(
                    _readable.table_html(
                        obj.styler().to_html(), caption=title, notes=obj.notes, downloads=links
                    )
                )
            )
            value = obj.to_dict()
        elif isinstance(obj, pd.DataFrame):
            self._guard_frame(obj, aggregate, what)
            links = self._table_file(key, caption, obj)
            self._display_table(obj, caption, columns, links)
            value = frame_records(obj)
        elif styler_cls is not None and isinstance(obj, styler_cls):
            self._guard_frame(obj.data, aggregate, what)
            links = self._table_file(key, caption, obj.data)
            _display(_html(_readable.table_html(obj.to_html(), caption=caption, downloads=links)))
            value = frame_records(obj.data)
        elif hasattr(obj, "to_dict") and callable(obj.to_dict):
            value = to_json(obj.to_dict())
            tidy = obj.tidy() if callable(getattr(obj, "tidy", None)) else None
            links = self._table_file(key, caption, tidy) if isinstance(tidy, pd.DataFrame) else []
            if caption or links:
                self._display_wrapped(
                    _readable.table_html("", caption=None, downloads=links),
                    caption,
                    "wpeval-table-figure",
                )
            _display(obj)
        else:
            raise ParameterError(
                f"show() takes an EffectTable, DataFrame, Series or Styler; got "
                f"{type(obj).__name__} (use record() for scalars)"
            )
        if key is not None:
            self.results[key] = to_json(value)

    def _show_effects(self, obj, key, caption, points) -> dict:
        tidy = obj.tidy()
        links = self._table_file(
            key,
            caption or obj.title,
            tidy,
            [obj.method_line()] + ([str(obj.method["notes"])] if obj.method.get("notes") else []),
        )
        view, unit = _readable.effect_view(obj, points=points)
        if caption and caption.strip() == (obj.title or "").strip():
            caption = None
        cap = caption or obj.title or None
        notes = [unit, f"Method: {obj.method_line()}."]
        _display(
            _html(
                _readable.table_html(
                    _readable.view_html(view),
                    caption=cap,
                    notes=notes,
                    full_markup=_readable.full_frame_html(tidy, DISPLAY_ROWS),
                    full_label=f"Full table (all {tidy.shape[1]} columns)",
                    downloads=links,
                )
            )
        )
        return obj.to_dict()

    # -- figures ----------------------------------------------------------------------------
    def figure(
        self, fig_or_ax: Any, caption: str, alt: str, *, dpi: int = 110, main: bool = False
    ) -> None:
        """Display a matplotlib figure as an ``<img>`` with alt text and a caption, then close it.

        When the report writes files, the figure is also saved as PNG and SVG under
        ``downloads/`` and linked below the caption.

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
        main : bool, optional
            The report's main figure (its thumbnail is shown in the index). Default: the
            first figure.
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
            raise ParameterError(
                f"figure() takes a matplotlib Figure or Axes, got {type(fig_or_ax).__name__}"
            )
        record = {"caption": caption, "alt": alt}
        links = ""
        if self.write_files:
            stem = f"figure_{len(self.figures) + 1:02d}"
            files = _dl.save_figure(fig, self.output_dir / _dl.FOLDER, stem, dpi)
            record.update({k: f"{_dl.FOLDER}/{v}" for k, v in files.items()})
            links = (
                f"<p class='wpeval-downloads'>Download: <a href='{record['png']}'>PNG</a>"
                f" &middot; <a href='{record['svg']}'>SVG</a></p>"
            )
        if main:
            for f in self.figures:
                f.pop("main", None)
        if main or not self.figures:
            record["main"] = True
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
        plt.close(fig)
        data = base64.b64encode(buf.getvalue()).decode("ascii")
        self.figures.append(record)
        _display(
            _html(
                f"<figure class='wpeval-figure'><img src='data:image/png;base64,{data}' "
                f"alt='{html.escape(alt, quote=True)}' style='max-width:100%;height:auto'/>"
                f"<figcaption>{html.escape(caption)}</figcaption>{links}</figure>"
            )
        )
