"""The one look of every wpeval figure: a seaborn theme with a colour-blind-safe palette.

:func:`theme` is applied when a report starts (``Report.start``) and may be called in any
notebook. Plot functions never name a colour: they ask :func:`colour` for a *role*
(``"estimate"``, ``"reference"``...), which maps to seaborn's ``"colorblind"`` palette (Okabe-Ito
like hues, distinguishable under the common colour-vision deficiencies) or to a grey of the
same theme, so this module is the only place a colour is chosen.
"""

from __future__ import annotations

__all__ = ["PALETTE", "ROLES", "colour", "palette", "theme"]

#: seaborn palette of the theme
PALETTE = "colorblind"

#: role -> index in the palette (int) or a grey level (str, "0" black .. "1" white)
ROLES = {
    "estimate": 0,  # blue: the main estimate
    "adjusted": 1,  # orange: a second estimate beside the first (adjusted, shrunk)
    "positive": 2,  # green
    "alert": 3,  # vermillion: thresholds, limits, alarms
    "other": 4,  # purple
    "ink": "0.1",  # near-black text-like marks
    "interval": "0.3",  # interval lines
    "reference": "0.5",  # reference lines (zero, one, the null)
    "muted": "0.65",  # secondary, unfilled marks
    "light": "0.85",  # separators and histogram fills
    "paper": "1",  # white: hollow markers, bar edges
}


def palette(n: int | None = None) -> list:
    """The theme's qualitative palette (``n`` colours; seaborn ``color_palette``)."""
    import seaborn as sns

    return list(sns.color_palette(PALETTE, n))


def colour(role: str):
    """Colour of a role in :data:`ROLES` (an RGB tuple, or a grey level string)."""
    try:
        spec = ROLES[role]
    except KeyError:
        raise KeyError(f"unknown colour role {role!r}; roles are {sorted(ROLES)}") from None
    return spec if isinstance(spec, str) else palette()[spec]


def theme(context: str = "notebook", font_scale: float = 0.95) -> None:
    """Apply the wpeval theme to matplotlib through seaborn.

    ``seaborn.set_theme(style="whitegrid", palette="colorblind")`` with light grid lines, no top
    or right spines, and figure defaults sized for an HTML report.

    Parameters
    ----------
    context : {"notebook", "paper", "talk"}, default "notebook"
        seaborn plotting context.
    font_scale : float, default 0.95
    """
    import seaborn as sns

    sns.set_theme(
        context=context,
        style="whitegrid",
        palette=PALETTE,
        font_scale=font_scale,
        rc={
            "axes.spines.top": False,
            "axes.spines.right": False,
            "grid.color": colour("light"),
            "grid.linewidth": 0.6,
            "figure.dpi": 100,
            "savefig.dpi": 120,
            "savefig.bbox": "tight",
        },
    )
