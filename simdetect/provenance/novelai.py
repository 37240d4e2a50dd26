"""NovelAI PNG text metadata.

NovelAI writes ``Software: NovelAI``, ``Source`` (the model, e.g. "NovelAI
Diffusion V3 ..."), ``Description`` (the prompt), ``Generation time`` and a
``Comment`` JSON holding prompt, ``uc`` (negative prompt), seed, steps and
sampler.

Out of scope: NovelAI's "stealth" watermark, which hides the same metadata in
the least significant bits of the alpha channel. Reading it needs pixel
decoding, which this metadata-only module deliberately avoids; an image whose
text chunks were stripped may still carry it.
"""

from __future__ import annotations

import json
from typing import Any

from simdetect.provenance.containers import ContainerMetadata
from simdetect.provenance.model import KIND_NOVELAI, ProvenanceSignal, no_signal

_EXCERPT = 4000


def _png_text(meta: ContainerMetadata, keyword: str) -> str | None:
    for chunk in meta.texts(keyword):
        if chunk.source.startswith("png:"):
            return chunk.text
    return None


def novelai_signal(meta: ContainerMetadata) -> ProvenanceSignal:
    """The ``novelai`` signal from PNG text chunks."""
    software = _png_text(meta, "Software")
    source = _png_text(meta, "Source")
    comment_raw = _png_text(meta, "Comment")
    warnings: list[str] = []
    comment: dict[str, Any] | None = None
    comment_invalid = False
    if comment_raw is not None and comment_raw.strip().startswith("{"):
        try:
            loaded = json.loads(comment_raw)
        except (ValueError, RecursionError) as exc:
            comment_invalid = True
            warnings.append(f"PNG 'Comment' chunk is not valid JSON ({exc})")
        else:
            if isinstance(loaded, dict):
                comment = loaded
    named = any("novelai" in (v or "").casefold() for v in (software, source))
    nai_shaped = comment is not None and "uc" in comment and "sampler" in comment
    if not named and not nai_shaped:
        return no_signal(KIND_NOVELAI)
    if not named:
        warnings.append("NovelAI-style Comment JSON found without Software/Source naming NovelAI")
    c = comment or {}
    fields: dict[str, Any] = {
        "software": software,
        "source": source,
        "title": _png_text(meta, "Title"),
        "description": _png_text(meta, "Description"),
        "generation_time": _png_text(meta, "Generation time"),
        "prompt": c.get("prompt"),
        "negative_prompt": c.get("uc"),
        "seed": c.get("seed"),
        "steps": c.get("steps"),
        "sampler": c.get("sampler"),
        "scale": c.get("scale"),
        "width": c.get("width"),
        "height": c.get("height"),
        "comment": comment,
        "comment_raw": comment_raw[:_EXCERPT] if comment_invalid and comment_raw else None,
    }
    details = [f"{k} {fields[k]}" for k in ("seed",) if fields[k] is not None]
    if source:
        details.append(f"model {source}")
    indicator = "NovelAI metadata" + (f" ({', '.join(details)})" if details else "")
    return ProvenanceSignal(
        kind=KIND_NOVELAI,
        found=True,
        summary=indicator,
        fields=fields,
        warnings=warnings,
        ai_indicators=[indicator],
    )
