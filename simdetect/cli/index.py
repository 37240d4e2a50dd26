"""`simdetect index ...`: build, inspect, calibrate, optimize, merge and prune an index."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from simdetect.cli.common import (
    DEFAULT_INDEX,
    DEFAULT_MAX_PIXELS,
    BackboneNewOpt,
    BackgroundOpt,
    BatchOpt,
    CommitOpt,
    IndexOpt,
    MaxPixelsOpt,
    SkippedCsvOpt,
    console,
    fail,
    plural,
    print_json,
    progress_bar,
    user_errors,
)
from simdetect.cli.engine import (
    AddressOpt,
    Engine,
    EngineOpt,
    RayActorsOpt,
    RayGpusOpt,
    select_embed,
)
from simdetect.defaults import (
    ANN_AUTO,
    ANN_TYPES,
    DEFAULT_APPROX_THRESHOLD,
    DEFAULT_COMMIT_EVERY,
    DEFAULT_MIN_RECALL,
    DEFAULT_QUERIES,
    DEFAULT_TARGET_FPR,
)

if TYPE_CHECKING:
    from simdetect.index.build import AddSummary
    from simdetect.index.manifest import Manifest
    from simdetect.index.store import IndexSnapshot
    from simdetect.scoring.calibration import Calibration

app = typer.Typer(help="Build and inspect an index of artists' works.", no_args_is_help=True)

TYPE_HELP = f"Index type: {', '.join((ANN_AUTO, *ANN_TYPES))}."


def warn_if_undecidable(
    artists: dict[str, int], background: int, index_dir: Path, fpr: float = DEFAULT_TARGET_FPR
) -> None:
    """Say now, not at scan time, when every suspect would be undecided at the default rate."""
    from simdetect.scoring.readiness import impostors_needed, shortfalls

    short = shortfalls(artists, background, fpr)
    if not short:
        return
    needed = impostors_needed(fpr)
    worst = max(s.missing for s in short)
    names = ", ".join(escape(s.artist) for s in short[:5]) + (" …" if len(short) > 5 else "")
    console.print(
        f"[yellow]warning:[/] this index cannot decide at a {fpr:.0%} false-positive rate yet: "
        f"a decision needs at least {needed} works by other artists (about 1/fpr − 1), and "
        f"{plural(len(short), 'artist')} {'has' if len(short) == 1 else 'have'} fewer "
        f"({names}); add at least {worst} more works by "
        "other artists, e.g. a background set: "
        f"simdetect index add-tree FOLDER --background --index {escape(str(index_dir))} "
        "(one sub-folder per painter). Until then every decision is 'undecided'.",
        highlight=False,
    )


def report_add(summary: AddSummary, index_dir: Path, skipped_csv: Path | None) -> None:
    from simdetect.io.walk import write_skips_csv

    m = summary.manifest
    total = (
        f"; index now holds {plural(m.count, 'work')} by {plural(len(m.artists), 'artist')}"
        if m
        else ""
    )
    if m and m.background:
        total += f" and {plural(len(m.background), 'background set')}"
    console.print(
        f"added [bold]{summary.added}[/], already indexed {summary.already_indexed}, "
        f"skipped {len(summary.skipped)}{total} ({index_dir})",
        highlight=False,
    )
    if m is not None:
        warn_if_undecidable(m.artists, sum(m.background.values()), index_dir)
    for path, owner in summary.conflicts:
        console.print(f"[yellow]not added:[/] {path}: same file already indexed under {owner!r}")
    if summary.skipped:
        reasons: dict[str, int] = {}
        for s in summary.skipped:
            key = s.reason.split(":")[0]
            reasons[key] = reasons.get(key, 0) + 1
        table = Table(title="Skipped files", show_lines=False)
        table.add_column("reason")
        table.add_column("files", justify="right")
        for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1]):
            table.add_row(reason, str(n))
        console.print(table)
        for s in summary.skipped[:10]:
            console.print(f"  [dim]{s.path}[/]: {s.reason}", highlight=False)
        target = skipped_csv or index_dir / "logs" / (
            "skipped-" + datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + ".csv"
        )
        write_skips_csv(summary.skipped, target)
        console.print(f"skipped files listed in {target}", highlight=False)
    if summary.skipped and not (summary.added or summary.already_indexed or summary.conflicts):
        # Nothing could be read: a script must not take this for success.
        fail(
            f"none of the {plural(len(summary.skipped), 'input')} could be read; nothing was added"
        )


@app.command("add")
def index_add(
    paths: Annotated[list[Path], typer.Argument(help="Image files or folders.")],
    artist: Annotated[str, typer.Option("--artist", "-a", help="Artist the works belong to.")],
    index: IndexOpt = DEFAULT_INDEX,
    backbone: BackboneNewOpt = None,
    background: BackgroundOpt = False,
    max_pixels: MaxPixelsOpt = DEFAULT_MAX_PIXELS,
    batch_size: BatchOpt = 32,
    commit_every: CommitOpt = DEFAULT_COMMIT_EVERY,
    skipped_csv: SkippedCsvOpt = None,
    engine: EngineOpt = Engine.local,
    address: AddressOpt = None,
    ray_actors: RayActorsOpt = None,
    ray_gpus: RayGpusOpt = 0.0,
) -> None:
    """Add one artist's works (files or folders) to an index."""
    from simdetect.index.build import add_paths, backbone_for_index
    from simdetect.index.store import ROLE_ARTIST, ROLE_BACKGROUND
    from simdetect.io.images import LoadLimits

    with user_errors():
        embed = select_embed(engine, address, ray_actors, ray_gpus)
        bb = backbone_for_index(index, backbone)
        with progress_bar(f"indexing {artist}") as (on_total, on_progress):
            summary = add_paths(
                index,
                [str(p) for p in paths],
                artist,
                backbone=bb,
                role=ROLE_BACKGROUND if background else ROLE_ARTIST,
                limits=LoadLimits(max_pixels=max_pixels),
                batch_size=batch_size,
                commit_every=commit_every,
                on_total=on_total,
                on_progress=on_progress,
                embed=embed,
            )
        report_add(summary, index, skipped_csv)


