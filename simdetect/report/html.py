"""The HTML report: one self-contained file rendered from the evidence record.

Safety rules, because every name, path and metadata string comes from files or users
that may be hostile: Jinja2 autoescaping is on for everything, bilingual snippets are
built with `markupsafe` (which escapes every parameter), the only text placed in CSS
(the page footer) is escaped character by character, and a Content-Security-Policy
allows nothing but inline styles and data: images, so even a mistake here could not
load or run anything.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from simdetect import __version__
from simdetect.report.copy_view import copy_view
from simdetect.report.i18n import (
    DASH,
    HTML_LANG,
    STRINGS,
    Lang,
    Localized,
    format_datetime,
    format_decision,
    format_int,
    format_number,
    format_p,
    format_percent,
    format_share,
    localized,
    text,
)
from simdetect.report.images import png_data_uri, thumbnail_data_uri
from simdetect.report.limitations import needed_impostors, undecided_code
from simdetect.report.plots import distribution_png, ranking_png
from simdetect.report.portable import is_packed, resolve_recorded
from simdetect.report.record import threshold_scale

TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE = "report.html.j2"
CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src 'none'; "
    "base-uri 'none'; form-action 'none'"
)
FIELD_TEXT_LIMIT = 600
FIELD_ROWS_LIMIT = 40


@dataclass(frozen=True)
class Bilingual:
    """Renders i18n keys as escaped HTML in the report's languages."""

    langs: tuple[Lang, ...]

    def inline(self, key: str, **params: object) -> Markup:
        """Spans, one per language (CSS decides whether they sit side by side or stack)."""
        return Markup("").join(
            Markup('<span lang="{}" class="l-{}">{}</span>').format(
                HTML_LANG[lang], lang, text(key, lang, **params)
            )
            for lang in self.langs
        )

    def para(self, key: str, **params: object) -> Markup:
        """One paragraph per language."""
        return Markup("").join(
            Markup('<p lang="{}" class="l-{}">{}</p>').format(
                HTML_LANG[lang], lang, text(key, lang, **params)
            )
            for lang in self.langs
        )

    def value(self, value: Localized | str) -> Markup:
        """A Localized value (a date, a decision) in each language; a plain string once."""
        if isinstance(value, str):
            return escape(value)
        return Markup("").join(
            Markup('<span lang="{}" class="l-{}">{}</span>').format(
                HTML_LANG[lang], lang, value.get(lang)
            )
            for lang in self.langs
        )

    def plain(self, key: str, **params: object) -> str:
        """Plain text, languages joined by " / " (page title, image alt text)."""
        return " / ".join(text(key, lang, **params) for lang in self.langs)


def css_string(value: str) -> Markup:
    """A CSS string literal that cannot end the string, the rule or the <style> element."""
    out = []
    for ch in value:
        out.append(ch if ch.isascii() and (ch.isalnum() or ch in " _.-:/") else f"\\{ord(ch):06x}")
    return Markup('"' + "".join(out) + '"')


def _footer_css(langs: tuple[Lang, ...], digest: str, case_id: str) -> dict[str, Markup]:
    page = {
        "zh": Markup('"第 " counter(page) " / " counter(pages) " 页"'),
        "en": Markup('"page " counter(page) " of " counter(pages)'),
    }
    case_label = " / ".join(STRINGS["case.id"][0 if lang == "zh" else 1] for lang in langs)
    return {
        "left": css_string(f"SHA-256 {digest}"),
        "right": Markup(' " · " ').join(page[lang] for lang in langs),
        "top": css_string(f"{case_label}: {case_id}"),
    }


def _reason(entry: dict[str, Any], target_fpr: float, calibrated: bool) -> Localized:
    """Why no decision, in both languages (the scan's own reason is English only)."""
    code = undecided_code(entry, target_fpr, calibrated)
    if code == "uncalibrated":
        return localized("reason.uncalibrated")
    if code == "too_few_impostors":
        n, needed = int(entry["n_impostors"]), needed_impostors(target_fpr)
        return localized("reason.too_few", n=n, fpr=format_share(target_fpr), needed=needed)
    return localized("reason.other", reason=entry.get("reason") or "")


