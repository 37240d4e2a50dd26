"""`simdetect eval`: artist retrieval, verification and copy robustness on a labelled tree."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from simdetect.cli.common import (
    DEFAULT_FAMILY_FPR,
    DEFAULT_TARGET_FPR,
    console,
    fail,
    plural,
    progress_bar,
    user_errors,
)
from simdetect.defaults import DEFAULT_HUBNESS_K, DEFAULT_K


def eval_cmd(
    root: Annotated[
        Path | None,
        typer.Argument(help="Folder with one sub-folder per artist (optional with --imitations)."),
    ] = None,
    index: Annotated[
        Path | None,
        typer.Option(
            "--index", "-i", help="Index caching the embeddings (default indexes/eval-ROOTNAME)."
        ),
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the CSV outputs.")] = Path(
        "simdetect-out/eval"
    ),
    backbone: Annotated[str, typer.Option("--backbone", "-b", help="Backbone to evaluate.")] = (
        "effnet-style"
    ),
    query_fraction: Annotated[
        float,
        typer.Option("--query-fraction", help="Share of each artist's works used as queries."),
    ] = 0.2,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the query/database split.")] = 0,
    fpr: Annotated[float, typer.Option("--fpr", help="Target false-positive rate.")] = (
        DEFAULT_TARGET_FPR
    ),
    k: Annotated[int, typer.Option("--k", help="Works averaged per artist.")] = DEFAULT_K,
    hubness_k: Annotated[
        int, typer.Option("--hubness-k", help="Neighbours in the CSLS radius.")
    ] = DEFAULT_HUBNESS_K,
    artists: Annotated[
        bool,
        typer.Option(
            "--artists/--no-artists",
            help="Measure artist retrieval and verification (needs one sub-folder per artist).",
        ),
    ] = True,
    copies: Annotated[
        bool,
        typer.Option(
            "--copies/--no-copies",
            help="Also measure copy robustness: every image under ROOT is a source whose "
            "edited copies must find it (slow: about 2 s per source on two cores).",
        ),
    ] = False,
    copies_limit: Annotated[
        int | None,
        typer.Option("--copies-limit", help="Use only the first N images as copy sources."),
    ] = None,
    related: Annotated[
        Path | None,
        typer.Option(
            "--related",
            help="CSV (`group,file`) naming works that show one composition (photographs, "
            "details, versions of one painting): a match inside a group is listed as related "
            "and not counted as a false match; the raw rate is printed too.",
        ),
    ] = None,
    imitations: Annotated[
        Path | None,
        typer.Option(
            "--imitations",
            help="Generator output imitating indexed artists, one sub-folder per true artist "
            "(folder names = artist names in the index). Needs --reference.",
        ),
    ] = None,
    reference: Annotated[
        Path | None,
        typer.Option(
            "--reference",
            help="The same generator's outputs in other styles: the reference for alignment "
            "and the null, and (held out) the false-flag test.",
        ),
    ] = None,
    grid: Annotated[
        str,
        typer.Option(
            "--grid",
            help="Cut every imitation/reference file into ROWSxCOLS images (2x2: contact "
            "sheets such as sd15-styles; 1x1: single images).",
        ),
    ] = "2x2",
    held_out_fraction: Annotated[
        float,
        typer.Option(
            "--held-out-fraction",
            help="Share of reference files held out for false flags (seeded by --seed); 0: "
            "each file held out in turn against the others (leave-one-out).",
        ),
    ] = 0.0,
    family_fpr: Annotated[
        float,
        typer.Option("--family-fpr", help="Family-wise rate of the 'flagged for any artist' test."),
    ] = DEFAULT_FAMILY_FPR,
    leave_artists_out: Annotated[
        bool,
        typer.Option(
            "--leave-artists-out/--no-leave-artists-out",
            help="Also index 4/5 of the artists and scan the other fifth's works (5 folds): "
            "every decision there is a false one.",
        ),
    ] = False,
) -> None:
    """Measure artist retrieval (CSD protocol), verification, copies and AI imitations."""
    if imitations is not None or reference is not None:
        if imitations is None or reference is None:
            fail("--imitations and --reference go together")
        if root is None and index is None:
            fail("--imitations needs ROOT or an existing --index")
    elif root is None:
        fail("give ROOT (one sub-folder per artist), or --imitations with --reference")
    if not artists and not copies and imitations is None:
        fail("nothing to measure: --no-artists needs --copies")
    if root is not None and artists:
        _eval_artists(
            root, index, out, backbone, query_fraction, seed, fpr, family_fpr, k, hubness_k
        )
    if root is not None and copies:
        _eval_copies(root, out, seed, fpr, copies_limit, related)
    if imitations is not None and reference is not None:
        index_dir = index or Path("indexes") / f"eval-{root.resolve().name}"  # type: ignore[union-attr]
        _eval_imitations(
            imitations,
            reference,
            index_dir,
            out,
            grid,
            held_out_fraction,
            seed,
            fpr,
            family_fpr,
            leave_artists_out,
        )


def _eval_imitations(
    imitations: Path,
    reference: Path,
    index_dir: Path,
    out: Path,
    grid: str,
    held_out_fraction: float,
    seed: int,
    fpr: float,
    family_fpr: float,
    leave_artists_out: bool,
) -> None:
    from simdetect.evaluation.grids import parse_grid
    from simdetect.evaluation.imitation_suite import run_imitation_eval
    from simdetect.index.build import backbone_for_index

    if not 0 <= held_out_fraction < 1:
        fail("--held-out-fraction must be at least 0 and below 1")
    if not 0 < family_fpr < 1:
        fail("--family-fpr must be between 0 and 1 (for example 0.05)")
    with user_errors():
        rows_cols = parse_grid(grid)
        bb = backbone_for_index(index_dir, None)
        with progress_bar("embedding tiles") as (_on_total, on_progress):
            report = run_imitation_eval(
                imitations,
                reference,
                index_dir,
                bb,
                out,
                grid=rows_cols,
                held_out_fraction=held_out_fraction,
                seed=seed,
                target_fpr=fpr,
                family_fpr=family_fpr,
                leave_artists_out=leave_artists_out,
                on_progress=on_progress,
            )
    r = report.result
    f = r.figures
    held = (
        f"{r.n_held_out} held-out reference images ({held_out_fraction:.0%} of files, seed {seed})"
        if r.held_out == "split"
        else f"each of {r.n_held_out} reference images held out in turn (leave-one-group-out)"
    )
    table = Table(
        title=f"AI imitations: {plural(r.n_suspects, 'image')} "
        f"({plural(report.n_tiles_imitations, 'tile')}, grid {grid}) vs "
        f"{plural(r.n_artists, 'artist')}; reference {plural(r.n_reference, 'image')}; {held}"
    )
    table.add_column("question")
    table.add_column("figure")
    table.add_column("%", justify="right")
    for q, label, key in (
        ("attribution", "top-1: true artist ranked first", "top1"),
        ("attribution", "top-5: true artist in the first five", "top5"),
        ("artist's", f"true artist decided at {r.target_fpr:.0%} FPR", "true_artist_decided"),
        ("artist's", "held-out (reference image, artist) pairs decided", "held_out_pairs_decided"),
        ("artist's", "held-out images decided for some artist", "held_out_any_pair_decided"),
        (
            "platform's",
            f"true artist flagged at {r.family_fpr:.0%} family-wise",
            "true_artist_flagged",
        ),
        ("platform's", "... and ranked first", "true_artist_flagged_and_first"),
        ("platform's", "held-out images flagged for any artist", "held_out_flagged"),
    ):
        table.add_row(q, label, f"{f[key]:.1f}")
    console.print(table)
    lao = report.leave_artists_out
    if lao is not None:
        console.print(
            f"leave-artists-out ({lao.folds} folds): {lao.pairs_decided:.2f}% of (work, artist) "
            f"pairs decided at {lao.target_fpr:.0%}; {lao.works_any_decided:.1f}% of works "
            f"decided for some artist; {lao.works_flagged:.2f}% flagged at "
            f"{lao.family_fpr:.0%} family-wise",
            highlight=False,
        )
    console.print(f"imitation eval took {report.seconds:.0f}s", highlight=False)
    for path in report.outputs:
        console.print(f"wrote {path}", highlight=False)


def _eval_copies(
    root: Path, out: Path, seed: int, fpr: float, limit: int | None, related: Path | None
) -> None:
    from simdetect.evaluation.copy_robustness import evaluate_copy_robustness
    from simdetect.io.atomic import atomic_write_text

    with user_errors():
        if not root.is_dir():
            raise NotADirectoryError(f"{root}: not a folder")
        with console.status("copy robustness: describing, editing and searching every source"):
            report = evaluate_copy_robustness(
                root, limit=limit, seed=seed, target_fpr=fpr, related_file=related
            )
    table = Table(
        title=f"Copy robustness: {report.n_sources} sources, each edited copy must find its "
        f"source as a declared top-1 copy (seed {seed})"
    )
    for col in ("edit", "top-1 %", "top-1 ignoring threshold %", "decided by"):
        table.add_column(col, justify="left" if col in ("edit", "decided by") else "right")
    for row in report.to_rows():
        if str(row["edit"]).endswith("false_match_rate"):
            continue
        table.add_row(
            str(row["edit"]),
            f"{float(row['top1_pct']):.2f}",
            f"{float(row['rank1_pct']):.2f}",
            str(row["decided_by"]),
        )
    console.print(table)
    unrelated = len(report.unrelated_false_matches)
    console.print(
        f"false matches on unedited non-copies (held-out halves): "
        f"{unrelated} of {report.n_nonc} = {report.false_match_rate:.2f}% "
        f"(thresholds: geometry {report.threshold:.3f}, pHash <= {report.phash_threshold} bits)",
        highlight=False,
    )
    if related is not None:
        console.print(
            f"matches between works named as one composition in {related}: "
            f"{len(report.false_matches) - unrelated} (not counted above); all declared "
            f"matches between different files: {len(report.false_matches)} = "
            f"{report.raw_false_match_rate:.2f}%",
            highlight=False,
        )
    out.mkdir(parents=True, exist_ok=True)
    for name, text in (
        ("copy_robustness.csv", report.to_csv()),
        ("copy_false_matches.csv", report.false_matches_csv()),
    ):
        atomic_write_text(out / name, text)
        console.print(f"wrote {out / name}", highlight=False)
    console.print(f"copy robustness took {report.seconds:.0f}s", highlight=False)


def _eval_artists(
    root: Path,
    index: Path | None,
    out: Path,
    backbone: str,
    query_fraction: float,
    seed: int,
    fpr: float,
    family_fpr: float,
    k: int,
    hubness_k: int,
) -> None:
    from simdetect.backbones import load_backbone
    from simdetect.evaluation.suite import run_eval
    from simdetect.scoring.calibration import ScoringParams

    if not 0 < query_fraction < 1:
        fail("--query-fraction must be between 0 and 1")
    if not 0 < family_fpr < 1:
        fail("--family-fpr must be between 0 and 1 (for example 0.05)")
    index_dir = index or Path("indexes") / f"eval-{root.resolve().name}"
    with user_errors():
        bb = load_backbone(backbone)
        with progress_bar("embedding") as (on_total, on_progress):
            report = run_eval(
                root,
                index_dir,
                bb,
                out,
                query_fraction=query_fraction,
                seed=seed,
                target_fpr=fpr,
                family_fpr=family_fpr,
                params=ScoringParams(k=k, hubness_k=hubness_k),
                on_total=on_total,
                on_progress=on_progress,
            )
    r = report.retrieval
    table = Table(
        title=f"Artist retrieval: {plural(report.works, 'work')}, "
        f"{plural(report.artists, 'artist')}, {plural(r.n_queries, 'query', 'queries')}"
        f" ({r.query_fraction:.0%} per artist, seed {r.seed})"
    )
    metrics = list(next(iter(r.overall.values())))
    table.add_column("ranking by")
    for m in metrics:
        table.add_column(m, justify="right")
    for method, vals in r.overall.items():
        table.add_row(method, *(f"{vals[m]:.1f}" for m in metrics))
    console.print(table)
    v = report.verification
    vt = Table(title="Verification: is this work by artist A? (every work × every artist)")
    for col in (
        "statistic",
        "ROC AUC",
        "TPR@1% FPR",
        "TPR@5% FPR",
        f"calibrated TPR@{v.target_fpr:.0%}",
        "its FPR",
    ):
        vt.add_column(col, justify="right" if col != "statistic" else "left")
    for row in v.table.itertuples():
        vt.add_row(
            str(row.statistic),
            f"{row.roc_auc:.4f}",
            f"{row.tpr_at_1pct_fpr:.3f}",
            f"{row.tpr_at_5pct_fpr:.3f}",
            f"{row.calibrated_tpr:.3f}",
            f"{row.calibrated_fpr:.4f}",
        )
    console.print(vt)
    console.print(
        f"calibrated decision at {v.target_fpr:.0%} target FPR: TPR {v.calibrated_tpr:.3f}, "
        f"false-positive rate {v.calibrated_fpr:.4f} on held-out impostors (split-half)",
        highlight=False,
    )
    a = report.attribution
    f = a.figures
    console.print(
        f"attribution as `scan` judges a painting (no generator reference, the index null), "
        f"the same {plural(a.n_queries, 'query', 'queries')} against the other "
        f"{a.n_database:,} works: top-1 {f['top1']:.1f}%, top-5 {f['top5']:.1f}%, true artist "
        f"decided at {a.target_fpr:.0%} {f['true_artist_decided']:.1f}%, flagged at "
        f"{a.family_fpr:.0%} family-wise {f['true_artist_flagged']:.1f}% (flagged for "
        f"another artist {f['flagged_for_another']:.1f}%)",
        highlight=False,
    )
    console.print(
        f"embedding {report.embed_seconds:.0f}s ({report.added.added} new), "
        f"total {report.seconds:.0f}s; index {report.index_dir}",
        highlight=False,
    )
    for path in report.outputs:
        console.print(f"wrote {path}", highlight=False)
