"""SHA-256 of a report's renderings (HTML, PDF), written beside the record, checked by verify.

The evidence record seals itself (its digest), but the HTML and PDF a reader actually
opens are renderings of it, and an edit to them passed `verify`. The renderings are
hashed after they are written, into ``renderings.sha256`` in the report folder, in the
format of ``sha256sum`` (``<hex>  <file name>`` per line), so the folder can also be
checked without simdetect: ``sha256sum -c renderings.sha256``.

It is a sidecar rather than a field of the record because the HTML shows the record's
digest: a hash of the HTML inside the record would change the digest it shows.
`verify` fails when a listed rendering is missing or differs, and when a rendering sits
next to the record without the sidecar (it was removed, or the report predates it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from simdetect.io.atomic import atomic_write_text
from simdetect.io.hashing import sha256_file

__all__ = ["RENDERING_NAMES", "SIDECAR_NAME", "check_renderings", "seal_renderings"]

SIDECAR_NAME = "renderings.sha256"
RENDERING_NAMES = ("report.html", "report.pdf")
_LINE = re.compile(r"([0-9a-f]{64})  (\S.*)")

# (area, subject, status, detail), as Verification.add takes them
Finding = tuple[str, str, str, str]


def seal_renderings(folder: Path, files: Iterable[Path]) -> Path:
    """Write the sidecar listing the SHA-256 of each of ``files`` (all inside ``folder``)."""
    lines = [f"{sha256_file(f)}  {f.name}\n" for f in sorted(files, key=lambda p: p.name)]
    target = folder / SIDECAR_NAME
    atomic_write_text(target, "".join(lines))
    return target


def _read_sidecar(path: Path) -> dict[str, str] | None:
    listed: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    for line in text.splitlines():
        m = _LINE.fullmatch(line)
        if m is None or "/" in m.group(2) or m.group(2) in (".", ".."):
            return None
        listed[m.group(2)] = m.group(1)
    return listed


def check_renderings(record_path: Path) -> list[Finding]:
    """What verify reports about the renderings next to the record at ``record_path``."""
    folder = record_path.parent
    sidecar = folder / SIDECAR_NAME
    present = [name for name in RENDERING_NAMES if (folder / name).is_file()]
    if not sidecar.exists():
        if not present:
            return [
                ("rendering", str(folder), "info", "no HTML or PDF rendering beside the record")
            ]
        return [
            (
                "rendering",
                str(folder / name),
                "missing",
                f"{SIDECAR_NAME} is missing, so this rendering cannot be checked "
                "(removed, or the report was made before renderings were sealed)",
            )
            for name in present
        ]
    listed = _read_sidecar(sidecar)
    if listed is None:
        return [("rendering", str(sidecar), "changed", "not a list of SHA-256 sums: altered")]
    findings: list[Finding] = []
    for name in sorted(set(listed) | set(present)):
        path = folder / name
        expected = listed.get(name)
        if expected is None:
            findings.append(
                ("rendering", str(path), "changed", f"not listed in {SIDECAR_NAME}: added later")
            )
        elif not path.is_file():
            findings.append(("rendering", str(path), "missing", "listed rendering is missing"))
        else:
            actual = sha256_file(path)
            if actual == expected:
                findings.append(("rendering", str(path), "ok", f"sha256 {actual}"))
            else:
                findings.append(
                    (
                        "rendering",
                        str(path),
                        "changed",
                        f"recorded sha256 {expected}, now {actual}: the rendering was edited",
                    )
                )
    return findings
