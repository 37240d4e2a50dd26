"""Stable Diffusion WebUI (AUTOMATIC1111 / Forge) generation parameters.

A1111 and its forks write one text blob: the prompt, an optional
"Negative prompt:" section, and a final "Key: value, Key: value" line whose
values may be double-quoted JSON strings containing commas. PNG output keeps it
in a ``parameters`` text chunk; JPEG/WebP output keeps it in EXIF UserComment.
The parser mirrors A1111's own ``parse_generation_parameters`` so that what we
report matches what the WebUI would show if the image were dropped back in.
Prompts are returned verbatim: escaping is the renderer's job.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from simdetect.provenance.containers import ContainerMetadata
from simdetect.provenance.exif import ExifData
from simdetect.provenance.model import KIND_SD_WEBUI, ProvenanceSignal, no_signal

# Same shape as A1111's re_param_code: a key, then a quoted string (with
# backslash escapes) or anything up to the next comma.
_PARAM = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
_NEGATIVE = "Negative prompt:"


@dataclass
class SdParameters:
    """One parsed parameters blob."""

    prompt: str
    negative_prompt: str
    settings: dict[str, str] = field(default_factory=dict)
    format: str = "a1111"

    @property
    def looks_like_webui(self) -> bool:
        """Whether the key-value line has WebUI's hallmark keys."""
        return "Steps" in self.settings or "Sampler" in self.settings


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        try:
            loaded = json.loads(value)
        except ValueError:
            return value
        return loaded if isinstance(loaded, str) else value
    return value


def parse_settings_line(line: str) -> dict[str, str]:
    """Parse "Steps: 20, Sampler: Euler a, ..." into an ordered dict."""
    return {m.group(1).strip(): _unquote(m.group(2)) for m in _PARAM.finditer(line) if m.group(1)}


def parse_parameters(text: str) -> SdParameters:
    """Split a WebUI parameters blob into prompt, negative prompt and settings."""
    stripped = text.strip()
    if stripped.startswith("{"):
        parsed = _parse_json_parameters(stripped)
        if parsed is not None:
            return parsed
    lines = stripped.replace("\r\n", "\n").split("\n")
    *body, last = lines
    settings = parse_settings_line(last)
    if len(settings) < 3:
        body.append(last)
        settings = {}
    prompt: list[str] = []
    negative: list[str] = []
    in_negative = False
    for line in body:
        if line.lstrip().startswith(_NEGATIVE):
            in_negative = True
            line = line.lstrip()[len(_NEGATIVE) :].strip()
        (negative if in_negative else prompt).append(line)
    return SdParameters("\n".join(prompt).strip(), "\n".join(negative).strip(), settings)


def _parse_json_parameters(text: str) -> SdParameters | None:
    """Some forks (e.g. Fooocus) put JSON in the same ``parameters`` chunk."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    lowered = {str(k).casefold().replace(" ", "_"): v for k, v in data.items()}
    settings = {
        str(k): v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
        for k, v in data.items()
        if str(k).casefold() not in ("prompt", "negative_prompt", "negative prompt")
    }
    aliases = {"seed": "Seed", "steps": "Steps", "sampler": "Sampler", "base_model": "Model"}
    for src, dst in aliases.items():
        if src in lowered and dst not in settings:
            settings[dst] = str(lowered[src])
    return SdParameters(
        prompt=str(lowered.get("prompt", "")),
        negative_prompt=str(lowered.get("negative_prompt", "")),
        settings=settings,
        format="json",
    )


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def sd_signal(meta: ContainerMetadata, exif: ExifData) -> ProvenanceSignal:
    """The ``sd_webui_parameters`` signal from PNG text, EXIF or JPEG comments."""
    warnings: list[str] = []
    candidates: list[tuple[str, str, bool]] = []  # (source, text, named "parameters")
    for chunk in meta.texts("parameters"):
        candidates.append((f"{chunk.source} 'parameters'", chunk.text, True))
    if "user_comment" in exif.values:
        candidates.append(("exif:UserComment", exif.values["user_comment"], False))
    for chunk in meta.texts("comment"):
        if chunk.source == "jpeg:COM":
            candidates.append(("jpeg:COM", chunk.text, False))

    hits: list[tuple[str, str, SdParameters]] = []
    for source, text, named in candidates:
        params = parse_parameters(text)
        if params.looks_like_webui or (named and params.format == "json"):
            hits.append((source, text, params))
        elif named:
            warnings.append(
                f"{source} chunk present but has no WebUI 'Steps:/Sampler:' settings line; "
                "prompt taken as the whole text"
            )
            hits.append((source, text, params))
    if not hits:
        return no_signal(KIND_SD_WEBUI, warnings)

    source, raw, params = hits[0]
    for other_source, other_text, _ in hits[1:]:
        if other_text.strip() != raw.strip():
            warnings.append(f"{other_source} holds different parameters from {source}")
    s = params.settings
    fields: dict[str, Any] = {
        "source": source,
        "sources": [h[0] for h in hits],
        "format": params.format,
        "prompt": params.prompt,
        "negative_prompt": params.negative_prompt,
        "steps": _int(s.get("Steps")),
        "sampler": s.get("Sampler"),
        "cfg_scale": _float(s.get("CFG scale")),
        "seed": _int(s.get("Seed")),
        "size": s.get("Size"),
        "model": s.get("Model"),
        "model_hash": s.get("Model hash"),
        "settings": dict(s),
        "raw": raw,
    }
    details = []
    if fields["seed"] is not None:
        details.append(f"seed {fields['seed']}")
    model = fields["model"] or fields["model_hash"]
    if model:
        details.append(f"model {model}")
    suffix = f" ({', '.join(details)})" if details else ""
    indicator = f"Stable Diffusion WebUI parameters{suffix}"
    return ProvenanceSignal(
        kind=KIND_SD_WEBUI,
        found=True,
        summary=f"{indicator} in {source}",
        fields=fields,
        warnings=warnings,
        ai_indicators=[indicator],
    )
