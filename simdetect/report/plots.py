"""The report's two figures, drawn from the record alone and returned as PNG bytes.

Figures are built on a bare `Figure` with the Agg canvas (no pyplot), so rendering a
report never touches a display or global figure state; `configure_matplotlib_fonts`
makes Chinese artist names and labels render as characters rather than boxes.
"""

from __future__ import annotations

import io
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from simdetect.report.fonts import configure_matplotlib_fonts
from simdetect.report.i18n import Lang, text

GREY = "#8a8f98"
GREEN = "#2e8b57"
RED = "#c0392b"
ORANGE = "#e67e22"
DARK = "#1f3a5f"
LIGHT = "#b8c4d6"
DPI = 150


def _label(key: str, langs: tuple[Lang, ...], **params: object) -> str:
    """Both languages on one label, Chinese first, as in the rest of the report."""
    return " / ".join(text(key, lang, **params) for lang in langs)


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def distribution_png(
    histogram: dict[str, Any],
    artist: str,
    suspect_score: float | None,
    threshold: float | None,
    langs: tuple[Lang, ...],
    *,
    statistic: str = "relative",
    null_kind: str | None = None,
) -> bytes:
    """Null and genuine shares per bin of the decision's score, suspect and threshold marked.

    Shares (not counts) because an artist has far fewer own works than there are
    null images; in counts the genuine bars would be invisible. `statistic` is the score
    the decision was made on (`contrastive` or `relative`); `null_kind` says whether its
    null is a generator reference's outputs or other artists' works.
    """
    configure_matplotlib_fonts()
    edges = histogram["edges"]
    imp, gen = histogram["impostor"], histogram["genuine"]
    n_imp, n_gen = sum(imp), sum(gen)
    fig = Figure(figsize=(7.2, 3.4), layout="constrained")
    ax = fig.add_subplot()
    if n_imp:
        ax.stairs(
            [100 * c / n_imp for c in imp],
            edges,
            fill=True,
            alpha=0.55,
            color=GREY,
            label=_label(
                "plot.null_reference" if null_kind == "reference" else "plot.impostor",
                langs,
                n=n_imp,
            ),
        )
    if n_gen:
        ax.stairs(
            [100 * c / n_gen for c in gen],
            edges,
            fill=True,
            alpha=0.55,
            color=GREEN,
            label=_label("plot.genuine", langs, n=n_gen),
        )
    if threshold is not None:
        ax.axvline(threshold, color=ORANGE, ls=":", lw=2, label=_label("plot.threshold", langs))
    if suspect_score is not None:
        ax.axvline(suspect_score, color=RED, lw=2.2, label=_label("plot.suspect", langs))
    axis = "plot.contrastive_to" if statistic == "contrastive" else "plot.relative_to"
    ax.set_xlabel(_label(axis, langs, artist=artist))
    ax.set_ylabel(_label("plot.share", langs))
    ax.legend(fontsize=7.5, loc="upper left", frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def ranking_png(
    ranking: list[dict[str, Any]],
    artist: str,
    threshold: float | None,
    langs: tuple[Lang, ...],
    *,
    statistic: str = "relative",
) -> bytes:
    """Every indexed artist's score for one image, best at the top, on the decision's scale.

    Dots with their values rather than bars: relative scores are often all negative,
    and bars growing from zero would make the best-scoring artist the shortest bar.
    `statistic` is the score the threshold belongs to (`contrastive` or `relative`).
    """
    configure_matplotlib_fonts()
    key = statistic
    rows = [r for r in ranking if r.get(key) is not None]
    if not rows:  # uncalibrated: fall back to the raw similarity, labelled as such
        rows, key = ranking, "similarity"
    names = [r["artist"] for r in rows][::-1]
    values = [float(r[key]) for r in rows][::-1]
    lo, hi = min(values), max(values)
    if threshold is not None:
        lo, hi = min(lo, threshold), max(hi, threshold)
    span = (hi - lo) or 1.0
    left = lo - 0.08 * span
    fig = Figure(figsize=(7.2, 0.3 * len(rows) + 1.1), layout="constrained")
    ax = fig.add_subplot()
    for y, (name, value) in enumerate(zip(names, values, strict=True)):
        mine = name == artist
        color = DARK if mine else LIGHT
        ax.hlines(y, left, value, color=color, lw=2.4 if mine else 1.4)
        ax.plot(value, y, "o", color=color, ms=8 if mine else 6)
        ax.annotate(
            f"{value:.3f}",
            (value, y),
            xytext=(7, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
            fontweight="bold" if mine else "normal",
        )
    if threshold is not None:
        ax.axvline(
            threshold,
            color=ORANGE,
            ls=":",
            lw=2,
            label=_label("plot.threshold_of", langs, artist=artist),
        )
        ax.legend(fontsize=7.5, loc="lower right", frameon=False)
    ax.set_yticks(range(len(rows)), names)
    ax.set_xlim(left, hi + 0.18 * span)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    label = {"relative": "plot.relative", "contrastive": "plot.contrastive"}.get(
        key, "col.similarity"
    )
    ax.set_xlabel(_label(label, langs))
    ax.spines[["top", "right"]].set_visible(False)
    for tick in ax.get_yticklabels():
        if tick.get_text() == artist:
            tick.set_fontweight("bold")
    return _png(fig)
