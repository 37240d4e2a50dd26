"""C2PA Content Credentials, read and validated with ``c2pa-python``.

Written against c2pa-python 0.38 (``Reader`` + ``Context``/``Settings``). The
reader runs offline: remote-manifest and OCSP fetching are switched off so that
examining a suspect file never contacts a server chosen by whoever made it,
and so results are reproducible. Without trust anchors every signer shows as
untrusted; that is recorded (``trusted: false``), not treated as an error,
because the claims are still evidence of what the file asserts about itself.
"""

from __future__ import annotations

import io
import json
import logging
import re
from typing import Any

from simdetect.provenance.digital_source_type import classify
from simdetect.provenance.model import KIND_C2PA, ProvenanceSignal, no_signal

logger = logging.getLogger(__name__)

_OFFLINE_SETTINGS: dict[str, Any] = {
    "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
}
_TRAINING_MINING = re.compile(r"^(?:c2pa|cawg)\.training-mining(?:\.v\d+)?$")
_ACTIONS = re.compile(r"^c2pa\.actions(?:\.v\d+)?$")
_HASH_CODES = ("assertion.dataHash", "assertion.bmffHash", "assertion.boxesHash")
_MAX_WALK_DEPTH = 48


def _context(trust_anchors_pem: str | None, warnings: list[str]) -> Any:
    """A per-call Context: offline, optionally with caller-supplied trust anchors."""
    import c2pa

    settings: dict[str, Any] = dict(_OFFLINE_SETTINGS)
    if trust_anchors_pem:
        settings["trust"] = {"trust_anchors": trust_anchors_pem}
    context_cls = getattr(c2pa, "Context", None)
    if context_cls is None:
        warnings.append(
            "installed c2pa-python has no Context; network fetching could not be disabled"
        )
        return None
    try:
        return context_cls.from_dict(settings)
    except Exception as exc:
        logger.warning("c2pa settings rejected: %s", exc)
        warnings.append(f"c2pa settings rejected ({exc}); read with library defaults")
        return None


def _open_reader(c2pa: Any, media_type: str | None, data: bytes, context: Any) -> Any:
    stream = io.BytesIO(data)
    if context is not None:
        return c2pa.Reader.try_create(media_type, stream, None, context)
    return c2pa.Reader.try_create(media_type, stream)


def c2pa_signal(
    data: bytes,
    media_type: str | None,
    container_sources: list[str],
    trust_anchors_pem: str | None = None,
    remote_urls: list[str] | None = None,
) -> ProvenanceSignal:
    """The ``c2pa`` signal; never raises for bad manifests.

    ``remote_urls`` are manifest locations the file's XMP points at
    (dcterms:provenance); they are reported, never fetched.
    """
    remote_urls = remote_urls or []
    warnings: list[str] = []
    try:
        import c2pa
    except Exception as exc:  # missing wheel or native library failing to load
        return no_signal(KIND_C2PA, [f"c2pa-python unavailable; C2PA not checked ({exc})"])

    context = _context(trust_anchors_pem, warnings)
    embedded = False
    try:
        reader = _open_reader(c2pa, media_type, data, context)
        if reader is None:
            store = None
        else:
            with reader:
                store = json.loads(reader.json())
                embedded = bool(reader.is_embedded())
    except c2pa.C2paError as exc:
        err = str(exc)
        kind = type(exc).__name__
        if "RemoteManifest" in kind or err.startswith("Remote") or remote_urls:
            # Only a pointer to a manifest hosted elsewhere; not fetched, on purpose.
            warnings.append(f"C2PA manifest is remote and was not fetched: {err}")
            return _unreadable(err, container_sources, warnings, remote_urls=remote_urls)
        if not container_sources:
            # No C2PA bytes seen in the container: the failure is about the file
            # itself (damage, unsupported type), not evidence of a manifest.
            warnings.append(f"C2PA could not be checked: {err}")
            return no_signal(KIND_C2PA, warnings)
        warnings.append(f"C2PA manifest present but unreadable or invalid: {err}")
        return _unreadable(err, container_sources, warnings)
    except Exception as exc:  # defensive: native layer or JSON surprises
        logger.debug("unexpected C2PA failure", exc_info=True)
        warnings.append(f"C2PA reading failed unexpectedly ({type(exc).__name__}: {exc})")
        return no_signal(KIND_C2PA, warnings)

    if store is None:
        if remote_urls:
            warnings.append("XMP points at a remote C2PA manifest; it was not fetched")
            return _unreadable(
                "manifest not embedded", container_sources, warnings, remote_urls=remote_urls
            )
        if container_sources:
            warnings.append(
                f"container has C2PA/JUMBF data ({', '.join(container_sources)}) "
                "but no manifest store could be read from it"
            )
            return _unreadable("manifest not found", container_sources, warnings)
        return no_signal(KIND_C2PA, warnings)
    return _store_signal(store, embedded, container_sources, warnings)


