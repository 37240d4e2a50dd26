"""Copy robustness: do edited copies of a work find that work, and only copies do?

Protocol (all seeded, so a number can be reproduced and a miss inspected):

- every work of the folder is indexed and is, in turn, a source; each edit of
  :data:`simdetect.copies.edits.EDIT_NAMES` is applied to it and the copy is searched;
  a hit is a top-1 match on the source that is *declared* a copy at the index's own
  threshold (``per_edit``); ``per_edit_rank1`` ignores the threshold;
- a collage's three other tiles are indexed works too and are genuinely copied into
  it, so they are excluded from that query's ranking, as if they were unindexed images;
- false matches: the works are split in two seeded halves; an index of one half
  calibrates its own thresholds and every work of the other half, unedited, is
  searched in it (and the halves swapped), so the rate is measured on works the
  threshold never saw. Real portfolios hold near-copies of each other (two photos of
  one painting, a detail, an autograph version): every false match is listed so a
  reader can tell those from real errors. A person can name such groups in a CSV
  (``group,file``: the works of one group show one composition: two photographs, a
  detail, an autograph version); a false match inside a group is then listed as
  ``related`` and not counted in ``false_match_rate`` (``raw_false_match_rate`` counts
  everything), so both figures can be read side by side.
- sources are scaled to at most 1024 px on the long side before editing (the corpora's
  median size), which keeps the run short and makes ``resize25`` copies ~256 px.
"""

from __future__ import annotations

import csv
import io
import logging
import random
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from simdetect.copies.edits import EDIT_NAMES, apply_edit
from simdetect.copies.matcher import CopyIndex, CopyMatch
from simdetect.copies.regions import RegionDescriber, RegionSet
from simdetect.errors import UserError
from simdetect.io import iter_image_files, load_image, phash

__all__ = [
    "CopyRobustnessReport",
    "FalseMatch",
    "evaluate_copy_robustness",
    "query_phashes",
    "read_related_groups",
]

log = logging.getLogger(__name__)

MAX_SIDE = 1024


@dataclass(frozen=True)
class FalseMatch:
    query: str
    matched: str
    decided_by: str
    embedding_similarity: float
    geometry: float
    phash_distance: int | None
    related: bool = False  # the two are named as one composition in the related-works file


def read_related_groups(path: Path) -> dict[str, str]:
    """File name -> group, from a CSV with `group` and `file` columns (a person's judgement).

    Names are file names without folders, as the evaluation lists them.
    """
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(row for row in fh if not row.startswith("#")))
    except OSError as exc:
        raise UserError(f"{path}: cannot read the related-works file ({exc.strerror})") from None
    if not rows or not {"group", "file"} <= set(rows[0]):
        raise UserError(f"{path}: a related-works file needs the columns `group` and `file`")
    groups: dict[str, str] = {}
    for n, row in enumerate(rows, start=2):
        name, group = (row["file"] or "").strip(), (row["group"] or "").strip()
        if not name or not group:
            raise UserError(f"{path}, row {n}: empty `group` or `file`")
        if groups.setdefault(name, group) != group:
            raise UserError(f"{path}, row {n}: {name} is in two groups")
    return groups


@dataclass
class CopyRobustnessReport:
    per_edit: dict[str, float]  # top-1 and declared a copy, %
    per_edit_rank1: dict[str, float]  # top-1 regardless of the threshold, %
    per_edit_decided_by: dict[str, dict[str, int]]  # over the hits
    false_match_rate: float  # %, held-out halves, matches inside a named related group excused
    n_sources: int
    n_nonc: int
    threshold: float  # geometric-match fraction, full index
    embedding_threshold: float  # reported only
    phash_threshold: int
    seconds: float
    false_matches: list[FalseMatch] = field(default_factory=list)
    split_thresholds: list[dict[str, float]] = field(default_factory=list)
    related_file: str | None = None

    @property
    def raw_false_match_rate(self) -> float:
        """Every declared match between different works, related or not, %."""
        return 100.0 * len(self.false_matches) / self.n_nonc if self.n_nonc else 0.0

    @property
    def unrelated_false_matches(self) -> list[FalseMatch]:
        return [f for f in self.false_matches if not f.related]

    def to_rows(self) -> list[dict[str, str | float | int]]:
        """One row per edit plus one for the false-match rate, for CSV or a table."""
        rows: list[dict[str, str | float | int]] = []
        for edit, acc in self.per_edit.items():
            decided = self.per_edit_decided_by.get(edit, {})
            rows.append(
                {
                    "edit": edit,
                    "top1_pct": round(acc, 2),
                    "rank1_pct": round(self.per_edit_rank1.get(edit, float("nan")), 2),
                    "n": self.n_sources,
                    "decided_by": ";".join(f"{k}={v}" for k, v in sorted(decided.items())),
                }
            )
        rows.append(
            {
                "edit": "false_match_rate",
                "top1_pct": round(self.false_match_rate, 2),
                "rank1_pct": float("nan"),
                "n": self.n_nonc,
                "decided_by": ";".join(
                    sorted({f.decided_by for f in self.unrelated_false_matches})
                ),
            }
        )
        if self.related_file is not None:
            rows.append(
                {
                    "edit": "raw_false_match_rate",
                    "top1_pct": round(self.raw_false_match_rate, 2),
                    "rank1_pct": float("nan"),
                    "n": self.n_nonc,
                    "decided_by": ";".join(sorted({f.decided_by for f in self.false_matches})),
                }
            )
        return rows

    def to_csv(self) -> str:
        buf = io.StringIO()
        rows = self.to_rows()
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return buf.getvalue()

    def false_matches_csv(self) -> str:
        """Every false match, so a reader can judge which are real errors and which are
        the portfolio's own near-copies (two photographs or versions of one painting)."""
        buf = io.StringIO()
        fields = [
            "query",
            "matched",
            "decided_by",
            "embedding_similarity",
            "geometry",
            "phash_distance",
            "related",
        ]
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(fields)
        for f in self.false_matches:
            writer.writerow(
                [
                    f.query,
                    f.matched,
                    f.decided_by,
                    f"{f.embedding_similarity:.4f}",
                    f"{f.geometry:.4f}",
                    "" if f.phash_distance is None else f.phash_distance,
                    "yes" if f.related else "",
                ]
            )
        return buf.getvalue()