@app.command("add-reference")
def index_add_reference(
    name: Annotated[str, typer.Argument(help="Name of the reference set (e.g. the generator).")],
    paths: Annotated[list[Path], typer.Argument(help="Image files or folders it made.")],
    index: IndexOpt = DEFAULT_INDEX,
    max_pixels: MaxPixelsOpt = DEFAULT_MAX_PIXELS,
    batch_size: BatchOpt = 32,
    skipped_csv: SkippedCsvOpt = None,
) -> None:
    """Store outputs of one generator as a named reference set (never ranked as an artist).

    Scans, audits, reports and the service use it with `--reference NAME`: suspects from
    that generator are centred on its mean and judged against its outputs.
    """
    from simdetect.index.references import add_reference
    from simdetect.io.images import LoadLimits
    from simdetect.io.walk import write_skips_csv
    from simdetect.scoring.alignment import MIN_REFERENCE

    with user_errors(), progress_bar(f"reference {name}") as (on_total, on_progress):
        ref, skipped = add_reference(
            index,
            name,
            [str(p) for p in paths],
            batch_size=batch_size,
            limits=LoadLimits(max_pixels=max_pixels),
            on_total=on_total,
            on_progress=on_progress,
        )
    console.print(
        f"reference set {escape(ref.name)}: {plural(ref.count, 'image')} stored in {index} "
        f"(backbone {ref.backbone})",
        highlight=False,
    )
    if skipped:
        target = skipped_csv or (index / "logs" / f"skipped-reference-{ref.name}.csv")
        write_skips_csv(skipped, target)
        console.print(f"[yellow]{plural(len(skipped), 'file')} skipped[/], listed in {target}")
    if ref.count < MIN_REFERENCE:
        console.print(
            f"[yellow]note:[/] scans need at least {MIN_REFERENCE} reference images; "
            "a few hundred are needed for decisions at a 1% false-positive rate",
            highlight=False,
        )


