"""`simdetect case`: an artist's whole case (index, scan, copies, report) in one command."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from simdetect.cli.common import (
    DEFAULT_FAMILY_FPR,
    DEFAULT_TARGET_FPR,
    FamilyFprOpt,
    FprOpt,
    console,
    progress_bar,
    user_errors,
)
from simdetect.cli.report import DEFAULT_FORMATS, CaseIdOpt, FormatsOpt, LangOpt

if TYPE_CHECKING:
    from simdetect.report.artist_case import CaseRun


def _say(key: str, lang: str, **params: object) -> str:
    """One line of the terminal summary, worded by the report's string table."""
    from simdetect.report.i18n import text

    lg: Any = lang
    return text(f"case.summary.{key}", lg, **params)


def _reason(entry: dict[str, Any], calibrated: bool, lang: str) -> str:
    from simdetect.report.i18n import format_share, text
    from simdetect.report.limitations import needed_impostors, undecided_code

    fpr = float(entry.get("target_fpr") or DEFAULT_TARGET_FPR)
    code = undecided_code(entry, fpr, calibrated)
    lg: Any = lang
    if code == "uncalibrated":
        return text("reason.uncalibrated", lg)
    if code == "too_few_impostors":
        share = format_share(fpr)
        return text(
            "reason.too_few", lg, n=entry["n_impostors"], fpr=share, needed=needed_impostors(fpr)
        )
    return text("reason.other", lg, reason=entry.get("reason") or "")


def print_case(run: CaseRun) -> None:
    """The case in the report's language(s), then where its files are."""
    from simdetect.report.html import verify_command
    from simdetect.report.i18n import format_p, format_share

    record = run.outputs.record
    case = record["case"]
    background = record["index"].get("background") or {}
    for lang in case.get("languages") or ["zh", "en"]:
        sets = ", ".join(f"{escape(k)} ({v})" for k, v in background.items())
        console.print(
            _say(
                "case", lang, id=escape(case["id"]), n=len(record["suspects"]),
                artist=f"[bold]{escape(case['artist'])}[/]",
            )
        )  # fmt: skip
        console.print(
            _say(
                "index", lang, added=run.portfolio.added, known=run.portfolio.already_indexed,
                background=sets or _say("no_background", lang),
            )
        )  # fmt: skip
        for s in record["suspects"]:
            console.print(f"[bold]{escape(Path(s['path']).name)}[/]")
            copy = s.get("copy")
            if copy:
                src = copy["source"]
                console.print(
                    "  "
                    + _say(
                        "copy", lang, work=escape(Path(src["path"]).name),
                        artist=escape(src["artist"]), by=escape(str(copy["decided_by"])),
                        p=format_p(copy["p_value"]),
                    ),
                    style="bold red",
                )  # fmt: skip
            entry = s["claimant"]["entry"] or {}
            decision = entry.get("decision")
            p = format_p(entry.get("p_value"))
            artist = escape(case["artist"])
            if decision is True:
                fpr = format_share(entry.get("target_fpr"))
                console.print("  " + _say("match", lang, artist=artist, fpr=fpr, p=p))
            elif decision is False:
                console.print("  " + _say("no_match", lang, artist=artist, p=p))
            scan = s.get("scan") or {}
            if decision is None:
                calibrated = (scan.get("calibration") or {}).get("state") == "calibrated"
                reason = _reason(entry, calibrated, lang)
                console.print("  " + _say("undecided", lang, reason=escape(reason)))
            if scan.get("flagged") and scan.get("flagged_artist"):
                fpr = format_share(scan.get("family_fpr") or DEFAULT_FAMILY_FPR)
                console.print(
                    "  " + _say("flagged", lang, artist=escape(scan["flagged_artist"]), fpr=fpr)
                )
    outputs = run.outputs
    paths = [p for p in (outputs.json_path, outputs.html_path, outputs.pdf_path) if p]
    label = " / ".join(_say("files", lang) for lang in case.get("languages") or ["en"])
    console.print(f"{label}:")
    for path in paths:
        console.print(f"  {escape(str(path))}")
    console.print(f"digest: {outputs.digest}")
    if outputs.json_path is not None:
        cmd = verify_command(outputs.json_path, record["index"]["path"])
        label = " / ".join(_say("verify", lang) for lang in case.get("languages") or ["en"])
        console.print(f"{label}: {escape(cmd)}")


def case_cmd(
    suspects: Annotated[list[Path], typer.Argument(help="Suspect image files (or folders).")],
    portfolio: Annotated[
        Path, typer.Option("--portfolio", "-p", help="Folder of the artist's own works.")
    ],
    artist: Annotated[str, typer.Option("--artist", "-a", help="The artist's name.")],
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="Case folder: the index and the report are kept here."),
    ],
    background: Annotated[
        Path | None,
        typer.Option(
            "--background",
            help="Folder of comparison works by other painters, one sub-folder per painter "
            "(never reported as matches; they make the scores calibrated).",
        ),
    ] = None,
    lang: LangOpt = "both",
    case_id: CaseIdOpt = None,
    formats: FormatsOpt = DEFAULT_FORMATS,
    fpr: FprOpt = DEFAULT_TARGET_FPR,
    family_fpr: FamilyFprOpt = DEFAULT_FAMILY_FPR,
    overwrite: Annotated[
        bool,
        typer.Option("--overwrite", help="Replace an earlier report in the case folder."),
    ] = False,
) -> None:
    """An artist's case in one step: index the portfolio, scan, check copies, write the report."""
    from simdetect.report.artist_case import run_artist_case
    from simdetect.report.case import parse_formats
    from simdetect.report.i18n import parse_languages
    from simdetect.report.record import CaseInfo, default_case_id

    with user_errors():
        case = CaseInfo(
            artist=artist,
            case_id=case_id or default_case_id(),
            languages=parse_languages(lang),
        )
        with progress_bar("indexing") as (on_total, on_progress):
            run = run_artist_case(
                [str(p) for p in suspects],
                portfolio,
                case,
                out,
                background=background,
                formats=parse_formats(formats),
                target_fpr=fpr,
                family_fpr=family_fpr,
                overwrite=overwrite,
                on_total=on_total,
                on_progress=on_progress,
            )
    print_case(run)
