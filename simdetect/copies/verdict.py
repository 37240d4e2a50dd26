"""The copy verdict: is a suspect an edited copy of one specific indexed work?

This is a verdict of its own, next to the style verdict and never merged with it: a
copy is a fact about one work (which one, where, under what transform), a style match
is a statistic about an artist. :class:`CopyDetector` turns a suspect into a
:class:`CopyCheck` (always) and a :class:`CopyFinding` (only when a copy was found),
whose JSON forms are the interface documented in ``simdetect/copies/SCHEMA.md``.

Why a gate: region matching describes the suspect at two scales (about five times
the style descriptor's forward pass), which an audit of a platform's daily output
cannot pay for every image. The gate uses what the scan already has: the perceptual
hash (catches re-encodes, resizes, recolours, mirrors) and the style cosine to the
nearest indexed works. Style cosine does not separate a copy from the artist's other
works (on titian-fullres, half of the works have another work at 0.939 or more), but
edited copies keep a high cosine to their source (50% crops: 1st percentile about
0.89), while images that share nothing with the works fall below it, so a closed gate
is a cheap and safe "no copy". BENCHMARKS.md records the gate's measured recall on
edited copies and how often it opens on AI output and on other painters' works.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from simdetect.copies.matcher import CopyIndex, Located
from simdetect.copies.regions import RegionDescriber, RegionSet
from simdetect.io.atomic import atomic_write_bytes
from simdetect.io.hashing import phash

__all__ = [
    "CopyCheck",
    "CopyDetector",
    "CopyFinding",
    "CopyGate",
    "CopyWork",
    "RegionCache",
    "copy_hashes",
    "prepare_for_copies",
]

log = logging.getLogger(__name__)

MAX_SIDE = 1024  # the describer looks at 448 px at most; this keeps decoding cheap
STATE_COPY = "copy"
STATE_NO_COPY = "no_copy"
STATE_NOT_CHECKED = "not_checked"


def prepare_for_copies(image: Image.Image) -> Image.Image:
    """The pixels copy detection sees: RGB, long side at most :data:`MAX_SIDE`.

    Index and suspect go through the same function, so thresholds calibrated on the
    works apply to suspects.
    """
    out = image.convert("RGB") if image.mode != "RGB" else image.copy()
    if max(out.size) > MAX_SIDE:
        out.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BICUBIC)
    return out


def copy_hashes(image: Image.Image) -> list[str]:
    """The hash of an image and of its mirror image: a flip must not defeat the hash."""
    return [phash(image), phash(image.transpose(Image.Transpose.FLIP_LEFT_RIGHT))]


@dataclass(frozen=True)
class CopyWork:
    """An indexed work that can be the source of a copy."""

    path: str
    sha256: str
    artist: str
    width: int
    height: int


@dataclass(frozen=True)
class CopyGate:
    """When region matching is worth running; either signal opens the gate.

    ``cosine_min`` is in the style backbone's units, so it belongs to one backbone;
    ``None`` disables that signal (the gate then opens on the hash alone, or never
    closes when ``phash_max`` is ``None`` too, which is the safe default for a
    backbone nobody has measured).
    """

    phash_max: int | None = 22
    cosine_min: float | None = None

    @property
    def always_open(self) -> bool:
        return self.phash_max is None and self.cosine_min is None

    def opens(
        self,
        phash_distances: np.ndarray,
        cosines: np.ndarray | None,
        works: Sequence[CopyWork],
    ) -> str | None:
        """Why the gate opens (in words), or ``None`` when it stays closed."""
        if self.always_open:
            return "no gate for this backbone: every suspect is region-matched"
        if self.phash_max is not None and len(phash_distances):
            i = int(np.argmin(phash_distances))
            if phash_distances[i] <= self.phash_max:
                return (
                    f"pHash distance {int(phash_distances[i])} <= {self.phash_max} "
                    f"to {Path(works[i].path).name}"
                )
        if self.cosine_min is not None and cosines is not None and len(cosines):
            i = int(np.nanargmax(cosines))
            if cosines[i] >= self.cosine_min:
                return (
                    f"style similarity {float(cosines[i]):.3f} >= {self.cosine_min:.3f} "
                    f"to {Path(works[i].path).name}"
                )
        return None


@dataclass
class CopyCheck:
    """What the copy check did for one suspect (present on every readable suspect)."""

    state: str
    reason: str | None = None
    gate: str | None = None  # "passed", "closed" or None when no check was made
    gate_reason: str | None = None
    candidates: int = 0
    target_fpr: float = 0.01
    n_calibration: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def not_checked(cls, reason: str, target_fpr: float = 0.01) -> CopyCheck:
        return cls(state=STATE_NOT_CHECKED, reason=reason, target_fpr=target_fpr)


@dataclass
class CopyFinding:
    """One declared copy, with the evidence a reader needs to check it by eye."""

    source: CopyWork
    decided_by: str
    phash_distance: int
    phash_threshold: int
    geometry: float
    geometry_threshold: float
    embedding_similarity: float
    style_similarity: float | None
    suspect_box: tuple[int, int, int, int]
    source_box: tuple[int, int, int, int]
    source_polygon: list[tuple[float, float]]
    scale: float
    rotation_degrees: float
    mirrored: bool
    matrix: list[list[float]]
    p_value: float
    target_fpr: float
    method: str

    @property
    def confidence(self) -> float:
        return 1.0 - self.p_value

    def to_json(self) -> dict[str, Any]:
        def box(b: tuple[int, int, int, int]) -> dict[str, int]:
            return dict(zip(("x0", "y0", "x1", "y1"), (int(v) for v in b), strict=True))

        return {
            "source": asdict(self.source),
            "decided_by": self.decided_by,
            "signals": {
                "phash_distance": self.phash_distance,
                "phash_threshold": self.phash_threshold,
                "geometry": _r(self.geometry),
                "geometry_threshold": _r(self.geometry_threshold),
                "embedding_similarity": _r(self.embedding_similarity),
                "style_similarity": (
                    None if self.style_similarity is None else _r(self.style_similarity)
                ),
            },
            "region": {
                "suspect": box(self.suspect_box),
                "source": box(self.source_box),
                "source_polygon": [[_r(x, 2), _r(y, 2)] for x, y in self.source_polygon],
            },
            "transform": {
                "scale": _r(self.scale),
                "rotation_degrees": _r(self.rotation_degrees, 2),
                "mirrored": self.mirrored,
                "matrix": [[_r(v, 4) for v in row] for row in self.matrix],
            },
            "confidence": _sig(self.confidence),
            "p_value": _sig(self.p_value),
            "target_fpr": self.target_fpr,
            "method": self.method,
        }


def _r(x: float, digits: int = 6) -> float:
    return round(float(x), digits)


def _sig(x: float) -> float:
    """Six significant digits: a p-value of 3e-9 must not round to 0."""
    return float(f"{x:.6g}")


class RegionCache:
    """Region sets of indexed works, one file per (describer, work bytes).

    Content-addressed, so it never goes stale: a changed file has another SHA-256, and
    a generation of the index that drops a work simply stops asking for it.
    """

    def __init__(self, directory: Path, describer_fingerprint: str) -> None:
        self.directory = Path(directory) / describer_fingerprint[:16]

    def _path(self, sha256: str) -> Path:
        return self.directory / sha256[:2] / f"{sha256}.npz"

    def get(self, sha256: str) -> tuple[RegionSet, str] | None:
        path = self._path(sha256)
        try:
            with np.load(path, allow_pickle=False) as data:
                regions = RegionSet(
                    regions=data["regions"],
                    local=data["local"],
                    positions=data["positions"],
                    scale_ids=data["scale_ids"],
                )
                return regions, str(data["phash"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError) as exc:
            log.warning("ignoring damaged copy-region cache file %s: %s", path, exc)
            return None

    def has(self, sha256: str) -> bool:
        """Whether a readable entry is stored, without reading its arrays (an npz is a
        zip: opening it reads only the directory at its end)."""
        try:
            with np.load(self._path(sha256), allow_pickle=False) as data:
                return set(data.files) >= _CACHE_KEYS
        except (OSError, ValueError, KeyError):
            return False

    def put(self, sha256: str, regions: RegionSet, work_phash: str) -> None:
        buf = io.BytesIO()
        np.savez(
            buf,
            regions=regions.regions,
            local=regions.local,
            positions=regions.positions,
            scale_ids=regions.scale_ids,
            phash=np.array(work_phash),
        )
        path = self._path(sha256)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, buf.getvalue())
        except OSError as exc:  # a read-only index still detects copies, just recomputes
            log.warning("could not cache copy regions in %s: %s", path, exc)


WorkLoader = Callable[[CopyWork], Image.Image]
_CACHE_KEYS = {"regions", "local", "positions", "scale_ids", "phash"}


@dataclass
class CopyDetector:
    """A copy index over an index's artist works, its gate, and the describer."""

    index: CopyIndex
    works: list[CopyWork]
    describer: RegionDescriber
    gate: CopyGate = field(default_factory=CopyGate)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    style_candidates: int = 3
    # Suspects' descriptions by content (opt-in: a shared cache directory is configured).
    # A report, its verify and any re-scan describe the same suspects again otherwise.
    query_cache: RegionCache | None = None
    # Where the calibrated copy index is stored (None when it could not be): an evidence
    # folder copies it so the copy verdict can be re-checked without the works' files.
    stored_at: Path | None = None

    @property
    def target_fpr(self) -> float:
        return self.index.target_fpr

    @property
    def n_calibration(self) -> int:
        return int(self.index.fits["geometry"].n)

    def _left_out(self) -> str | None:
        if not self.skipped:
            return None
        names = ", ".join(Path(p).name for p, _ in self.skipped[:3])
        more = f" and {len(self.skipped) - 3} more" if len(self.skipped) > 3 else ""
        return (
            f"{len(self.skipped)} indexed work(s) could not be compared (file missing or "
            f"changed since indexing): {names}{more}"
        )

    def method(self) -> str:
        return (
            f"{self.describer.config.describe()}; copy when the pHash distance <= "
            f"{self.index.phash_threshold} or the geometric match >= "
            f"{self.index.threshold:.3f}, each threshold the 1 - {self.target_fpr:g}/2 "
            f"quantile of a Gumbel fitted to the leave-one-out scores of "
            f"{self.n_calibration} indexed works (tail probabilities beyond the sample "
            "are extrapolated by the fit)"
        )

    @classmethod
    def build(
        cls,
        works: Sequence[CopyWork],
        load: WorkLoader,
        describer: RegionDescriber,
        *,
        target_fpr: float = 0.01,
        gate: CopyGate | None = None,
        cache: RegionCache | None = None,
        index_dir: Path | None = None,
    ) -> CopyDetector:
        """Describe every work (from the cache where possible) and calibrate.

        A work whose file cannot be read, or whose bytes no longer match the index, is
        left out and listed in ``skipped``: it can neither be a source nor calibrate.
        ``index_dir`` keeps the calibrated copy index keyed by what it was built from.
        """
        gate = gate or CopyGate()
        # Once the copy index of exactly these works is stored, an open (one per scan)
        # needs nothing else: the region sets are only ever read to build that index, and
        # it is stored only when every one of these works was read and described. So an
        # index moved without its works' files (a case folder on a lawyer's machine)
        # still detects copies exactly as when the report was made.
        if index_dir is not None and len(works) >= 2:
            key = _index_key(describer.fingerprint, [w.sha256 for w in works], target_fpr)
            where = Path(index_dir) / f"index-{key[:24]}"
            stored = _load_index(where)
            if stored is not None:
                return cls(stored, list(works), describer, gate, [], stored_at=where)
        kept: list[CopyWork] = []
        sets: list[RegionSet] = []
        hashes: list[str] = []
        skipped: list[tuple[str, str]] = []
        for work in works:
            cached = cache.get(work.sha256) if cache is not None else None
            if cached is None:
                try:
                    image = prepare_for_copies(load(work))
                except Exception as exc:  # any unreadable work is skipped
                    skipped.append((work.path, " ".join(str(exc).split()) or type(exc).__name__))
                    continue
                cached = (describer.describe_one(image), phash(image))
                if cache is not None:
                    cache.put(work.sha256, *cached)
            kept.append(work)
            sets.append(cached[0])
            hashes.append(cached[1])
        for path, why in skipped:
            log.warning("copy detection leaves out %s: %s", path, why)
        if len(kept) < 2:
            raise ValueError(
                f"copy detection needs at least two readable artist works, found {len(kept)}"
            )
        key = _index_key(describer.fingerprint, [w.sha256 for w in kept], target_fpr)
        saved = None if index_dir is None else Path(index_dir) / f"index-{key[:24]}"
        index = None if saved is None else _load_index(saved)
        if index is None:
            index = CopyIndex.build(sets, hashes, target_fpr=target_fpr)
            if saved is not None:
                try:
                    index.save(saved)
                except OSError as exc:
                    log.warning("could not store the copy index in %s: %s", saved, exc)
                    saved = None
        return cls(index, kept, describer, gate, skipped, stored_at=saved)

    def check(
        self,
        image: Image.Image | Callable[[], Image.Image],
        cosines: np.ndarray | None = None,
        size: tuple[int, int] | None = None,
        hashes: Sequence[str] | None = None,
        sha256: str | None = None,
    ) -> tuple[CopyCheck, CopyFinding | None]:
        """The copy verdict for one suspect.

        ``image`` may be a callable that decodes it: with ``hashes`` given (the scan
        already has the suspect's perceptual hash), a closed gate never decodes the
        file again. ``cosines`` are the style similarities to ``works`` (same order),
        as the scan computed them; ``size`` is the suspect's pixel size as stored
        (defaults to the image's), so coordinates are in the file's own pixels.
        ``sha256`` (the suspect's content hash) lets ``query_cache`` serve its
        description without decoding the file again.
        """
        prepared: Image.Image | None = None
        if hashes is None:
            prepared = prepare_for_copies(image() if callable(image) else image)
            hashes = copy_hashes(prepared)
        distances = self.index.phash_distances(hashes)
        base = CopyCheck(
            state=STATE_NO_COPY,
            reason=self._left_out(),
            target_fpr=self.target_fpr,
            n_calibration=self.n_calibration,
        )
        why = self.gate.opens(distances, cosines, self.works)
        if why is None:
            base.gate = "closed"
            base.gate_reason = "no indexed work close enough by pHash or style similarity"
            return base, None
        base.gate, base.gate_reason = "passed", why
        cache = self.query_cache if sha256 is not None and size is not None else None
        cached = None if cache is None or sha256 is None else cache.get(sha256)
        if cached is not None:
            regions, joined = cached
            hashes = joined.split()
        else:
            if prepared is None:
                prepared = prepare_for_copies(image() if callable(image) else image)
                # The caller's hashes may lack the mirror image's, which matching needs.
                hashes = copy_hashes(prepared)
            if size is None:
                original = image if isinstance(image, Image.Image) else prepared
                size = original.size
            regions = self.describer.describe_query(prepared)
            if cache is not None and sha256 is not None:
                cache.put(sha256, regions, " ".join(hashes))
        assert size is not None
        # The style descriptor's nearest works join the region short list: on edited
        # copies it ranks the source first far more often than it separates copies
        # from the artist's other works (titian-fullres, 50% crops: 95% top-1).
        extra = [] if cosines is None else _top(cosines, self.style_candidates)
        matches = self.index.search(regions, hashes, top_k=self.index.config.shortlist, extra=extra)
        base.candidates = len(matches)
        if not matches or not matches[0].is_copy:
            return base, None
        best = matches[0]
        located = self.index.locate(regions, hashes, best.source_id)
        work = self.works[best.source_id]
        distance = 64 if best.phash_distance is None else best.phash_distance
        pv = self.index.p_values(distance, best.geometry)
        p = min(1.0, 2.0 * min(pv.values()))
        style = None if cosines is None else float(cosines[best.source_id])
        finding = _finding(
            work,
            best.decided_by,
            located,
            size,
            phash_threshold=self.index.phash_threshold,
            geometry_threshold=self.index.threshold,
            embedding_similarity=best.embedding_similarity,
            style_similarity=style,
            p_value=p,
            target_fpr=self.target_fpr,
            method=self.method(),
        )
        base.state = STATE_COPY
        return base, finding


