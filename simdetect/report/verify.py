"""`simdetect verify`: re-check an evidence record against its digest, its files and its index.

A record is worth something in a dispute only if the other side can check it. This
recomputes everything that can be recomputed — the digest of the record, the digest of
each section (to say *where* a record was altered), the SHA-256 of every file it names,
the provenance read from each image, and every score, by re-scanning the images against
the very index snapshot the record names — and lists each check as matching or not.
Re-scanning against a different snapshot would compare apples with pears, so a changed
index is refused rather than compared.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from simdetect import __version__
from simdetect.backbones.base import BackboneError
from simdetect.defaults import DEFAULT_FAMILY_FPR
from simdetect.index.build import backbone_for_index
from simdetect.index.manifest import IndexCorrupt
from simdetect.index.store import (
    FingerprintMismatch,
    IndexNotFound,
    IndexSnapshot,
    generation_name,
    open_index,
)
from simdetect.io.hashing import sha256_file
from simdetect.io.names import text_name
from simdetect.provenance import read_provenance
from simdetect.report.canonical import DIGEST_KEY, SECTIONS_KEY, record_digest, section_digests
from simdetect.report.errors import ReportError
from simdetect.report.limitations import limitations
from simdetect.report.portable import find_by_sha256, resolve_recorded
from simdetect.report.record import (
    SCHEMA,
    SCHEMA_VERSION,
    claimant_summary,
    distributions,
    index_section,
    input_files,
    method_section,
    near_duplicates,
)
from simdetect.report.renderings import check_renderings
from simdetect.report.software import software_versions
from simdetect.report.suspects import CaseScan, scan_params
from simdetect.scan import open_scanner, scan_in_order
from simdetect.scoring.imitation import ImitationParams
from simdetect.scoring.ranking import RankingParams

log = logging.getLogger(__name__)

Status = Literal["ok", "changed", "missing", "refused", "error", "skipped", "info"]
FAILING: frozenset[str] = frozenset({"changed", "missing", "refused", "error"})
TOLERANCE = 1e-6
# Scores are stored rounded to 6 decimals, so two values a hair apart can round to
# neighbours exactly 1e-6 apart; the slack keeps float error from failing those.
_SLACK = 1e-12


@dataclass(frozen=True)
class Check:
    """One thing that was checked: its area, what exactly, the outcome and why."""

    area: str
    subject: str
    status: Status
    detail: str

    @property
    def failed(self) -> bool:
        return self.status in FAILING


@dataclass
class Verification:
    path: Path
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and not any(c.failed for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.failed]

    def add(self, area: str, subject: str, status: Status, detail: str) -> None:
        self.checks.append(Check(area, subject, status, detail))

    def checks_json(self) -> list[dict[str, str]]:
        """Every check as plain data (what `verify --json` and the workbench show)."""
        return [
            {"area": c.area, "subject": c.subject, "status": c.status, "detail": c.detail}
            for c in self.checks
        ]


def load_record(path: Path, out: Verification) -> dict[str, Any] | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ReportError(f"no evidence record at {path}") from None
    except OSError as exc:
        raise ReportError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        record = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        out.add(
            "record", str(path), "changed", f"not UTF-8 at byte {exc.start}: altered or damaged"
        )
        return None
    except json.JSONDecodeError as exc:
        out.add(
            "record",
            str(path),
            "changed",
            f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}): "
            "altered or damaged",
        )
        return None
    if not isinstance(record, dict) or record.get("schema") != SCHEMA:
        out.add("record", str(path), "error", f"not a simdetect evidence record (schema {SCHEMA})")
        return None
    version = record.get("schema_version")
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        out.add(
            "record",
            str(path),
            "error",
            f"schema_version {version!r} is not one this simdetect reads (≤ {SCHEMA_VERSION})",
        )
        return None
    return record


def _section_hint(record: dict[str, Any], name: str) -> str:
    """A human handle for a section: the file a suspect or input entry is about."""
    for key in ("suspects", "inputs"):
        if name.startswith(f"{key}["):
            try:
                i = int(name[len(key) + 1 : name.index("]")])
                return f" ({Path(record[key][i]['path']).name})"
            except (ValueError, IndexError, KeyError, TypeError):
                return ""
    return ""


def check_integrity(record: dict[str, Any], out: Verification, expect: str | None) -> None:
    recorded = record.get(DIGEST_KEY)
    recomputed = record_digest(record)
    if recorded == recomputed:
        out.add("record", "digest", "ok", f"{recomputed} recomputed from the canonical JSON")
    else:
        out.add(
            "record",
            "digest",
            "changed",
            f"recorded {recorded}, recomputed {recomputed}: the record was altered",
        )
    stored = record.get(SECTIONS_KEY)
    stored = stored if isinstance(stored, dict) else {}
    body = {k: v for k, v in record.items() if k not in (DIGEST_KEY, SECTIONS_KEY)}
    current = section_digests(body)
    changed = [n for n in current if stored.get(n) != current[n]]
    removed = [n for n in stored if n not in current]
    for name in changed:
        what = "was added" if name not in stored else "differs from its recorded section digest"
        out.add("section", name, "changed", f"{name}{_section_hint(record, name)} {what}")
    for name in removed:
        out.add("section", name, "changed", f"{name} was removed")
    if recorded != recomputed and not changed and not removed:
        out.add(
            "section",
            DIGEST_KEY,
            "changed",
            "every section matches its digest: the digest field itself was altered",
        )
    if expect is not None:
        expect = expect.strip().lower()
        status: Status = "ok" if expect == recorded == recomputed else "changed"
        out.add("record", "expected digest", status, f"expected {expect}, record has {recorded}")


@dataclass(frozen=True)
class FileState:
    """What became of one recorded file: its status and where it was found."""

    status: str
    path: Path | None = None

    @property
    def present(self) -> bool:
        return self.status in ("ok", "changed") and self.path is not None


def _wanted(record: dict[str, Any], base: Path) -> dict[str, int]:
    """sha256 → size of every input not at its recorded place (to look for elsewhere)."""
    wanted: dict[str, int] = {}
    for item in record.get("inputs", []):
        path = resolve_recorded(base, str(item.get("path")))
        if not path.is_file() and isinstance(item.get("sha256"), str):
            wanted[item["sha256"]] = int(item.get("size_bytes") or 0)
    return wanted


def check_files(
    record: dict[str, Any], out: Verification, base: Path, search: Sequence[Path] = ()
) -> dict[str, FileState]:
    """Re-hash every input; returns recorded path → what became of it.

    Relative paths are inside the record's folder (``base``). A file not at its place is
    looked for by SHA-256 in ``search`` (the suspects moved to another folder).
    """
    found = find_by_sha256(search, _wanted(record, base)) if search else {}
    states: dict[str, FileState] = {}
    for i, item in enumerate(record.get("inputs", [])):
        recorded = str(item.get("path"))
        path = resolve_recorded(base, recorded)
        role = str(item.get("role", "file")).replace("_", " ")
        subject = f"inputs[{i}] {role} {recorded}"
        where = ""
        if not path.is_file() and item.get("sha256") in found:
            path = found[item["sha256"]]
            where = f", found by its SHA-256 at {text_name(path)}"
        if not path.is_file():
            out.add("file", subject, "missing", "not found at the recorded path")
            states[recorded] = FileState("missing")
            continue
        try:
            actual = sha256_file(path)
        except OSError as exc:
            out.add("file", subject, "missing", f"cannot be read: {exc.strerror or exc}")
            states[recorded] = FileState("missing")
            continue
        if actual == item.get("sha256"):
            out.add("file", subject, "ok", f"sha256 {actual}{where}")
            states[recorded] = FileState("ok", path)
        else:
            out.add(
                "file",
                subject,
                "changed",
                f"recorded sha256 {item.get('sha256')}, now {actual}: the file changed",
            )
            states[recorded] = FileState("changed", path)
    return states


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if math.isnan(float(a)) or math.isnan(float(b)):
            return False
        return abs(float(a) - float(b)) <= TOLERANCE + _SLACK
    return bool(a == b)


def compare_values(recorded: Any, fresh: Any, prefix: str) -> tuple[list[str], int]:
    """Differences between two JSON values, as field paths; numbers agree within 1e-6."""
    if isinstance(recorded, dict) and isinstance(fresh, dict):
        diffs: list[str] = []
        compared = 0
        for key in sorted(set(recorded) | set(fresh)):
            more, n = compare_values(recorded.get(key), fresh.get(key), f"{prefix}.{key}")
            diffs.extend(more)
            compared += n
        return diffs, compared
    if isinstance(recorded, list) and isinstance(fresh, list):
        diffs, compared = [], 0
        if len(recorded) != len(fresh):
            diffs.append(f"{prefix}: recorded {len(recorded)} items, now {len(fresh)}")
        for j, (a, b) in enumerate(zip(recorded, fresh, strict=False)):
            more, n = compare_values(a, b, f"{prefix}[{j}]")
            diffs.extend(more)
            compared += n
        return diffs, compared
    if _same(recorded, fresh):
        return [], 1
    return [f"{prefix}: recorded {_show(recorded)}, now {_show(fresh)}"], 1


def _show(value: Any, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def compare_rows(
    recorded: dict[str, Any], fresh: dict[str, Any], prefix: str
) -> tuple[list[str], int]:
    """Differences between a recorded scan row and a fresh one, as field paths; and the
    number of scores compared. Rankings must be identical; numbers agree within 1e-6."""
    diffs: list[str] = []
    compared = 0
    rec_order = [e.get("artist") for e in recorded.get("ranking", [])]
    new_order = [e.get("artist") for e in fresh.get("ranking", [])]
    if rec_order != new_order:
        diffs.append(f"{prefix}.ranking order: recorded {rec_order}, now {new_order}")
    fresh_by_artist = {e["artist"]: e for e in fresh.get("ranking", [])}
    for i, entry in enumerate(recorded.get("ranking", [])):
        now = fresh_by_artist.get(entry.get("artist"))
        if now is None:
            diffs.append(f"{prefix}.ranking[{i}]: artist {entry.get('artist')!r} no longer ranked")
            continue
        for key in sorted(set(entry) | set(now)):
            compared += 1
            if not _same(entry.get(key), now.get(key)):
                diffs.append(
                    f"{prefix}.ranking[{i}].{key} ({entry.get('artist')}): recorded "
                    f"{entry.get(key)!r}, now {now.get(key)!r}"
                )
    rec_matches = recorded.get("matches", [])
    new_matches = fresh.get("matches", [])
    if [m.get("path") for m in rec_matches] != [m.get("path") for m in new_matches]:
        diffs.append(f"{prefix}.matches: the nearest works differ")
    else:
        for i, (a, b) in enumerate(zip(rec_matches, new_matches, strict=True)):
            for key in sorted(set(a) | set(b)):
                compared += 1
                if not _same(a.get(key), b.get(key)):
                    diffs.append(
                        f"{prefix}.matches[{i}].{key}: recorded {a.get(key)!r}, now {b.get(key)!r}"
                    )
    if "copy_check" in recorded:  # records made before the copy verdict carry none
        rec_state = (recorded.get("copy_check") or {}).get("state")
        new_state = (fresh.get("copy_check") or {}).get("state")
        if rec_state != new_state:
            diffs.append(f"{prefix}.copy_check.state: recorded {rec_state!r}, now {new_state!r}")
        more, n = compare_values(recorded.get("copy"), fresh.get("copy"), f"{prefix}.copy")
        diffs.extend(more)
        compared += n
    for key in ("sha256", "phash", "width", "height", "format", "size_bytes", "note"):
        if not _same(recorded.get(key), fresh.get(key)):
            diffs.append(f"{prefix}.{key}: recorded {recorded.get(key)!r}, now {fresh.get(key)!r}")
    rec_state = (recorded.get("calibration") or {}).get("state")
    new_state = (fresh.get("calibration") or {}).get("state")
    if rec_state != new_state:
        diffs.append(f"{prefix}.calibration.state: recorded {rec_state!r}, now {new_state!r}")
    return diffs, compared


def _recorded_generation(root: Path, recorded: dict[str, Any]) -> IndexSnapshot | None:
    """The recorded generation of ``root`` if it is still kept there (the index has
    moved on by a commit or two), else None."""
    number = recorded.get("generation")
    if not isinstance(number, int):
        return None
    try:
        snapshot = open_index(root, generation=generation_name(number))
    except (IndexNotFound, IndexCorrupt):
        return None
    return snapshot if snapshot.snapshot_digest() == recorded.get("snapshot_digest") else None


def _open_recorded_index(
    record: dict[str, Any], index_dir: Path | None, out: Verification, base: Path
) -> IndexSnapshot | None:
    recorded = record.get("index", {})
    root = index_dir or resolve_recorded(base, str(recorded.get("path")))
    try:
        snapshot = open_index(root)
    except (IndexNotFound, IndexCorrupt) as exc:
        out.add("index", str(root), "missing", f"cannot re-check the scores: {exc}")
        return None
    digest = snapshot.snapshot_digest()
    want = recorded.get("snapshot_digest")
    note = ""
    if digest != want:
        older = _recorded_generation(root, recorded)
        if older is not None:
            snapshot, digest = older, want
            note = "; an older generation, still kept beside the current one"
    if digest != want:
        out.add(
            "index",
            str(root),
            "refused",
            f"refusing to re-score: the index's current snapshot {digest} (generation "
            f"{snapshot.manifest.generation}) is not the recorded snapshot {want} (generation "
            f"{recorded.get('generation')}); scores are only comparable on the same snapshot. "
            "Re-check against a copy of the index at that snapshot (a report folder "
            "written with its snapshot carries one).",
        )
        return None
    fp_want = record.get("method", {}).get("backbone", {}).get("fingerprint_digest")
    if snapshot.manifest.fingerprint.digest() != fp_want:
        out.add(
            "index",
            str(root),
            "refused",
            f"the index's backbone fingerprint {snapshot.manifest.fingerprint.digest()} is not "
            f"the recorded {fp_want}",
        )
        return None
    out.add(
        "index",
        str(root),
        "ok",
        f"snapshot {digest} (generation {snapshot.manifest.generation}, "
        f"{snapshot.count} works) is the recorded one{note}",
    )
    return snapshot


def check_scores(
    record: dict[str, Any],
    snapshot: IndexSnapshot,
    states: dict[str, FileState],
    out: Verification,
) -> None:
    method = record["method"]
    try:
        backbone = backbone_for_index(snapshot.root, None)
        snapshot.require_fingerprint(backbone.fingerprint)
    except (BackboneError, FingerprintMismatch) as exc:
        out.add("backbone", str(method["backbone"]["spec"]), "refused", str(exc))
        return
    out.add(
        "backbone",
        str(method["backbone"]["spec"]),
        "ok",
        f"fingerprint {backbone.fingerprint.digest()} (weights sha256 "
        f"{backbone.fingerprint.weights_sha256})",
    )
    params = scan_params(
        int(method["top_k"]),
        float(method["target_fpr"]),
        int(method["scoring"]["k"]),
        int(method["scoring"]["hubness_k"]),
        method.get("reference"),
        float(method.get("family_fpr", DEFAULT_FAMILY_FPR)),
        # re-scored with the contrastive method the record names, so a record made by an
        # earlier version (before the second-order alignment) re-checks as it was made
        ImitationParams.from_record(method.get("contrastive") or {}),
        # and its nearest works ordered as the record says (none named: plain cosine)
        RankingParams(**method["ranking"]) if method.get("ranking") else None,
    )
    suspects = record["suspects"]
    missing = FileState("missing")
    located = [states.get(str(s["path"]), missing) for s in suspects]
    present = [(i, s) for i, s in enumerate(suspects) if located[i].present]
    for i, s in enumerate(suspects):
        if not located[i].present:
            out.add(
                "scores", f"suspects[{i}] {s['path']}", "missing", "file not found: not re-scored"
            )
    if not present:
        return
    scanner = open_scanner(snapshot, params, reproducible=True)
    context = scanner.context()
    files = [str(located[i].path) for i, _ in present]
    results = scan_in_order(scanner, files, backbone)
    rows: list[tuple[int, dict[str, Any], dict[str, Any]]] = []
    for (i, s), result in zip(present, results, strict=True):
        if result.error:
            name = Path(str(s["path"])).name
            out.add("scores", f"suspects[{i}] {name}", "error", f"cannot re-scan: {result.error}")
        else:
            rows.append((i, s, result.to_json(context)))
    artist = str(record["case"]["artist"])
    for i, s, fresh in rows:
        diffs, compared = compare_rows(s["scan"], fresh, f"suspects[{i}].scan")
        derived = {
            "claimant": claimant_summary(fresh, artist),
            "near_duplicates": near_duplicates(fresh),
        }
        for key, value in derived.items():
            more, n = compare_values(s.get(key), value, f"suspects[{i}].{key}")
            diffs.extend(more)
            compared += n
        name = Path(str(s["path"])).name
        subject = f"suspects[{i}] {name}"
        if diffs:
            for d in diffs:
                out.add("scores", subject, "changed", d)
        else:
            out.add(
                "scores",
                subject,
                "ok",
                f"ranking of {len(fresh['ranking'])} artists identical; {compared} values "
                f"within {TOLERANCE:g}",
            )
    if len(rows) == len(suspects):
        check_derived(record, CaseScan(scanner=scanner, rows=[r for _, _, r in rows]), out)


# Recomputed from the index, but legitimately different on a later run or another machine.
UNCHECKED = {
    "distributions": ("computed_at",),
    "index": ("path", "source_path"),
    "method": ("software",),
}
# Where files sit is checked by their hashes (check_files), not by comparing names: a
# re-scan reads the case folder's copies, the record names where they were found.
_PLACE_KEYS = ("path", "source_path", "status")


def _placeless(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in _PLACE_KEYS}


def check_derived(record: dict[str, Any], scan: CaseScan, out: Verification) -> None:
    """Every other section that can be rebuilt from the index and the files, rebuilt."""
    artist = str(record["case"]["artist"])
    rebuilt: dict[str, Any] = {
        # on the scale the record was made with (older records plotted `relative`)
        "distributions": distributions(
            scan, artist, record.get("distributions", {}).get("statistic", "relative")
        ),
        "index": index_section(scan),
        "method": method_section(scan),
        "inputs": [_placeless(item) for item in input_files(scan)],
        "limitations": limitations(record),
    }
    recorded_inputs = [_placeless(item) for item in record["inputs"]]
    diffs: list[str] = []
    compared = 0
    for key, fresh in rebuilt.items():
        mine = recorded_inputs if key == "inputs" else record.get(key)
        if isinstance(fresh, dict) and isinstance(mine, dict):
            skip = UNCHECKED.get(key, ())
            fresh = {k: v for k, v in fresh.items() if k not in skip}
            mine = {k: v for k, v in mine.items() if k not in skip}
        more, n = compare_values(mine, fresh, key)
        diffs.extend(more)
        compared += n
    for d in diffs:
        where, _, what = d.partition(": ")
        out.add("content", where, "changed", what)
    if not diffs:
        out.add(
            "content",
            "distributions, index, method, inputs, limitations",
            "ok",
            f"rebuilt from the index and files: {compared} values identical",
        )


def check_provenance(
    record: dict[str, Any], states: dict[str, FileState], out: Verification
) -> None:
    for i, s in enumerate(record.get("suspects", [])):
        path = str(s.get("path"))
        state = states.get(path)
        if state is None or not state.present:
            continue
        read = read_provenance(str(state.path)).to_dict()
        fresh = json.loads(json.dumps(read, ensure_ascii=False))
        recorded = s.get("provenance")
        if isinstance(recorded, dict):  # where the file sits is checked by its hash
            fresh["path"] = recorded.get("path")
        subject = f"suspects[{i}] {Path(path).name}"
        if fresh == recorded:
            out.add("provenance", subject, "ok", "metadata findings identical")
            continue
        keys = sorted(set(fresh) | set(recorded or {}))
        differing = [k for k in keys if (recorded or {}).get(k) != fresh.get(k)]
        out.add(
            "provenance",
            subject,
            "changed",
            "differs in " + ", ".join(f"suspects[{i}].provenance.{k}" for k in differing),
        )


def check_software(record: dict[str, Any], out: Verification) -> None:
    recorded = record.get("method", {}).get("software", {})
    here = software_versions()
    here["simdetect"] = __version__
    diffs = [
        f"{k} {recorded.get(k)} → {here.get(k)}"
        for k in sorted(recorded)
        if k != "platform" and recorded.get(k) != here.get(k)
    ]
    if diffs:
        out.add("software", "versions", "info", "differs from the record: " + "; ".join(diffs))
    else:
        out.add("software", "versions", "info", "same versions as recorded")


def verify_report(
    path: Path,
    index_dir: Path | None = None,
    *,
    rescan: bool = True,
    expect_digest: str | None = None,
    search: Sequence[Path] = (),
) -> Verification:
    """Every check on the record at `path`; `.ok` only if all of them match.

    Files named relative to the record are in its folder; files not where the record
    says are looked for by SHA-256 in the folders of ``search``.
    """
    out = Verification(path=path)
    record = load_record(path, out)
    if record is None:
        return out
    base = Path(path).parent
    check_integrity(record, out, expect_digest)
    for area, subject, status, detail in check_renderings(path):
        out.add(area, subject, cast(Status, status), detail)
    try:
        states = check_files(record, out, base, search)
        check_provenance(record, states, out)
        if rescan:
            snapshot = _open_recorded_index(record, index_dir, out, base)
            if snapshot is not None:
                check_scores(record, snapshot, states, out)
        else:
            out.add("scores", "re-scan", "skipped", "not re-scored (--no-rescan)")
        check_software(record, out)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        # An altered record may lack what the checks need; say so instead of crashing.
        out.add("record", str(path), "error", f"malformed record ({type(exc).__name__}: {exc})")
    return out