def _verdict(entry: dict[str, Any] | None) -> str:
    if entry is None or entry["decision"] is None:
        return "undecided"
    return "match" if entry["decision"] else "no_match"


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(value, dict):
        rows: list[tuple[str, str]] = []
        for k, v in value.items():
            rows.extend(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return rows
    shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return [(prefix, shown)]


def _provenance_rows(prov: dict[str, Any], bi: Bilingual) -> list[dict[str, Any]]:
    rows = []
    for s in prov["signals"]:
        kind_key = f"prov.kind.{s['kind']}"
        fields = []
        for name, value in _flatten(s["fields"])[:FIELD_ROWS_LIMIT]:
            long = len(value) > FIELD_TEXT_LIMIT
            fields.append(
                {
                    "name": name,
                    "value": value[:FIELD_TEXT_LIMIT] + ("…" if long else ""),
                    "long": long,
                }
            )
        rows.append(
            {
                "kind": bi.inline(kind_key) if kind_key in STRINGS else escape(s["kind"]),
                "kind_code": s["kind"],
                "found": bool(s["found"]),
                "summary": s["summary"],
                "ai": list(s["ai_indicators"]),
                "fields": fields,
                "more_fields": len(_flatten(s["fields"])) > FIELD_ROWS_LIMIT,
                "warnings": list(s["warnings"]),
            }
        )
    return rows


def _facts(
    suspect: dict[str, Any], record: dict[str, Any], bi: Bilingual
) -> list[tuple[Markup, Markup]]:
    artist = record["case"]["artist"]
    claimant = suspect["claimant"]
    entry = claimant["entry"] or {}
    target = float(record["method"]["target_fpr"])
    index = record["index"]
    facts: list[tuple[Markup, Markup]] = []
    row = suspect["scan"]
    if entry.get("contrastive") is not None:
        facts.append(
            (
                bi.inline("fact.contrastive"),
                bi.inline(
                    "fact.contrastive.value",
                    value=format_number(entry["contrastive"]),
                    threshold=format_number(entry["threshold"]),
                ),
            )
        )
    null = row.get("null")
    if null:
        facts.append(
            (
                bi.inline("fact.null"),
                bi.inline(
                    "fact.null.reference" if null["kind"] == "reference" else "fact.null.index",
                    name=str(null.get("name") or ""),
                    n=format_int(null["size"]),
                ),
            )
        )
    if null and "flagged" in row:
        flag_key = (
            "fact.flagged.none"
            if row["flagged"] is None
            else "fact.flagged.yes"
            if row["flagged"]
            else "fact.flagged.no"
        )
        facts.append(
            (
                bi.inline("fact.flagged", fpr=format_share(row.get("family_fpr"))),
                bi.inline(
                    flag_key,
                    artist=str(row.get("flagged_artist") or ""),
                    reason=str(row.get("family_reason") or ""),
                ),
            )
        )
    if entry.get("relative") is not None and entry.get("contrastive") is None:
        facts.append(
            (
                bi.inline("fact.relative"),
                bi.inline(
                    "fact.relative.value",
                    value=format_number(entry["relative"]),
                    threshold=format_number(entry["threshold"]),
                ),
            )
        )
    if entry.get("percentile") is not None:
        facts.append(
            (
                bi.inline("fact.percentile"),
                bi.inline(
                    "fact.percentile.value",
                    pct=format_percent(entry["percentile"]),
                    n=format_int(entry["n_impostors"]),
                ),
            )
        )
    # pooled tails: p-value and rate are read over every artist's null scores together
    pooled = (
        entry.get("contrastive") is not None
        and entry.get("null") == "reference"
        and (record["method"].get("contrastive") or {}).get("tail_fraction") is not None
    )
    if entry.get("p_value") is not None:
        facts.append(
            (
                bi.inline("fact.p_value"),
                bi.inline("fact.p_value.pooled", p=format_p(entry["p_value"]))
                if pooled
                else bi.inline(
                    "fact.p_value.value",
                    p=format_p(entry["p_value"]),
                    floor=format_p(1 / (1 + int(entry["n_impostors"]))),
                ),
            )
        )
    facts.append(
        (
            bi.inline("fact.fpr"),
            bi.inline(
                "fact.fpr.pooled",
                fpr=format_share(entry.get("fpr_at_threshold")),
                target=format_share(target),
            )
            if pooled
            else bi.inline(
                "fact.fpr.value",
                fpr=format_share(entry.get("fpr_at_threshold")),
                target=format_share(target),
                n=format_int(entry.get("n_impostors")),
                k=_exceeding(entry),
            ),
        )
    )
    if entry.get("genuine_percentile") is not None:
        facts.append(
            (
                bi.inline("fact.genuine"),
                bi.inline(
                    "fact.genuine.value",
                    artist=artist,
                    pct=format_percent(entry["genuine_percentile"]),
                    n=format_int(entry["n_genuine"]),
                ),
            )
        )
    if claimant["rank"] is not None:
        facts.append(
            (
                bi.inline("fact.rank"),
                bi.inline("fact.rank.value", rank=claimant["rank"], n=claimant["of"]),
            )
        )
    ranking = suspect["scan"]["ranking"]
    if ranking and ranking[0]["artist"] != artist:
        top = ranking[0]
        facts.append(
            (bi.inline("fact.top"), escape(f"{top['artist']} ({format_number(top['relative'])})"))
        )
    facts.append(
        (
            bi.inline("fact.relative_to"),
            bi.inline(
                "fact.relative_to.value",
                n_artists=len(index["artists"]),
                n_works=format_int(index["works"]),
            ),
        )
    )
    for dup in suspect["near_duplicates"]:
        facts.append(
            (
                bi.inline("fact.near_duplicate"),
                bi.inline(
                    "fact.near_duplicate.same"
                    if dup["phash_distance"] == 0
                    else "fact.near_duplicate.value",
                    path=Path(dup["path"]).name,
                    artist=dup["artist"],
                    d=dup["phash_distance"],
                ),
            )
        )
    ai = suspect["provenance"]["ai_indicators"]
    claiming = [s["kind"] for s in suspect["provenance"]["signals"] if s["ai_indicators"]]
    # Chinese names the kinds of source (translated); English quotes the findings.
    kinds_zh = "、".join(
        STRINGS[f"prov.kind.{k}"][0] if f"prov.kind.{k}" in STRINGS else k for k in claiming
    )
    items = Localized(zh=f"{kinds_zh}（详见来源元数据表）", en="; ".join(ai))
    facts.append(
        (
            bi.inline("fact.provenance"),
            bi.inline("fact.provenance.ai", items=items)
            if ai
            else bi.inline("fact.provenance.none"),
        )
    )
    return facts


def _suspect_view(
    suspect: dict[str, Any],
    record: dict[str, Any],
    bi: Bilingual,
    thumbs: Mapping[str, str | None],
) -> dict[str, Any]:
    artist = record["case"]["artist"]
    entry = suspect["claimant"]["entry"]
    target = float(record["method"]["target_fpr"])
    calibrated = record["distributions"]["state"] == "calibrated"
    verdict = _verdict(entry)
    if verdict == "match" and entry is not None:
        fpr = entry["fpr_at_threshold"]
        verdict_text = bi.inline(
            "verdict.match.text.none" if not fpr else "verdict.match.text",
            artist=artist,
            fpr=format_share(fpr),
            n=format_int(entry["n_impostors"]),
        )
    elif verdict == "no_match":
        verdict_text = bi.inline("verdict.no_match.text", artist=artist)
    else:
        verdict_text = bi.value(_reason(entry or {"n_impostors": 0}, target, calibrated))
    dist = record["distributions"]
    histogram = dist["histogram"]
    statistic = dist.get("statistic", "relative")
    dist_png = (
        png_data_uri(
            distribution_png(
                histogram,
                artist,
                entry.get(statistic) if entry else None,
                entry["threshold"] if entry and threshold_scale(entry) == statistic else None,
                bi.langs,
                statistic=statistic,
                null_kind=(dist.get("null") or {}).get("kind"),
            )
        )
        if histogram is not None
        else None
    )
    scan = suspect["scan"]
    ranking_rows = [
        {
            "rank": i,
            "artist": r["artist"],
            "claimant": r["artist"] == artist,
            "similarity": format_number(r["similarity"]),
            "relative": format_number(r["relative"]),
            "percentile": format_percent(r["percentile"]),
            "p_value": format_p(r["p_value"]),
            "genuine_percentile": format_percent(r["genuine_percentile"]),
            "decision": bi.value(format_decision(r["decision"])),
            "decision_code": {True: "match", False: "no_match", None: "undecided"}[r["decision"]],
            "threshold": format_number(r["threshold"]),
            "n_works": format_int(r["n_works"]),
        }
        for i, r in enumerate(scan["ranking"], start=1)
    ]
    dup_paths = {d["path"] for d in suspect["near_duplicates"]}
    matches = [
        {
            "name": Path(m["path"]).name,
            "path": m["path"],
            "artist": m["artist"],
            "similarity": format_number(m["similarity"]),
            "phash_distance": "—" if m["phash_distance"] is None else str(m["phash_distance"]),
            "near_duplicate": m["path"] in dup_paths,
            "thumb": thumbs.get(m["sha256"]),
        }
        for m in scan["matches"]
    ]
    copy = _copy_finding(suspect, scan, bi, target, thumbs)
    return {
        "name": Path(suspect.get("source_path") or suspect["path"]).name,
        "path": suspect["path"],
        "sha256": suspect["sha256"],
        "thumb": thumbs.get(suspect["sha256"]),
        "copy_finding": copy,
        "copy_line": _copy_check_text(suspect, bi),
        # A green "below the threshold" next to a copy would read as a clearance: the
        # style verdict keeps its words but loses its reassuring colour.
        "verdict_class": f"{verdict} beside-copy" if copy and verdict != "match" else verdict,
        "verdict": verdict,
        "verdict_label": bi.inline(f"verdict.{verdict}"),
        "verdict_text": verdict_text,
        "facts": _facts(suspect, record, bi),
        "matches": matches,
        "distribution_png": dist_png,
        "ranking_png": png_data_uri(
            ranking_png(
                scan["ranking"],
                artist,
                entry["threshold"] if entry else None,
                bi.langs,
                statistic=threshold_scale(entry) if entry else statistic,
            )
        ),
        "ranking": ranking_rows,
        "provenance": _provenance_rows(suspect["provenance"], bi),
        "provenance_warnings": suspect["provenance"]["warnings"],
    }


def _both(key: str, **params: object) -> Localized:
    return Localized(zh=text(key, "zh", **params), en=text(key, "en", **params))


def _copy_finding(
    suspect: dict[str, Any],
    scan: dict[str, Any],
    bi: Bilingual,
    target: float,
    thumbs: Mapping[str, str | None],
) -> dict[str, Any] | None:
    view = copy_view(suspect, scan.get("width"), scan.get("height"), thumbs)
    if view is None:
        return None
    decided = view["decided_by"]
    if decided not in {"phash", "geometry", "phash+geometry"}:
        decided = "geometry"
    signal = _both(
        f"copy.signal.{decided}",
        distance=view["phash_distance"],
        share=format_share(view["geometry"]),
    )
    work, artist = view["source_name"], view["source_artist"]
    p, fpr = format_p(view["p_value"]), format_share(target)
    view["title"] = bi.inline("copy.title", work=work)
    view["text"] = bi.value(
        Localized(
            zh=text("copy.text", "zh", work=work, artist=artist, signal=signal.zh, p=p, fpr=fpr),
            en=text("copy.text", "en", work=work, artist=artist, signal=signal.en, p=p, fpr=fpr),
        )
    )
    mirror = _both("copy.mirrored") if view["mirrored"] else Localized("", "")
    rotation, scale = f"{view['rotation']:+.1f}", f"{view['scale']:.2f}"
    view["transform"] = bi.value(
        Localized(
            zh=text("copy.transform", "zh", rotation=rotation, scale=scale, mirror=mirror.zh),
            en=text("copy.transform", "en", rotation=rotation, scale=scale, mirror=mirror.en),
        )
    )
    return view


def _copy_check_text(suspect: dict[str, Any], bi: Bilingual) -> Markup | None:
    """One line for suspects without a copy: checked and none found, or why not checked."""
    check = suspect.get("copy_check")
    if not check or suspect.get("copy"):
        return None
    if check["state"] == "not_checked":
        return bi.value(_both("copy.not_checked", reason=check.get("reason") or ""))
    return bi.inline("copy.none")


def verify_command(json_path: Path | str, index_path: str) -> str:
    """The command that re-checks the record; a record with its own index snapshot needs
    no index named."""
    command = f"simdetect verify {shlex.quote(str(json_path))}"
    if is_packed(index_path):
        return command
    return f"{command} --index {shlex.quote(index_path)}"


def load_thumbnails(record: dict[str, Any], base: Path | None = None) -> dict[str, str | None]:
    """Pictures of every input whose bytes are still the recorded ones, keyed by SHA-256;
    relative paths are inside ``base`` (the case folder)."""
    thumbs: dict[str, str | None] = {}
    for item in record["inputs"]:
        if item["sha256"] not in thumbs:
            path = resolve_recorded(base or Path.cwd(), str(item["path"]))
            thumbs[item["sha256"]] = thumbnail_data_uri(path, item["sha256"])
    return thumbs


def render_html(
    record: dict[str, Any],
    json_path: Path | str,
    thumbnails: Mapping[str, str | None] | None = None,
    base: Path | None = None,
) -> str:
    """The report as one HTML document, in the languages the record's case names."""
    langs: tuple[Lang, ...] = tuple(record["case"]["languages"])
    bi = Bilingual(langs)
    thumbs = load_thumbnails(record, base) if thumbnails is None else thumbnails
    method = record["method"]
    index = record["index"]
    fp = method["backbone"]["fingerprint"]
    status_key = {
        "present": "status.present",
        "missing": "status.missing",
        "changed": "status.changed",
    }
    inputs = [
        {
            "role": bi.inline(f"role.{item['role']}"),
            "artist": item["artist"],
            "path": item["path"],
            "source_path": item.get("source_path")
            if item.get("source_path") != item["path"]
            else None,
            "sha256": item["sha256"],
            "phash": item["phash"],
            "size": format_int(item["size_bytes"]),
            "format": item["format"],
            "pixels": f"{item['width']} × {item['height']}",
            "status": bi.inline(status_key.get(item["status"], "status.missing")),
            "status_code": item["status"],
        }
        for item in record["inputs"]
    ]
    case = record["case"]
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    view = {
        "csp": Markup(CSP),  # a constant; kept literal so it reads as written
        "html_lang": HTML_LANG[langs[0]],
        "page_title": f"{bi.plain('title')} — {case['id']}",
        "version": __version__,
        "case": case,
        "created": format_datetime(record["created_at"]),
        "calibration_computed": format_datetime(record["distributions"]["computed_at"]),
        "digest": record["digest"],
        "footer": _footer_css(langs, record["digest"], case["id"]),
        "suspects": [_suspect_view(s, record, bi, thumbs) for s in record["suspects"]],
        "method": method,
        "fingerprint": fp,
        "index": index,
        "software": sorted(method["software"].items()),
        "inputs": inputs,
        "limitations": record["limitations"],
        "langs": langs,
        "lang_attr": HTML_LANG,
        "verify_command": verify_command(json_path, index["path"]),
        "calibrated": record["distributions"]["state"] == "calibrated",
    }
    template = env.get_template(TEMPLATE)
    return template.render(
        v=view,
        tr=bi.inline,
        para=bi.para,
        loc=bi.value,
        plain=bi.plain,
        fmt_int=format_int,
        fmt_share=format_share,
    )


def _exceeding(entry: dict[str, Any]) -> str:
    """How many impostor works exceed the threshold: the count behind the estimated FPR."""
    fpr, n = entry.get("fpr_at_threshold"), entry.get("n_impostors")
    if fpr is None or n is None:
        return DASH
    return format_int(round(float(fpr) * int(n)))
