"""Safe XMP parsing and the IPTC DigitalSourceType signal.

XMP is XML from an untrusted file, so packets that declare a DTD or entities
are refused outright (billion-laughs and external-entity defence) and packet
size is capped; only the standard library parser is used. A packet that cannot
be parsed is still scanned as plain text for DigitalSourceType URIs and AIGC
values, because a damaged packet that says "trainedAlgorithmicMedia" is still
worth reporting, flagged as such.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
import xml.parsers.expat
from dataclasses import dataclass, field

from simdetect.provenance.containers import XmpPacket
from simdetect.provenance.digital_source_type import classify
from simdetect.provenance.model import KIND_XMP_DST, ProvenanceSignal, no_signal

MAX_XMP_BYTES = 4 * 1024 * 1024

RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
IPTC_EXT_NS = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
TC260_NS = "http://www.tc260.org.cn/ns/AIGC/1.0/"
DCTERMS_NS = "http://purl.org/dc/terms/"

_UNSAFE_DECL = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_RAW_DST = re.compile(rb"digitalsourcetype/([A-Za-z]+)", re.IGNORECASE)
_RAW_AIGC_ATTR = re.compile(rb"""AIGC\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_RAW_AIGC_ELEM = re.compile(rb"AIGC(?:\s[^>]*)?>([^<]+)<")


@dataclass(frozen=True)
class XmpValue:
    """A property value with the namespace it was found in."""

    namespace: str
    value: str | dict[str, str]