def _unreadable(
    error: str,
    container_sources: list[str],
    warnings: list[str],
    *,
    remote_urls: list[str] | None = None,
) -> ProvenanceSignal:
    remote = remote_urls is not None
    summary = (
        "C2PA manifest referenced remotely (not fetched)"
        if remote
        else "C2PA data present but could not be read"
    )
    return ProvenanceSignal(
        kind=KIND_C2PA,
        found=True,
        summary=summary,
        fields={
            "manifest_present": True,
            "readable": False,
            "remote": remote,
            "remote_manifest_urls": list(remote_urls or []),
            "error": error,
            "container_sources": list(container_sources),
        },
        warnings=warnings,
    )


def _software_agent(agent: Any) -> str | None:
    if isinstance(agent, str):
        return agent
    if isinstance(agent, dict):
        name = agent.get("name")
        version = agent.get("version")
        if isinstance(name, str):
            return f"{name} {version}" if isinstance(version, str) else name
    return None


def _walk_dst(value: Any, out: list[str], depth: int = 0) -> None:
    """Every digitalSourceType anywhere in a manifest (actions, ingredients, ...)."""
    if depth > _MAX_WALK_DEPTH:
        return
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "digitalSourceType" and isinstance(inner, str):
                out.append(inner)
            else:
                _walk_dst(inner, out, depth + 1)
    elif isinstance(value, list):
        for inner in value:
            _walk_dst(inner, out, depth + 1)


def _dict(value: Any) -> dict[str, Any]:
    """Manifest JSON is untrusted input: treat a wrong-typed object as empty."""
    return value if isinstance(value, dict) else {}


def _codes(entries: Any) -> list[str]:
    if not isinstance(entries, list):
        return []
    return [str(e.get("code")) for e in entries if isinstance(e, dict) and e.get("code")]


