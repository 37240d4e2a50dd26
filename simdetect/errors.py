"""The errors simdetect raises on purpose, in one family.

`SimdetectError` is the root. `UserError` is the one that matters to callers: the input
or the request cannot be honoured (a bad file, an unknown artist, a setting out of
range, an index another process holds). Its message is one line, names the file or the
setting and the reason, and never a command-line flag: the library does not know how it
was called. Where a message is about settings, it names them by their library name and
keeps the names apart (`UserError("{} must be at least 1", "top_k")`), so the command
line can put its own flag names in (`--top-k must be at least 1`) in one place
(`simdetect.cli.common`). Anything that is not a `SimdetectError` is a bug and is shown
with its traceback.

A `UserError` is also a `ValueError`: code that caught the ValueErrors these used to be
keeps working.

The domain errors live here so the family is visible at once; each is re-exported where
it used to be defined (`simdetect.index.IndexNotFound`, ...).
"""

from __future__ import annotations

from collections.abc import Callable


class SimdetectError(Exception):
    """Every error simdetect raises on purpose."""


class UserError(SimdetectError, ValueError):
    """Bad input or a refused operation; shown as one line, never as a traceback.

    `message` may hold one `{}` per name in `settings`; `str()` fills them with the
    library's names, `phrase()` with whatever names the caller uses (flags, fields).
    """

    def __init__(self, message: str, *settings: str) -> None:
        self.template = message
        self.settings = settings
        super().__init__(_fill(message, settings))

    def phrase(self, name: Callable[[str], str]) -> str:
        """The message with each setting named by `name(setting)`."""
        return _fill(self.template, tuple(name(s) for s in self.settings))


def _fill(template: str, names: tuple[str, ...]) -> str:
    """`{}` by `{}`, nothing else interpreted (messages quote user input, braces and all)."""
    parts = template.split("{}")
    if not names or len(parts) != len(names) + 1:
        return template
    return "".join(p + n for p, n in zip(parts, (*names, ""), strict=True))


# -- images and outputs --------------------------------------------------------------------


class ImageLoadError(UserError):
    """An image that cannot be used, with a reason fit for a skips report."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason

    def __reduce__(self) -> tuple[type[ImageLoadError], tuple[str, str]]:
        # Default exception pickling replays args=(message,), which does not fit this
        # __init__; worker processes must be able to send these back.
        return (type(self), (self.path, self.reason))


class OutputFormatError(UserError):
    """An output file whose suffix names no format we write."""


# -- backbones -----------------------------------------------------------------------------


class BackboneError(UserError):
    """A backbone cannot be built as asked (unknown name, bad spec, broken checkpoint)."""


class BackboneUnavailable(BackboneError):
    """The weights a backbone needs are not on this machine and cannot be fetched."""


# -- the index -----------------------------------------------------------------------------


class IndexNotFound(UserError):
    """No committed index exists at the given directory."""


class IndexCorrupt(UserError):
    """The files on disk do not match the manifest (or the manifest cannot be read)."""


class IndexLocked(UserError):
    """Another process is writing to the index."""


class FingerprintMismatch(UserError):
    """Vectors from one backbone must never be compared with another's."""


class AnnError(UserError):
    """An approximate index cannot be built as asked."""


# -- running: Ray, audits, reports, the service ---------------------------------------------


class RayEngineError(UserError):
    """The Ray engine cannot run as asked (Ray missing, cluster unreachable, a worker failed)."""


class SourceError(UserError):
    """An audit source cannot be read (not one bad entry: those become error rows)."""


class AuditStateError(UserError):
    """The audit output or checkpoint on disk does not allow what was asked."""


class ReportError(UserError):
    """A report cannot be made as asked (unknown artist, unreadable image, no Chromium...)."""


class ChromiumMissing(ReportError):
    """No Chromium to print the PDF with."""


class ReferenceSetError(UserError):
    """A generator reference set is missing, malformed, or from another backbone."""


class AuthConfigError(UserError):
    """API keys that cannot be used (unreadable file, too short), or no keys and no opt-out."""


class Overloaded(SimdetectError):
    """The service's queue is full; the client should retry later (HTTP 429)."""


class Unavailable(SimdetectError):
    """Not serving: stopping, or the request waited past its timeout (HTTP 503)."""
