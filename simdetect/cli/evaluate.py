"""`simdetect eval`: artist retrieval, verification and copy robustness on a labelled tree."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from simdetect.cli.common import DEFAULT_TARGET_FPR, console, fail, progress_bar, user_errors
from simdetect.defaults import DEFAULT_HUBNESS_K, DEFAULT_K


def eval_cmd(
    root: Annotated[Path, typer.Argument(help="Folder with one sub-folder per artist.")],
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
) -> None:
    """Measure artist retrieval (CSD protocol), verification and copy robustness."""
    if not artists and not copies:
        fail("nothing to measure: --no-artists needs --copies")
    if artists:
        _eval_artists(root, index, out, backbone, query_fraction, seed, fpr, k, hubness_k)
    if copies:
        _eval_copies(root, out, seed, fpr, copies_limit, related)


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
    k: int,
    hubness_k: int,
) -> None:
    from simdetect.backbones import load_backbone
    from simdetect.evaluation.suite import run_eval
    from simdetect.scoring.calibration import ScoringParams

    if not 0 < query_fraction < 1:
        fail("--query-fraction must be between 0 and 1")
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
                params=ScoringParams(k=k, hubness_k=hubness_k),
                on_total=on_total,
                on_progress=on_progress,
            )
    r = report.retrieval
    table = Table(
        title=f"Artist retrieval: {report.works} works, {report.artists} artists, "
        f"{r.n_queries} queries ({r.query_fraction:.0%} per artist, seed {r.seed})"
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
    console.print(
        f"embedding {report.embed_seconds:.0f}s ({report.added.added} new), "
        f"total {report.seconds:.0f}s; index {report.index_dir}",
        highlight=False,
    )
    for path in report.outputs:
        console.print(f"wrote {path}", highlight=False)
