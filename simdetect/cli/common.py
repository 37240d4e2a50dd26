"""What every command shares: the consoles, the defaults, the option types, the one
mapping from errors to a red line and an exit code, the one progress bar, counted nouns
and machine-readable output.

Nothing here imports numpy, torch, FAISS or pandas: `simdetect --help` stays fast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from simdetect.defaults import (
    BATCH_REFERENCE_MIN,
    DEFAULT_BATCH_REFERENCE_SIZE,
    DEFAULT_FAMILY_FPR,
    DEFAULT_MAX_PIXELS,
    DEFAULT_TARGET_FPR,
)
from simdetect.errors import UserError

# Rich wraps long lines by default; errors and result lines stay one greppable line each.
# With --json, stdout (`console`) carries only JSON; everything for people goes to stderr.
console = Console(soft_wrap=True, highlight=False)
err_console = Console(stderr=True, soft_wrap=True, highlight=False)

DEFAULT_INDEX = Path("indexes/default")

__all__ = [
    "BATCH_REFERENCE_MIN",
    "DEFAULT_BATCH_REFERENCE_SIZE",
    "DEFAULT_FAMILY_FPR",
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_TARGET_FPR",
]

# -- option types: one definition per option used by several commands -------------------

IndexOpt = Annotated[Path, typer.Option("--index", "-i", help="Index directory.")]
MaxPixelsOpt = Annotated[
    int, typer.Option("--max-pixels", help="Refuse images larger than this many pixels.")
]
BatchOpt = Annotated[int, typer.Option("--batch-size", help="Images per forward pass.")]
WorkersOpt = Annotated[int, typer.Option("--workers", help="Decode threads.")]
CommitOpt = Annotated[
    int, typer.Option("--commit-every", help="Commit to disk after this many new works.")
]
FprOpt = Annotated[
    float, typer.Option("--fpr", help="Target false-positive rate for the decision.")
]
TopKOpt = Annotated[int, typer.Option("--top-k", "-k", help="Nearest works to list.")]
ReferenceOpt = Annotated[
    str | None,
    typer.Option(
        "--reference",
        help="Generator reference set stored with the index (simdetect index add-reference): "
        "suspects are centred on its mean and judged against its outputs.",
    ),
]
FamilyFprOpt = Annotated[
    float,
    typer.Option(
        "--family-fpr",
        help="Family-wise false-positive rate of `flagged` (flagged for any artist).",
    ),
]
BackboneNewOpt = Annotated[
    str | None, typer.Option("--backbone", "-b", help="Backbone for a new index.")
]
BackgroundOpt = Annotated[
    bool, typer.Option("--background", help="Add as background (never reported as a match).")
]
SkippedCsvOpt = Annotated[Path | None, typer.Option(help="Where to write skipped files.")]

# -- words and machine-readable output -------------------------------------------------------


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """ "1 artist", "2 artists", "1 edited copy": counts people read, in every command.

    `nouns` is the plural when adding an "s" is wrong ("edited copies").
    """
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {nouns or noun + 's'}"


def print_json(text: str) -> None:
    """One already-serialised JSON document on stdout, exactly as given.

    `Console.out` applies no markup, emoji codes, highlighting or wrapping, so a
    consumer reads the very bytes the serialiser made (`--json` must equal `--out`).
    """
    console.out(text, highlight=False)


# -- errors --------------------------------------------------------------------------------

# The library names settings by their own names; these are the flags that set them.
FLAGS = {
    "actors": "--ray-actors",
    "batch_size": "--batch-size",
    "batch_wait_ms": "--batch-wait-ms",
    "chunk_rows": "--chunk-rows",
    "clients": "--clients",
    "decode_workers": "--decode-workers",
    "formats": "--format",
    "languages": "--lang",
    "max_batch": "--max-batch",
    "max_pixels": "--max-pixels",
    "max_request_mb": "--max-request-mb",
    "overwrite": "--overwrite",
    "queue_size": "--queue-size",
    "request_timeout_s": "--timeout",
    "resume": "--resume",
    "rounds": "--rounds",
    "seconds": "--seconds",
    "target_fpr": "--fpr",
    "top_artists": "--top-artists",
    "top_k": "--top-k",
    "warmup": "--warmup",
    "workers": "--workers",
}


def flag(setting: str) -> str:
    return FLAGS.get(setting, "--" + setting.replace("_", "-"))


def message_for(exc: BaseException) -> str:
    """The one line a user sees for an expected failure."""
    if isinstance(exc, UserError):
        return exc.phrase(flag)
    return str(exc)


# A UserError is bad input by definition; the operating system's refusals of a path the
# user named are too. Anything else is a bug, and keeps its traceback.
EXPECTED = (UserError, FileNotFoundError, NotADirectoryError, PermissionError)


def fail(message: str, code: int = 1) -> NoReturn:
    """One red line on stderr and exit `code` (the message is plain text, not markup)."""
    err_console.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    """Expected failures become one red line and exit code 1, never a traceback."""
    try:
        yield
    except EXPECTED as exc:
        fail(message_for(exc))


# -- progress ------------------------------------------------------------------------------

ProgressFns = tuple[Callable[[int], None], Callable[[int], None]]


@contextmanager
def progress_bar(label: str) -> Iterator[ProgressFns]:
    """(on_total, on_progress) callbacks drawing a bar on stderr when it is a terminal."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    ) as progress:
        task = progress.add_task(label, total=None)

        def on_total(n: int) -> None:
            progress.update(task, total=n)

        def on_progress(n: int) -> None:
            progress.advance(task, n)

        yield on_total, on_progress