@app.command("add-tree")
def index_add_tree(
    root: Annotated[Path, typer.Argument(help="Folder with one sub-folder per artist.")],
    index: IndexOpt = DEFAULT_INDEX,
    backbone: BackboneNewOpt = None,
    background: BackgroundOpt = False,
    max_pixels: MaxPixelsOpt = DEFAULT_MAX_PIXELS,
    batch_size: BatchOpt = 32,
    commit_every: CommitOpt = DEFAULT_COMMIT_EVERY,
    skipped_csv: SkippedCsvOpt = None,
    engine: EngineOpt = Engine.local,
    address: AddressOpt = None,
    ray_actors: RayActorsOpt = None,
    ray_gpus: RayGpusOpt = 0.0,
) -> None:
    """Add a whole tree: each sub-folder of ROOT is one artist, named by the folder."""
    from simdetect.index.build import add_tree, backbone_for_index
    from simdetect.index.store import ROLE_ARTIST, ROLE_BACKGROUND
    from simdetect.io.images import LoadLimits

    with user_errors():
        embed = select_embed(engine, address, ray_actors, ray_gpus)
        bb = backbone_for_index(index, backbone)
        with progress_bar("indexing") as (on_total, on_progress):
            summary = add_tree(
                index,
                root,
                backbone=bb,
                role=ROLE_BACKGROUND if background else ROLE_ARTIST,
                limits=LoadLimits(max_pixels=max_pixels),
                batch_size=batch_size,
                commit_every=commit_every,
                on_total=on_total,
                on_progress=on_progress,
                embed=embed,
            )
        report_add(summary, index, skipped_csv)


def _stored_calibration(snap: IndexSnapshot) -> Calibration | None:
    """The calibration stored for exactly this state with default scoring; None: not yet."""
    from simdetect.scan.calibrate import stored_calibration
    from simdetect.scoring.calibration import ScoringParams

    return stored_calibration(snap, ScoringParams())


def _calibration_state(snap: IndexSnapshot) -> str:
    cal = _stored_calibration(snap)
    if cal is None:
        return "not computed for this state yet (computed on the next scan or `index calibrate`)"
    state = "calibrated" if cal.calibrated else "uncalibrated (single artist, no background)"
    return f"{state}, computed {cal.computed_at} in {cal.seconds:.1f}s for this exact state"


@app.command("calibrate")
def index_calibrate(index: IndexOpt = DEFAULT_INDEX) -> None:
    """Compute (or confirm) the calibration statistics for the index's current state."""
    from simdetect.index.store import open_index
    from simdetect.scan.calibrate import artist_table, load_or_compute

    with user_errors():
        snap = open_index(index)
        cal = load_or_compute(snap, artist_table(snap))
    console.print(_calibration_state(snap), highlight=False)
    if cal.reason:
        console.print(f"[yellow]note:[/] {cal.reason}", highlight=False)


def ann_json(m: Manifest) -> dict[str, Any] | None:
    """The approximate index as typed values; None when searches are exact."""
    if m.ann is None:
        return None
    data = asdict(m.ann)
    del data["file"]  # a file name inside the generation, not a property of the search
    data["stale"] = m.ann.measured_at_count != m.count  # `index optimize` measures again
    return data


def calibration_json(snap: IndexSnapshot) -> dict[str, Any]:
    """The calibration line of `index info` as typed values."""
    cal = _stored_calibration(snap)
    if cal is None:
        return {"state": "not_computed", "computed_at": None, "seconds": None, "reason": None}
    return {
        "state": "calibrated" if cal.calibrated else "uncalibrated",
        "computed_at": cal.computed_at,
        "seconds": round(float(cal.seconds), 3),
        "reason": cal.reason,
    }


