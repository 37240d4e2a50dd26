"""`simdetect eval`: index a folder-per-artist tree (cached) and measure it.

Embeddings live in an ordinary index directory, so a second run only re-hashes the
files and reuses every vector; add-tree skips what is already there.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from simdetect.backbones import Backbone
from simdetect.defaults import DEFAULT_FAMILY_FPR
from simdetect.evaluation.attribution import AttributionResult, evaluate_attribution
from simdetect.evaluation.retrieval import RetrievalResult, evaluate_retrieval
from simdetect.evaluation.verification import VerificationResult, evaluate_verification
from simdetect.index.build import AddSummary, add_tree
from simdetect.index.store import open_index
from simdetect.io.atomic import atomic_path
from simdetect.scoring.aggregate import ArtistTable
from simdetect.scoring.calibration import ScoringParams
from simdetect.scoring.imitation import ImitationParams
from simdetect.scoring.ranking import RankingParams

log = logging.getLogger(__name__)


@dataclass
class EvalReport:
    root: Path
    index_dir: Path
    works: int
    artists: int
    embed_seconds: float
    retrieval: RetrievalResult
    verification: VerificationResult
    attribution: AttributionResult
    seconds: float
    added: AddSummary
    outputs: list[Path] = field(default_factory=list)


def _write_csv(frame: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, encoding="utf-8")
    return path


def run_eval(
    root: Path,
    index_dir: Path,
    backbone: Backbone,
    out_dir: Path,
    *,
    query_fraction: float = 0.2,
    seed: int = 0,
    target_fpr: float = 0.01,
    family_fpr: float = DEFAULT_FAMILY_FPR,
    params: ScoringParams | None = None,
    on_total: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> EvalReport:
    params = params or ScoringParams()
    start = time.perf_counter()
    added = add_tree(index_dir, root, backbone=backbone, on_total=on_total, on_progress=on_progress)
    embed_seconds = time.perf_counter() - start
    snap = open_index(index_dir)
    snap.require_fingerprint(backbone.fingerprint)
    # Only the works under `root` take part, even if the cache index holds more.
    names = {name for name in snap.manifest.artists}
    tree_artists = {p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")}
    keep = snap.metadata["artist"].isin(names & tree_artists).to_numpy()
    meta = snap.metadata[keep].reset_index(drop=True)
    vectors = snap.vectors()[keep]
    table = ArtistTable.build(meta["artist"].tolist(), meta["role"].tolist())
    retrieval = evaluate_retrieval(
        vectors,
        table.codes,
        table.names,
        query_fraction,
        seed,
        params.hubness_k,
        # The imitation score's projection, learned from the database works only.
        discriminant=ImitationParams().discriminant(),
        ranking=RankingParams(),
    )
    verification = evaluate_verification(vectors, table, params, target_fpr)
    attribution = evaluate_attribution(
        vectors,
        table,
        ImitationParams(),
        query_fraction=query_fraction,
        seed=seed,
        target_fpr=target_fpr,
        family_fpr=family_fpr,
    )
    outputs = []
    overall = pd.DataFrame([{"method": m, **vals} for m, vals in retrieval.overall.items()])
    outputs.append(_write_csv(overall, out_dir / "retrieval_overall.csv"))
    outputs.append(_write_csv(retrieval.per_artist, out_dir / "retrieval_per_artist.csv"))
    outputs.append(_write_csv(verification.table, out_dir / "verification.csv"))
    outputs.append(_write_csv(verification.per_artist, out_dir / "verification_per_artist.csv"))
    outputs.append(_write_csv(attribution.per_artist, out_dir / "attribution_per_artist.csv"))
    return EvalReport(
        root=root,
        index_dir=index_dir,
        works=len(meta),
        artists=table.n_artists,
        embed_seconds=embed_seconds,
        retrieval=retrieval,
        verification=verification,
        attribution=attribution,
        seconds=time.perf_counter() - start,
        added=added,
        outputs=outputs,
    )
