"""Entry points: run every provenance detector over one file.

Each detector is isolated so that one hostile metadata block can only cost its
own signal (which then carries a warning), never the whole report; an evidence
report that silently loses the C2PA result because the EXIF was corrupt would
be worse than useless.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from simdetect.io.names import text_name
from simdetect.provenance.aigc_label import aigc_signal
from simdetect.provenance.c2pa_reader import c2pa_signal
from simdetect.provenance.comfyui import comfyui_signal
from simdetect.provenance.containers import ContainerMetadata, extract_metadata
from simdetect.provenance.exif import ExifData, decode_exif, exif_signal
from simdetect.provenance.model import (
    KIND_AIGC,
    KIND_C2PA,
    KIND_COMFYUI,
    KIND_EXIF,
    KIND_NOVELAI,
    KIND_SD_WEBUI,
    KIND_XMP_DST,
    KINDS,
    ProvenanceReport,
    ProvenanceSignal,
    json_safe,
    no_signal,
)
from simdetect.provenance.novelai import novelai_signal
from simdetect.provenance.sd_params import sd_signal
from simdetect.provenance.xmp import XmpFindings, parse_xmp, xmp_dst_signal

logger = logging.getLogger(__name__)

#: Files larger than this are not parsed (memory guard); the report says so.
DEFAULT_MAX_BYTES = 512 * 1024 * 1024


def read_provenance(
    path: str | os.PathLike[str],
    *,
    c2pa_trust_anchors_pem: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> ProvenanceReport:
    """Read what a file says about its own origin.

    Raises only ``FileNotFoundError``; any other problem (unreadable file,
    non-image, corrupt metadata) is reported as a warning.
    ``c2pa_trust_anchors_pem`` lets the caller supply the C2PA trust list so
    that ``trusted`` can become true; without it every signer is untrusted.
    """
    fs_path = os.fspath(path)
    name = text_name(fs_path)  # the report names the file as text, even a non-UTF-8 one
    try:
        size = os.path.getsize(fs_path)
        if size > max_bytes:
            return _empty_report(
                name, f"file is {size} bytes, over the {max_bytes}-byte limit; not parsed"
            )
        with open(fs_path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        raise
    except OSError as exc:
        return _empty_report(name, f"file could not be read: {exc}")
    return read_provenance_bytes(data, name, c2pa_trust_anchors_pem=c2pa_trust_anchors_pem)


def read_provenance_bytes(
    data: bytes, name: str, *, c2pa_trust_anchors_pem: str | None = None
) -> ProvenanceReport:
    """Same as :func:`read_provenance` for bytes already in memory; never raises."""
    report_warnings: list[str] = []
    if not data:
        return _empty_report(name, "file is empty; not an image")
    try:
        meta = extract_metadata(data)
    except Exception as exc:
        logger.exception("container parsing failed for %s", name)
        meta = ContainerMetadata(warnings=[f"container could not be parsed ({exc})"])
    report_warnings.extend(meta.warnings)

    xmp: list[XmpFindings] = []
    for packet in meta.xmp_packets:
        try:
            xmp.append(parse_xmp(packet))
        except Exception as exc:
            logger.exception("XMP parsing failed for %s", name)
            xmp.append(XmpFindings(source=packet.source, parsed=False, warnings=[str(exc)]))
    try:
        exif = decode_exif(meta.exif_blocks)
    except Exception as exc:
        logger.exception("EXIF decoding failed for %s", name)
        exif = ExifData(warnings=[f"EXIF could not be decoded ({exc})"])

    detectors: dict[str, Callable[[], ProvenanceSignal]] = {
        KIND_C2PA: lambda: c2pa_signal(
            data,
            meta.media_type,
            meta.c2pa_sources,
            c2pa_trust_anchors_pem,
            [url for f in xmp for url in f.c2pa_remote_urls],
        ),
        KIND_XMP_DST: lambda: xmp_dst_signal(xmp),
        KIND_EXIF: lambda: exif_signal(exif),
        KIND_SD_WEBUI: lambda: sd_signal(meta, exif),
        KIND_COMFYUI: lambda: comfyui_signal(meta, exif),
        KIND_NOVELAI: lambda: novelai_signal(meta),
        KIND_AIGC: lambda: aigc_signal(meta, xmp, exif),
    }
    signals = []
    for kind in KINDS:
        try:
            signal = detectors[kind]()
            # Parsed metadata may hold NaN or odd types; fields must stay strict JSON.
            signal.fields = json_safe(signal.fields)
        except Exception as exc:
            logger.exception("%s detector failed on %s", kind, name)
            signal = no_signal(kind, [f"internal error while checking {kind}: {exc!r}"])
        signals.append(signal)
    return ProvenanceReport(
        path=name, signals=signals, warnings=report_warnings, media_type=meta.media_type
    )


def _empty_report(name: str, warning: str) -> ProvenanceReport:
    return ProvenanceReport(
        path=name,
        signals=[no_signal(kind, ["file not examined"]) for kind in KINDS],
        warnings=[warning],
    )