@dataclass
class XmpFindings:
    """What one XMP packet says, as far as this module cares."""

    source: str
    parsed: bool
    # (namespace, value) pairs.
    digital_source_types: list[tuple[str, str]] = field(default_factory=list)
    aigc_values: list[XmpValue] = field(default_factory=list)
    creator_tool: str | None = None
    # dcterms:provenance: where a C2PA manifest hosted elsewhere lives.
    c2pa_remote_urls: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _split(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag


def _element_text(elem: ET.Element) -> str:
    """Value of a simple property in element form, including rdf:resource."""
    if elem.text and elem.text.strip():
        return elem.text.strip()
    resource = elem.get(f"{{{RDF_NS}}}resource")
    if resource:
        return resource.strip()
    for child in elem.iter():
        if child is not elem and child.text and child.text.strip():
            return child.text.strip()
    return ""


def _structured(elem: ET.Element) -> dict[str, str] | None:
    """An AIGC property written as an XMP struct instead of a JSON string."""
    out: dict[str, str] = {}
    for child in elem.iter():
        if child is elem:
            continue
        ns, local = _split(child.tag)
        if ns != RDF_NS and child.text and child.text.strip():
            out[local] = child.text.strip()
        for key, val in child.attrib.items():
            kns, klocal = _split(key)
            if kns != RDF_NS:
                out[klocal] = val
    for key, val in elem.attrib.items():
        kns, klocal = _split(key)
        if kns != RDF_NS:
            out[klocal] = val
    return out or None


class _DeclarationFound(Exception):
    """Raised from expat handlers to abort on the first DTD/entity declaration."""


def _declares_dtd(data: bytes) -> bool:
    """Ask expat itself, so UTF-16 or otherwise re-encoded packets cannot hide a
    DOCTYPE from the byte-level check; parsing stops before any entity is used."""

    def refuse(*_args: object) -> None:
        raise _DeclarationFound

    parser = xml.parsers.expat.ParserCreate()
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    try:
        parser.Parse(data, True)
    except _DeclarationFound:
        return True
    except xml.parsers.expat.ExpatError:
        return False  # malformed: ElementTree will report it
    return False


def parse_xmp(packet: XmpPacket) -> XmpFindings:
    """Parse one packet; problems become warnings, never exceptions."""
    findings = XmpFindings(source=packet.source, parsed=False)
    data = packet.data
    if len(data) > MAX_XMP_BYTES:
        findings.warnings.append(
            f"XMP packet in {packet.source} is {len(data)} bytes "
            f"(limit {MAX_XMP_BYTES}); not parsed"
        )
        return findings
    data = data.strip(b"\x00 \t\r\n")
    if _UNSAFE_DECL.search(data) or _declares_dtd(data):
        findings.warnings.append(
            f"XMP packet in {packet.source} declares a DOCTYPE/ENTITY; refused as unsafe XML"
        )
        _scan_raw(data, findings)
        return findings
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        findings.warnings.append(f"XMP packet in {packet.source} is not well-formed XML ({exc})")
        _scan_raw(data, findings)
        return findings
    findings.parsed = True
    for elem in root.iter():
        if not isinstance(elem.tag, str):
            continue
        ns, local = _split(elem.tag)
        for key, val in elem.attrib.items():
            kns, klocal = _split(key)
            _record(findings, kns, klocal, val)
        if local == "DigitalSourceType":
            text = _element_text(elem)
            if text:
                findings.digital_source_types.append((ns, text))
        elif local == "AIGC":
            struct = _structured(elem) if len(elem) else None
            value: str | dict[str, str] = struct if struct else _element_text(elem)
            if value:
                findings.aigc_values.append(XmpValue(ns, value))
        elif local == "CreatorTool" and findings.creator_tool is None:
            findings.creator_tool = _element_text(elem) or None
        elif local == "provenance" and ns == DCTERMS_NS and _element_text(elem):
            findings.c2pa_remote_urls.append(_element_text(elem))
    return findings


def _record(findings: XmpFindings, ns: str, local: str, value: str) -> None:
    if not value.strip():
        return
    if local == "DigitalSourceType":
        findings.digital_source_types.append((ns, value.strip()))
    elif local == "AIGC":
        findings.aigc_values.append(XmpValue(ns, value.strip()))
    elif local == "CreatorTool" and findings.creator_tool is None:
        findings.creator_tool = value.strip()
    elif local == "provenance" and ns == DCTERMS_NS:
        findings.c2pa_remote_urls.append(value.strip())


def _scan_raw(data: bytes, findings: XmpFindings) -> None:
    """Last-resort text scan of a packet that could not be parsed safely."""
    for match in _RAW_DST.finditer(data):
        code = match.group(1).decode("ascii")
        findings.digital_source_types.append(("", code))
    for match in _RAW_AIGC_ATTR.finditer(data):
        raw = match.group(1) if match.group(1) is not None else match.group(2)
        findings.aigc_values.append(XmpValue("", html.unescape(raw.decode("utf-8", "replace"))))
    for match in _RAW_AIGC_ELEM.finditer(data):
        text = html.unescape(match.group(1).decode("utf-8", "replace")).strip()
        if text:
            findings.aigc_values.append(XmpValue("", text))


def xmp_dst_signal(all_findings: list[XmpFindings]) -> ProvenanceSignal:
    """The ``iptc_xmp_digital_source_type`` signal across every XMP packet."""
    warnings = [w for f in all_findings for w in f.warnings]
    entries: list[dict[str, str | bool]] = []
    indicators: list[str] = []
    for f in all_findings:
        for namespace, value in f.digital_source_types:
            dst = classify(value)
            entry = dst.as_fields()
            entry["namespace"] = namespace
            entry["source"] = f.source
            entry["from_parsed_xml"] = f.parsed
            entries.append(entry)
            if dst.is_ai:
                note = "" if f.parsed else " (from unparseable XMP text)"
                indicators.append(f"XMP Iptc4xmpExt:DigitalSourceType {dst.code}{note}")
    creator_tools = sorted({f.creator_tool for f in all_findings if f.creator_tool})
    if not entries:
        signal = no_signal(KIND_XMP_DST, warnings)
        if all_findings:
            signal.fields = {
                "xmp_sources": [f.source for f in all_findings],
                "creator_tools": creator_tools,
            }
        return signal
    first = entries[0]
    is_ai = any(bool(e["is_ai"]) for e in entries)
    summary = f"DigitalSourceType {first['code']} ({first['meaning']})"
    if len(entries) > 1:
        summary += f" and {len(entries) - 1} more"
    return ProvenanceSignal(
        kind=KIND_XMP_DST,
        found=True,
        summary=summary,
        fields={
            "digital_source_type": first["value"],
            "code": first["code"],
            "is_ai": is_ai,
            "values": entries,
            "creator_tools": creator_tools,
            "xmp_sources": [f.source for f in all_findings],
        },
        warnings=warnings,
        ai_indicators=list(dict.fromkeys(indicators)),
    )