def info_json(index: Path, snap: IndexSnapshot, refs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """What the `index info` tables show, as typed values with snake_case keys.

    Built from the same manifest, calibration and reference list as the tables, so a
    script reading `--json` and a person reading the table never see different facts.
    """
    m = snap.manifest
    fp = m.fingerprint
    return {
        "path": str(index.resolve()),
        "generation": m.generation,
        "snapshot_digest": snap.snapshot_digest(),
        "works": m.count,
        "artists": dict(sorted(m.artists.items())),
        "background": dict(sorted(m.background.items())),
        "backbone": {
            "spec": m.backbone_spec,
            "name": fp.name,
            "fingerprint": fp.digest(),
            "weights_sha256": fp.weights_sha256,
            "preprocessing": fp.preprocessing,
            "descriptor_version": fp.descriptor_version,
        },
        "dim": m.dim,
        "index_type": m.index_type,
        "search": "exact" if m.ann is None else "approximate",
        "ann": ann_json(m),
        "calibration": calibration_json(snap),
        "reference_sets": {
            name: {
                "images": int(entry["count"]),
                "backbone": entry.get("backbone"),
                "digest": entry.get("digest"),
                "created_at": entry.get("created_at"),
            }
            for name, entry in sorted(refs.items())
        },
        "created_at": m.created_at,
        "updated_at": m.updated_at,
    }


@app.command("info")
def index_info(
    index: IndexOpt = DEFAULT_INDEX,
    json_info: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print one JSON object (keys listed above) to stdout instead of the tables.",
        ),
    ] = False,
) -> None:
    """Show what an index holds and how it was built.

    With --json, one JSON object: path, generation, snapshot_digest, works, artists and
    background (name: works), backbone (spec, name, fingerprint, weights_sha256,
    preprocessing, descriptor_version), dim, index_type, search ("exact" or
    "approximate"), ann (null when exact; type, factory, params, recall_at_k, recall_k,
    min_recall, n_train, n_queries, measured_at_count, stale, memory_bytes,
    build_seconds, built_at, seed), calibration (state: calibrated, uncalibrated or
    not_computed; computed_at, seconds, reason), reference_sets (name: images, backbone,
    digest, created_at), created_at, updated_at.
    """
    from simdetect.index.references import list_references
    from simdetect.index.store import open_index

    with user_errors():
        snap = open_index(index)
    if json_info:
        with user_errors():
            refs = list_references(index)
        print_json(json.dumps(info_json(index, snap, refs), ensure_ascii=False))
        return
    m = snap.manifest
    fp = m.fingerprint
    table = Table(title=f"Index {index}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")  # hashes must never be cut
    for key, value in (
        ("works", str(m.count)),
        ("artists", str(len(m.artists))),
        ("background sets", str(len(m.background))),
        ("backbone", m.backbone_spec),
        ("dimension", str(m.dim)),
        ("weights sha256", fp.weights_sha256),
        ("preprocessing", fp.preprocessing),
        ("descriptor", fp.descriptor_version),
        ("fingerprint", fp.digest()),
        ("index type", m.index_type),
        *describe_ann(m),
        ("generation", str(m.generation)),
        ("snapshot digest", snap.snapshot_digest()),
        ("calibration", _calibration_state(snap)),
        ("created", m.created_at),
        ("updated", m.updated_at),
    ):
        table.add_row(key, value)
    console.print(table)
    if m.artists or m.background:
        per = Table(title="Works per artist")
        per.add_column("artist")
        per.add_column("role")
        per.add_column("works", justify="right")
        for name, n in sorted(m.artists.items()):
            per.add_row(name, "artist", str(n))
        for name, n in sorted(m.background.items()):
            per.add_row(name, "background", str(n))
        console.print(per)
    with user_errors():
        refs = list_references(index)
    if refs:
        rt = Table(title="Generator reference sets (never ranked)")
        rt.add_column("name")
        rt.add_column("images", justify="right")
        rt.add_column("backbone")
        rt.add_column("added")
        for name, entry in sorted(refs.items()):
            rt.add_row(name, str(entry["count"]), str(entry["backbone"]), str(entry["created_at"]))
        console.print(rt)


@app.command("remove")
def index_remove(
    index: IndexOpt = DEFAULT_INDEX,
    artist: Annotated[
        str | None, typer.Option("--artist", help="Remove all works of this artist.")
    ] = None,
    file: Annotated[
        list[str] | None, typer.Option("--file", help="Remove this file (by path or by its bytes).")
    ] = None,
) -> None:
    """Remove an artist or individual files from an index."""
    from simdetect.index.store import IndexWriter

    if (artist is None) == (not file):
        fail("give exactly one of --artist NAME or --file PATH")
    with user_errors(), IndexWriter(index) as writer:
        removed = (
            writer.remove_artist(artist) if artist is not None else writer.remove_files(file or [])
        )
        if removed == 0:
            fail(f"nothing matched in {index}; nothing was changed")
        m = writer.commit()
    console.print(
        f"removed {plural(removed, 'work')}; index now holds {plural(m.count, 'work')} ({index})"
    )


