"""`simdetect report` and `simdetect verify`: evidence records and their re-check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from simdetect.cli.common import (
    DEFAULT_FAMILY_FPR,
    DEFAULT_INDEX,
    DEFAULT_TARGET_FPR,
    FamilyFprOpt,
    FprOpt,
    IndexOpt,
    ReferenceOpt,
    console,
    user_errors,
)
from simdetect.errors import UserError

if TYPE_CHECKING:  # the renderers load only when a report command runs
    from simdetect.report.case import ReportOutputs
    from simdetect.report.verify import Verification

DEFAULT_FORMATS = "html,pdf,json"
# Options `report` and `case` share.
LangOpt = Annotated[str, typer.Option("--lang", help="zh, en or both.")]
CaseIdOpt = Annotated[
    str | None, typer.Option("--case-id", help="Case reference (default: SD-date-time).")
]
FormatsOpt = Annotated[
    str, typer.Option("--format", help="Comma-separated subset of html,pdf,json.")
]
STATUS_STYLE = {
    "ok": "green",
    "info": "cyan",
    "skipped": "yellow",
    "changed": "bold red",
    "missing": "bold red",
    "refused": "bold red",
    "error": "bold red",
}
SnapshotOpt = Annotated[
    bool,
    typer.Option(
        "--snapshot/--no-snapshot",
        help="Keep a copy of the index state used in the report folder, so the folder "
        "verifies on another machine and after the index grows (default). Without it, "
        "verify needs the original index at its recorded state.",
    ),
]
VERDICT = {True: "above the decision threshold", False: "below the decision threshold"}


def _print_outputs(outputs: ReportOutputs) -> None:
    from simdetect.report.html import verify_command
    from simdetect.report.i18n import format_number, format_p, format_share

    record = outputs.record
    case = record["case"]
    n = len(record["suspects"])
    console.print(
        f"case [bold]{escape(case['id'])}[/]: {n} image{'s' if n != 1 else ''} "
        f"examined for artist [bold]{escape(case['artist'])}[/]"
    )
    for s in record["suspects"]:
        entry = s["claimant"]["entry"] or {}
        decision = entry.get("decision")
        if decision is None:
            verdict = f"no decision possible ({entry.get('reason') or 'no score'})"
        else:
            verdict = VERDICT[bool(decision)]
        console.print(
            f"  {escape(Path(s['path']).name)}: {verdict} (relative "
            f"{format_number(entry.get('relative'))}, threshold "
            f"{format_number(entry.get('threshold'))}, p {format_p(entry.get('p_value'))}, "
            f"false-positive rate at threshold {format_share(entry.get('fpr_at_threshold'))}; "
            f"rank {s['claimant']['rank']} of {s['claimant']['of']})"
        )
        copy = s.get("copy")
        if copy:
            src = copy["source"]
            console.print(
                f"    [bold red]EDITED COPY[/] of {escape(Path(src['path']).name)} by "
                f"{escape(src['artist'])} (decided by {copy['decided_by']}, "
                f"p {format_p(copy['p_value'])}; a separate verdict from the style score)"
            )
    for label, path in (
        ("record", outputs.json_path),
        ("html", outputs.html_path),
        ("pdf", outputs.pdf_path),
    ):
        if path is not None:
            console.print(f"{label + ':':8} {escape(str(path))}")
    console.print(f"{'digest:':8} {outputs.digest}")
    if outputs.json_path is not None:
        console.print(
            f"verify with: {escape(verify_command(outputs.json_path, record['index']['path']))}"
        )
    else:
        console.print(
            "[yellow]note:[/] no JSON record written (--format without json): "
            "this report cannot be verified with simdetect verify"
        )


def report_cmd(
    suspects: Annotated[list[Path], typer.Argument(help="Suspect image files (or folders).")],
    artist: Annotated[
        str, typer.Option("--artist", "-a", help="The claimant artist (must be indexed).")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the report into.")],
    index: IndexOpt = DEFAULT_INDEX,
    lang: LangOpt = "both",
    case_id: CaseIdOpt = None,
    claimant: Annotated[str | None, typer.Option("--claimant", help="Claimant's name.")] = None,
    respondent: Annotated[
        str | None, typer.Option("--respondent", help="Respondent's name.")
    ] = None,
    formats: FormatsOpt = DEFAULT_FORMATS,
    fpr: FprOpt = DEFAULT_TARGET_FPR,
    top_k: Annotated[int, typer.Option("--top-k", "-k", help="Nearest works to show.")] = 5,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite", help="Replace everything in a non-empty --out folder with this report."
        ),
    ] = False,
    reference: ReferenceOpt = None,
    family_fpr: FamilyFprOpt = DEFAULT_FAMILY_FPR,
    snapshot: SnapshotOpt = True,
) -> None:
    """Write the evidence report of one case: JSON record, HTML and PDF, in Chinese and English.

    The folder also keeps copies of the suspects, of the works shown and of the index
    state used, so it can be moved to another machine and still verifies there.
    """
    from simdetect.report.case import make_report, parse_formats
    from simdetect.report.i18n import parse_languages
    from simdetect.report.record import CaseInfo, default_case_id

    with user_errors():
        case = CaseInfo(
            artist=artist,
            case_id=case_id or default_case_id(),
            claimant=claimant,
            respondent=respondent,
            languages=parse_languages(lang),
        )
        outputs = make_report(
            [str(p) for p in suspects],
            index,
            case,
            out,
            formats=parse_formats(formats),
            target_fpr=fpr,
            top_k=top_k,
            overwrite=overwrite,
            reference=reference,
            family_fpr=family_fpr,
            include_snapshot=snapshot,
        )
    _print_outputs(outputs)


def print_verification(result: Verification) -> None:
    console.print(f"verifying {escape(str(result.path))}")
    for c in result.checks:
        style = STATUS_STYLE[c.status]
        status = f"{c.status.upper():8}"
        console.print(f"  [{style}]{status}[/] {c.area:10} {escape(c.subject)}: {escape(c.detail)}")
    failures = result.failures
    if result.ok:
        console.print("[bold green]verified:[/] everything checked matches")
    else:
        console.print(
            f"[bold red]NOT verified:[/] {len(failures)} check{'s' if len(failures) != 1 else ''} "
            "did not match"
        )


def verify_cmd(
    report: Annotated[Path, typer.Argument(help="The evidence record (evidence.json).")],
    index: Annotated[
        Path | None,
        typer.Option(
            "--index", "-i", help="Index to re-score against (default: the recorded one)."
        ),
    ] = None,
    no_rescan: Annotated[
        bool, typer.Option("--no-rescan", help="Check the digest and files only.")
    ] = False,
    expect_digest: Annotated[
        str | None,
        typer.Option("--expect-digest", help="The digest printed on the filed copy, to compare."),
    ] = None,
    suspects: Annotated[
        list[Path] | None,
        typer.Option(
            "--suspects",
            help="Folder to look in, by SHA-256, for files that are not where the record "
            "says (suspects or works moved to another place); may be repeated.",
        ),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print the checks as one JSON object on stdout."),
    ] = False,
) -> None:
    """Re-check a report: its digest, its files and every score (exit 0 only if all match)."""
    from simdetect.report.verify import verify_report

    with user_errors():
        for folder in suspects or []:
            if not folder.is_dir():
                raise UserError(f"{folder}: not a folder to look for files in")
        result = verify_report(
            report,
            index,
            rescan=not no_rescan,
            expect_digest=expect_digest,
            search=suspects or (),
        )
    if as_json:
        typer.echo(json.dumps(verification_json(result), ensure_ascii=False))
    else:
        print_verification(result)
    if not result.ok:
        raise typer.Exit(1)


def verification_json(result: Verification) -> dict[str, object]:
    """The outcome for scripts: every check, and whether all of them matched."""
    from simdetect.io.names import text_name

    return {
        "record": text_name(result.path),
        "ok": result.ok,
        "failures": len(result.failures),
        "checks": result.checks_json(),
    }
