"""What a trust-and-safety reader looks at first: flag rate per artist and score histograms.

Computed from the finished `results.parquet` alone, read in record batches, so the
summary always agrees with the rows and costs constant memory. Flag rates count the
artists in each row's `flagged_artists` (the one its family-wise flag names, or, where no
family verdict could be made, every artist decided for); histograms use the scores
stored in `ranking` (each suspect's top artists).

"Undecided" is counted next to "flagged" everywhere: a decision that could not be made
(too few impostor works, no calibration) is not a "no", and an audit whose every
decision was undecided must not read as "0 flagged". Copies (the separate copy verdict)
are counted on their own.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from simdetect.io.atomic import atomic_path, atomic_write_text

HIST_BINS = 40
READ_BATCH_ROWS = 16_384
PLOT_ARTISTS = 25
HIST_ARTISTS = 6


@dataclass
class ArtistCounts:
    flagged: int = 0
    undecided: int = 0
    ranked_first: int = 0
    scores_seen: int = 0
    hist: np.ndarray = field(default_factory=lambda: np.zeros(HIST_BINS, dtype=np.int64))


@dataclass
class AuditSummary:
    rows: int
    errors: int
    flagged: int
    edges: np.ndarray
    artists: dict[str, ArtistCounts]
    undecided: int = 0  # suspects not flagged with at least one undecided artist
    copies: int = 0  # suspects the copy verdict declared an edited copy of a work

    def headline(self) -> str:
        """The counts a reader must see together, in one line."""
        return (
            f"{self.examined} examined, {self.flagged} flagged, {self.undecided} undecided, "
            f"{self.copies} copies, {self.errors} errors"
        )

    @property
    def examined(self) -> int:
        return self.rows - self.errors

    def flag_rate(self, artist: str) -> float:
        return self.artists[artist].flagged / self.examined if self.examined else math.nan


@dataclass(frozen=True)
class SummaryFiles:
    flag_rates_csv: Path
    histograms_csv: Path
    plot_png: Path


def summary_paths(out: Path) -> SummaryFiles:
    stem = out.with_suffix("")
    return SummaryFiles(
        flag_rates_csv=stem.with_name(stem.name + ".flag_rates.csv"),
        histograms_csv=stem.with_name(stem.name + ".score_histograms.csv"),
        plot_png=stem.with_name(stem.name + ".summary.png"),
    )


def _batches(results: Path, columns: list[str]) -> Iterator[dict[str, list[Any]]]:
    pf = pq.ParquetFile(results)
    for batch in pf.iter_batches(batch_size=READ_BATCH_ROWS, columns=columns):
        yield batch.to_pydict()


def _score_range(results: Path) -> tuple[float, float]:
    lo, hi = math.inf, -math.inf
    for b in _batches(results, ["ranking"]):
        for ranking in b["ranking"]:
            for entry in ranking or []:
                s = entry["score"]
                if s is not None:
                    lo, hi = min(lo, s), max(hi, s)
    if not math.isfinite(lo):
        return 0.0, 1.0
    if hi - lo < 1e-9:
        return lo - 0.5, hi + 0.5
    pad = 1e-9 * max(1.0, abs(hi))
    return lo, hi + pad


def summarize(results: Path, artists: Sequence[str]) -> AuditSummary:
    """Two streaming passes: the score range, then the counts and histograms."""
    lo, hi = _score_range(results)
    edges = np.linspace(lo, hi, HIST_BINS + 1)
    counts = {a: ArtistCounts() for a in artists}
    rows = errors = flagged = undecided = copies = 0
    columns = ["error", "flagged", "flagged_artists", "undecided_artists", "ranking", "copy_state"]
    for b in _batches(results, columns):
        for error, flag, names, open_names, ranking, copy_state in zip(
            b["error"],
            b["flagged"],
            b["flagged_artists"],
            b["undecided_artists"],
            b["ranking"],
            b["copy_state"],
            strict=True,
        ):
            rows += 1
            if error is not None:
                errors += 1
                continue
            flagged += bool(flag)
            undecided += bool(not flag and open_names)
            copies += copy_state == "copy"
            for name in names or []:
                counts.setdefault(name, ArtistCounts()).flagged += 1
            for name in open_names or []:
                counts.setdefault(name, ArtistCounts()).undecided += 1
            for i, entry in enumerate(ranking or []):
                c = counts.setdefault(entry["artist"], ArtistCounts())
                if i == 0:
                    c.ranked_first += 1
                s = entry["score"]
                if s is not None:
                    c.scores_seen += 1
                    k = int(np.searchsorted(edges, s, side="right")) - 1
                    c.hist[min(max(k, 0), HIST_BINS - 1)] += 1
    return AuditSummary(rows, errors, flagged, edges, counts, undecided, copies)


def flag_rates_csv(summary: AuditSummary) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        [
            "artist",
            "examined",
            "flagged",
            "flag_rate",
            "undecided",
            "undecided_rate",
            "ranked_first",
        ]
    )
    order = sorted(summary.artists.items(), key=lambda kv: (-kv[1].flagged, kv[0]))
    for name, c in order:
        rate = summary.flag_rate(name)
        open_rate = c.undecided / summary.examined if summary.examined else math.nan
        w.writerow(
            [
                name,
                summary.examined,
                c.flagged,
                "" if math.isnan(rate) else f"{rate:.6f}",
                c.undecided,
                "" if math.isnan(open_rate) else f"{open_rate:.6f}",
                c.ranked_first,
            ]
        )
    return buf.getvalue()


def histograms_csv(summary: AuditSummary) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["artist", "bin", "score_from", "score_to", "count"])
    for name in sorted(summary.artists):
        c = summary.artists[name]
        for i in range(HIST_BINS):
            w.writerow(
                [name, i, f"{summary.edges[i]:.6f}", f"{summary.edges[i + 1]:.6f}", int(c.hist[i])]
            )
    return buf.getvalue()


def plot_png(summary: AuditSummary, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from simdetect.report.fonts import configure_matplotlib_fonts

    configure_matplotlib_fonts()
    order = sorted(summary.artists.items(), key=lambda kv: (-kv[1].flagged, kv[0]))
    shown = order[:PLOT_ARTISTS]
    fig, (ax1, ax2) = plt.subplots(
        1, 2, figsize=(13, max(4.0, 0.28 * len(shown) + 1.5)), constrained_layout=True
    )
    names = [n for n, _ in shown][::-1]
    rates = [100 * summary.flag_rate(n) if summary.examined else 0.0 for n in names]
    open_rates = [
        100 * summary.artists[n].undecided / summary.examined if summary.examined else 0.0
        for n in names
    ]
    # Undecided stacked after flagged, in another colour: a bar of only undecided must
    # never look like an artist nobody imitates.
    ax1.barh(names, rates, color="#c0392b", label="flagged (decision true)")
    ax1.barh(names, open_rates, left=rates, color="#d4a017", label="undecided (no decision)")
    ax1.set_xlabel("% of examined suspects: flagged, then undecided")
    ax1.legend(fontsize="small", loc="lower right")
    ax1.set_title(f"Per artist — {summary.headline()}", fontsize="medium")
    centres = (summary.edges[:-1] + summary.edges[1:]) / 2
    ranked = sorted(summary.artists.items(), key=lambda kv: (-kv[1].scores_seen, kv[0]))
    for name, c in ranked[:HIST_ARTISTS]:
        if c.scores_seen:
            ax2.step(centres, c.hist, where="mid", label=f"{name} ({c.scores_seen})")
    ax2.set_xlabel("relative score (when among a suspect's stored top artists)")
    ax2.set_ylabel("suspects")
    ax2.set_title("Score histograms")
    if ax2.get_legend_handles_labels()[0]:
        ax2.legend(fontsize="small")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def write_summary(results: Path, artists: Sequence[str]) -> tuple[AuditSummary, SummaryFiles]:
    summary = summarize(results, artists)
    files = summary_paths(results)
    atomic_write_text(files.flag_rates_csv, flag_rates_csv(summary))
    atomic_write_text(files.histograms_csv, histograms_csv(summary))
    plot_png(summary, files.plot_png)
    return summary, files