def _top(values: np.ndarray, k: int) -> list[int]:
    finite = np.where(np.isfinite(values), values, -np.inf)
    k = min(k, len(finite))
    return [int(i) for i in np.argsort(-finite, kind="stable")[:k] if np.isfinite(finite[i])]


def _load_index(saved: Path) -> CopyIndex | None:
    """The stored copy index in ``saved``, or None when there is none or it is damaged."""
    if not (saved / "copy-index.json").exists():
        return None
    try:
        return CopyIndex.load(saved)
    except (OSError, ValueError, KeyError) as exc:
        log.warning("rebuilding damaged copy index %s: %s", saved, exc)
        return None


def _index_key(describer_fp: str, shas: Sequence[str], target_fpr: float) -> str:
    blob = "\n".join([describer_fp, f"{target_fpr!r}", *shas]).encode()
    return hashlib.sha256(blob).hexdigest()


def _finding(
    work: CopyWork,
    decided_by: str,
    located: Located,
    suspect_size: tuple[int, int],
    **rest: Any,
) -> CopyFinding:
    """Turn normalised cell positions into both images' pixels."""
    sw, sh = suspect_size
    ls, lt = float(max(sw, sh)), float(max(work.width, work.height))
    geometric = "geometry" in decided_by and located.placement.inliers >= 3
    if geometric:
        m = located.placement.m * lt / ls
        t = located.placement.t * lt
        half_s = ls / 64.0  # half a stride-16 cell of the 448-px view, in suspect pixels
        half_t = lt / 64.0
        q = located.query_points * ls
        s = located.source_points * lt
        suspect_box = _clip_box(
            q[:, 0].min() - half_s, q[:, 1].min() - half_s,
            q[:, 0].max() + half_s, q[:, 1].max() + half_s, sw, sh,
        )  # fmt: skip
        source_box = _clip_box(
            s[:, 0].min() - half_t, s[:, 1].min() - half_t,
            s[:, 0].max() + half_t, s[:, 1].max() + half_t, work.width, work.height,
        )  # fmt: skip
        mirrored = False
    else:
        # A hash decision says the whole image is the whole work (re-encoded, resized,
        # recoloured or mirrored): the transform follows from the two sizes.
        m = complex(work.width / sw, 0.0)
        t = 0j
        suspect_box = (0, 0, sw, sh)
        source_box = (0, 0, work.width, work.height)
        mirrored = located.mirrored
    x0, y0, x1, y1 = suspect_box
    corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]

    def mapped(x: float, y: float) -> tuple[float, float]:
        if mirrored:
            x = sw - x
        z = m * complex(x, y) + t
        return (z.real, z.imag)

    matrix = [[m.real, -m.imag, t.real], [m.imag, m.real, t.imag]]
    return CopyFinding(
        source=work,
        decided_by=decided_by,
        phash_distance=located.phash_distance,
        geometry=located.geometry,
        suspect_box=suspect_box,
        source_box=source_box,
        source_polygon=[mapped(x, y) for x, y in corners],
        scale=abs(m),
        # Positions have y pointing down, so a positive complex angle is a clockwise
        # turn on screen from suspect to source: the suspect is turned counter-clockwise.
        rotation_degrees=math.degrees(math.atan2(m.imag, m.real)),
        mirrored=mirrored,
        matrix=matrix,
        **rest,
    )


def _clip_box(
    x0: float, y0: float, x1: float, y1: float, w: int, h: int
) -> tuple[int, int, int, int]:
    return (
        max(0, math.floor(x0)),
        max(0, math.floor(y0)),
        min(w, math.ceil(x1)),
        min(h, math.ceil(y1)),
    )