def query_phashes(image: Image.Image) -> list[str]:
    """The hash of an image and of its mirror image: a flip must not defeat the hash."""
    return [phash(image), phash(image.transpose(Image.Transpose.FLIP_LEFT_RIGHT))]


def _natural_key(path: Path) -> list[int | str]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name)]


def _load(path: Path) -> Image.Image:
    image = load_image(path, min_side=MAX_SIDE // 2).image
    if max(image.size) > MAX_SIDE:
        image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BICUBIC)
    return image


def _split_false_matches(
    names: Sequence[str],
    sets: Sequence[RegionSet],
    hashes: Sequence[list[str]],
    seed: int,
    target_fpr: float,
    related: dict[str, str],
) -> tuple[list[FalseMatch], int, list[dict[str, float]]]:
    order = list(range(len(names)))
    random.Random(f"{seed}:split").shuffle(order)
    halves = [sorted(order[: len(order) // 2]), sorted(order[len(order) // 2 :])]
    found: list[FalseMatch] = []
    thresholds = []
    for indexed, held_out in (halves, halves[::-1]):
        index = CopyIndex.build(
            [sets[i] for i in indexed], [hashes[i][0] for i in indexed], target_fpr=target_fpr
        )
        thresholds.append(
            {
                "geometry": index.threshold,
                "embedding": index.embedding_threshold,
                "phash": float(index.phash_threshold),
            }
        )
        for q in held_out:
            matches = index.search(sets[q], hashes[q], top_k=1)
            if matches and matches[0].is_copy:
                m = matches[0]
                matched = names[indexed[m.source_id]]
                group = related.get(names[q])
                found.append(
                    FalseMatch(
                        names[q],
                        matched,
                        m.decided_by,
                        m.embedding_similarity,
                        m.geometry,
                        m.phash_distance,
                        related=group is not None and related.get(matched) == group,
                    )
                )
    return found, len(names), thresholds


def evaluate_copy_robustness(
    folder: Path,
    limit: int | None = None,
    seed: int = 0,
    target_fpr: float = 0.01,
    edits: Sequence[str] = EDIT_NAMES,
    describer: RegionDescriber | None = None,
    related_file: Path | None = None,
) -> CopyRobustnessReport:
    """Run the protocol above on every image of ``folder`` (or the first ``limit``)."""
    related = read_related_groups(related_file) if related_file is not None else {}
    start = time.perf_counter()
    files = sorted(iter_image_files(Path(folder)), key=lambda p: _natural_key(Path(p)))
    if limit is not None:
        files = files[:limit]
    if len(files) < 5:
        raise UserError(f"{folder}: need at least 5 images, found {len(files)}")
    describer = describer or RegionDescriber()
    images = [_load(Path(f)) for f in files]
    names = [Path(f).name for f in files]
    sets = describer.describe(images)
    hashes = [query_phashes(im) for im in images]
    index = CopyIndex.build(sets, [h[0] for h in hashes], target_fpr=target_fpr)
    log.info("indexed %d works in %.0fs", len(files), time.perf_counter() - start)

    hits = {e: 0 for e in edits}
    rank1 = {e: 0 for e in edits}
    decided: dict[str, dict[str, int]] = {e: {} for e in edits}
    n = len(images)
    for i, image in enumerate(images):
        if i and i % 25 == 0:
            log.info("searched copies of %d/%d sources (%.0fs)", i, n, time.perf_counter() - start)
        for edit in edits:
            rng = random.Random(f"{seed}:{i}:{edit}")
            fillers: list[int] = []
            if edit == "collage2x2":
                fillers = rng.sample([j for j in range(n) if j != i], 3)
            copy = apply_edit(edit, image, rng, [images[j] for j in fillers])
            matches: list[CopyMatch] = index.search(
                describer.describe_query(copy), query_phashes(copy), top_k=1, exclude=fillers
            )
            if matches and matches[0].source_id == i:
                rank1[edit] += 1
                if matches[0].is_copy:
                    hits[edit] += 1
                    how = matches[0].decided_by
                    decided[edit][how] = decided[edit].get(how, 0) + 1
            elif matches:
                log.debug(
                    "%s %s: top-1 %s (%s)", names[i], edit, names[matches[0].source_id], matches[0]
                )
    false_matches, n_nonc, split_thresholds = _split_false_matches(
        names, sets, hashes, seed, target_fpr, related
    )
    unrelated = sum(1 for f in false_matches if not f.related)
    return CopyRobustnessReport(
        per_edit={e: 100.0 * hits[e] / n for e in edits},
        per_edit_rank1={e: 100.0 * rank1[e] / n for e in edits},
        per_edit_decided_by=decided,
        false_match_rate=100.0 * unrelated / n_nonc,
        n_sources=n,
        n_nonc=n_nonc,
        threshold=index.threshold,
        embedding_threshold=index.embedding_threshold,
        phash_threshold=index.phash_threshold,
        seconds=time.perf_counter() - start,
        false_matches=false_matches,
        split_thresholds=split_thresholds,
        related_file=None if related_file is None else str(related_file),
    )