def describe_ann(m: Manifest) -> list[tuple[str, str]]:
    """Rows for `index info`: how searches are served and how approximate they are."""
    info = m.ann
    if info is None:
        return [("search", "exact (flat inner product over every vector)")]
    params = ", ".join(f"{k}={v}" for k, v in sorted(info.params.items()))
    stale = (
        f" (measured at {info.measured_at_count} vectors; the index now holds {m.count}: "
        "run `simdetect index optimize` to measure again)"
        if info.measured_at_count != m.count
        else f" (measured at {info.measured_at_count} vectors)"
    )
    return [
        ("search", f"approximate: {info.type} ({info.factory}), {params}"),
        (
            "measured recall",
            f"recall@{info.recall_k} {info.recall_at_k:.4f} vs exact search "
            f"(target {info.min_recall:.2f}) on {info.n_queries} held-out queries{stale}",
        ),
        (
            "trained on",
            f"{info.n_train} sampled vectors (seed {info.seed})" if info.n_train else "no training",
        ),
        ("approximate index", f"{info.memory_bytes / 2**20:.1f} MB, built {info.built_at}"),
    ]


@app.command("optimize")
def index_optimize(
    index: Annotated[Path, typer.Option("--index", "-i", help="Index directory.")] = (
        DEFAULT_INDEX
    ),
    kind: Annotated[str, typer.Option("--type", help=TYPE_HELP)] = ANN_AUTO,
    memory_budget: Annotated[
        float | None,
        typer.Option("--memory-budget", help="MB the search index may take (auto choice)."),
    ] = None,
    min_recall: Annotated[
        float, typer.Option("--min-recall", help="recall@10 vs exact search to reach.")
    ] = DEFAULT_MIN_RECALL,
    threshold: Annotated[
        int, typer.Option("--threshold", help="Vectors below which auto stays exact.")
    ] = DEFAULT_APPROX_THRESHOLD,
    queries: Annotated[
        int, typer.Option("--queries", help="Held-out queries recall is measured on.")
    ] = DEFAULT_QUERIES,
    seed: Annotated[int, typer.Option("--seed", help="Seed of training/query samples.")] = 0,
) -> None:
    """Rebuild the search index with the best type for its size as a new generation."""
    from simdetect.index.store import AnnRequest, IndexWriter

    if kind != ANN_AUTO and kind not in ANN_TYPES:
        fail(f"unknown --type {kind!r}; choose one of {', '.join((ANN_AUTO, *ANN_TYPES))}")
    if not 0 < min_recall <= 1:
        fail("--min-recall must be in (0, 1]")
    request = AnnRequest(
        kind=kind,
        threshold=threshold,
        memory_budget_mb=memory_budget,
        min_recall=min_recall,
        n_queries=queries,
        seed=seed,
    )
    with user_errors(), IndexWriter(index, ann=request) as writer:
        writer.rebuild()
        m = writer.commit()
    console.print(f"index {index}: generation {m.generation}, {plural(m.count, 'vector')}")
    for key, value in describe_ann(m):
        console.print(f"{key}: {value}")
    if m.ann is not None and m.ann.recall_at_k < m.ann.min_recall:
        console.print(
            f"[yellow]warning:[/] recall {m.ann.recall_at_k:.3f} is below the target "
            f"{m.ann.min_recall:.2f} even at the widest setting; choose another --type"
        )


@app.command("merge")
def index_merge(
    shards: Annotated[
        list[Path], typer.Argument(help="Index directories (shards) to merge, in this order.")
    ],
    index: Annotated[
        Path, typer.Option("--index", "-i", help="Target index (created if absent).")
    ] = DEFAULT_INDEX,
) -> None:
    """Merge index shards built on several machines into one index (one atomic commit)."""
    from simdetect.index.merge import merge_shards

    with user_errors(), console.status("merging shards"):
        summary = merge_shards(index, shards)
    for s in summary.shards:
        console.print(
            f"{escape(str(s.shard))}: {plural(s.works, 'work')}, added {s.added}, "
            f"already present {s.duplicates}, conflicts {len(s.conflicts)}"
        )
    for shard, path, artist, owner in summary.conflicts:
        console.print(
            f"[yellow]not added:[/] {escape(path)} ({escape(artist)}, shard {escape(shard)}): "
            f"same bytes already indexed under {escape(repr(owner))}"
        )
    m = summary.manifest
    console.print(
        f"merged {plural(len(summary.shards), 'shard')}: added [bold]{summary.added}[/]; "
        f"{escape(str(index))} now holds {plural(m.count, 'work')} by "
        f"{plural(len(m.artists), 'artist')}"
        + (f" and {plural(len(m.background), 'background set')}" if m.background else "")
    )