def _store_signal(
    store: dict[str, Any], embedded: bool, container_sources: list[str], warnings: list[str]
) -> ProvenanceSignal:
    manifests = _dict(store.get("manifests"))
    label = store.get("active_manifest")
    active = manifests.get(label) if isinstance(label, str) else None
    if not isinstance(active, dict):
        warnings.append("C2PA manifest store has no usable active manifest")
        active = {}
    assertions = [a for a in active.get("assertions") or [] if isinstance(a, dict)]

    actions: list[dict[str, Any]] = []
    training: list[dict[str, Any]] = []
    for assertion in assertions:
        a_label = str(assertion.get("label", ""))
        a_data = _dict(assertion.get("data"))
        if _ACTIONS.match(a_label):
            for act in a_data.get("actions") or []:
                if isinstance(act, dict):
                    actions.append(
                        {
                            "action": act.get("action"),
                            "software_agent": _software_agent(act.get("softwareAgent")),
                            "digital_source_type": act.get("digitalSourceType"),
                            "when": act.get("when"),
                            "description": act.get("description"),
                        }
                    )
        elif _TRAINING_MINING.match(a_label):
            for name, entry in _dict(a_data.get("entries")).items():
                training.append(
                    {
                        "assertion": a_label,
                        "entry": name,
                        "use": _dict(entry).get("use"),
                        "constraint_info": _dict(entry).get("constraint_info"),
                    }
                )

    active_dsts: list[str] = []
    _walk_dst(active, active_dsts)
    other_dsts: list[str] = []
    for other_label, manifest in manifests.items():
        if other_label != label:
            _walk_dst(manifest, other_dsts)

    active_results = _dict(_dict(store.get("validation_results")).get("activeManifest"))
    success = _codes(active_results.get("success"))
    failure = _codes(active_results.get("failure"))
    informational = _codes(active_results.get("informational"))
    status_codes = _codes(store.get("validation_status"))
    state = store.get("validation_state")
    signature_valid = "claimSignature.validated" in success and not any(
        c.startswith("claimSignature.") for c in failure
    )
    trusted = state == "Trusted" or "signingCredential.trusted" in success
    hash_ok = [c for c in success if c.startswith(_HASH_CODES) and c.endswith(".match")]
    hash_bad = [c for c in failure if c.startswith(_HASH_CODES)]
    content_hash_match: bool | None = False if hash_bad else (True if hash_ok else None)

    generator_info = active.get("claim_generator_info")
    sig = _dict(active.get("signature_info"))
    fields: dict[str, Any] = {
        "manifest_present": True,
        "readable": True,
        "active_manifest": label,
        "manifest_count": len(manifests),
        "embedded": embedded,
        "claim_generator": active.get("claim_generator"),
        "claim_generator_info": generator_info if isinstance(generator_info, list) else [],
        "title": active.get("title"),
        "format": active.get("format"),
        "signature": {
            "issuer": sig.get("issuer"),
            "common_name": sig.get("common_name"),
            "alg": sig.get("alg"),
            "time": sig.get("time"),
            "cert_serial_number": sig.get("cert_serial_number"),
        },
        "assertion_labels": [str(a.get("label")) for a in assertions],
        "actions": actions,
        "digital_source_types": list(dict.fromkeys(active_dsts)),
        "ingredient_digital_source_types": list(dict.fromkeys(other_dsts)),
        "training_mining": training,
        "ingredients": [
            {
                "title": i.get("title"),
                "relationship": i.get("relationship"),
                "format": i.get("format"),
            }
            for i in active.get("ingredients") or []
            if isinstance(i, dict)
        ],
        "validation_state": state,
        "validation_status_codes": status_codes,
        "validation_success_codes": success,
        "validation_failure_codes": failure,
        "validation_informational_codes": informational,
        "signature_valid": signature_valid,
        "trusted": trusted,
        "content_hash_match": content_hash_match,
        "container_sources": list(container_sources),
    }
    if state == "Invalid" or content_hash_match is False:
        warnings.append(f"C2PA validation failed: {', '.join(failure or status_codes) or state}")
    elif not trusted:
        warnings.append("C2PA signing certificate is not trusted by the configured trust anchors")

    indicators = []
    for value in fields["digital_source_types"]:
        dst = classify(value)
        if dst.is_ai:
            indicators.append(f"C2PA digitalSourceType {dst.code}")
    for value in fields["ingredient_digital_source_types"]:
        dst = classify(value)
        if dst.is_ai:
            indicators.append(f"C2PA ingredient digitalSourceType {dst.code}")
    generator = fields["claim_generator"] or next(
        (g.get("name") for g in fields["claim_generator_info"] if isinstance(g, dict)), None
    )
    if trusted:
        verdict = "trusted"
    else:
        verdict = "signature valid, untrusted" if signature_valid else "signature not validated"
    summary = f"C2PA manifest by {generator or 'unknown generator'} ({state}; {verdict})"
    return ProvenanceSignal(
        kind=KIND_C2PA,
        found=True,
        summary=summary,
        fields=fields,
        warnings=warnings,
        ai_indicators=list(dict.fromkeys(indicators)),
    )
