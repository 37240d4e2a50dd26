"""ComfyUI ``prompt`` (API graph) and ``workflow`` (editor graph) metadata.

ComfyUI's SaveImage node embeds both graphs as JSON PNG text chunks; its WebP
saver stashes them in EXIF Make/Model as ``workflow:{...}`` / ``prompt:{...}``.
The API graph is the authoritative record of what actually ran, so facts are
taken from it first and the editor graph only fills gaps (it stores widget
values positionally, which is brittle across node versions).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from simdetect.provenance.containers import ContainerMetadata
from simdetect.provenance.exif import ExifData
from simdetect.provenance.model import KIND_COMFYUI, ProvenanceSignal, no_signal

_EXCERPT = 4000
_MODEL_INPUTS = ("ckpt_name", "unet_name")
_TEXT_INPUTS = ("text", "text_g", "text_l")


@dataclass
class _Graphs:
    prompt: dict[str, Any] | None = None
    workflow: dict[str, Any] | None = None
    sources: list[str] = field(default_factory=list)
    invalid: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _load(kind: str, source: str, text: str, graphs: _Graphs) -> None:
    stripped = text.strip()
    if not stripped.startswith(("{", "[")):
        graphs.warnings.append(
            f"{source} {kind!r} text is not JSON; not treated as ComfyUI metadata"
        )
        return
    graphs.sources.append(f"{source} {kind!r}")
    try:
        data = json.loads(stripped)
    except (ValueError, RecursionError) as exc:
        graphs.warnings.append(f"{source} {kind!r} chunk is not valid JSON ({exc})")
        graphs.invalid[kind] = {"excerpt": stripped[:_EXCERPT], "length": len(stripped)}
        return
    if not isinstance(data, dict):
        graphs.warnings.append(f"{source} {kind!r} JSON is not an object")
        return
    if kind == "prompt" and graphs.prompt is None:
        graphs.prompt = data
    elif kind == "workflow" and graphs.workflow is None:
        graphs.workflow = data


def _collect(meta: ContainerMetadata, exif: ExifData) -> _Graphs:
    graphs = _Graphs()
    for kind in ("prompt", "workflow"):
        for chunk in meta.texts(kind):
            _load(kind, chunk.source, chunk.text, graphs)
    for tag in ("make", "model", "image_description"):
        value = exif.values.get(tag, "")
        for kind in ("prompt", "workflow"):
            if value.startswith(f"{kind}:"):
                _load(kind, f"exif:{tag}", value[len(kind) + 1 :], graphs)
    return graphs


def _nodes(prompt: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(k): v for k, v in prompt.items() if isinstance(v, dict) and "class_type" in v}


def _linked_text(nodes: dict[str, dict[str, Any]], link: Any) -> list[str]:
    """Prompt text of the encoder node a sampler's positive/negative points at."""
    if not (isinstance(link, list) and link):
        return []
    node = nodes.get(str(link[0]))
    if node is None:
        return []
    inputs = node.get("inputs") or {}
    return [inputs[k] for k in _TEXT_INPUTS if isinstance(inputs.get(k), str)]


def _typed(inputs: dict[str, Any], key: str, types: type | tuple[type, ...]) -> Any:
    """A literal input value of the given type; links ([node, slot]) give None."""
    value = inputs.get(key)
    if isinstance(value, bool) or not isinstance(value, types):
        return None
    return value


def _uniq(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def _from_prompt(nodes: dict[str, dict[str, Any]], facts: dict[str, Any]) -> None:
    for node_id, node in nodes.items():
        class_type = str(node.get("class_type"))
        raw_inputs = node.get("inputs")
        inputs: dict[str, Any] = raw_inputs if isinstance(raw_inputs, dict) else {}
        facts["class_types"].append(class_type)
        for key in _MODEL_INPUTS:
            if isinstance(inputs.get(key), str):
                facts["checkpoints"].append(inputs[key])
        if isinstance(inputs.get("lora_name"), str):
            facts["loras"].append(inputs["lora_name"])
        if "TextEncode" in class_type:
            facts["prompt_texts"].extend(
                inputs[k] for k in _TEXT_INPUTS if isinstance(inputs.get(k), str)
            )
        seed = _typed(inputs, "seed", int)
        if seed is None:
            seed = _typed(inputs, "noise_seed", int)
        if seed is not None:
            facts["seeds"].append(seed)
        if "positive" in inputs or "negative" in inputs or "KSampler" in class_type:
            positive = _linked_text(nodes, inputs.get("positive"))
            negative = _linked_text(nodes, inputs.get("negative"))
            facts["positive_prompts"].extend(positive)
            facts["negative_prompts"].extend(negative)
            facts["samplers"].append(
                {
                    "node_id": node_id,
                    "class_type": class_type,
                    "seed": seed,
                    "steps": _typed(inputs, "steps", int),
                    "cfg": _typed(inputs, "cfg", (int, float)),
                    "sampler_name": _typed(inputs, "sampler_name", str),
                    "scheduler": _typed(inputs, "scheduler", str),
                    "positive": positive,
                    "negative": negative,
                }
            )


def _from_workflow(workflow: dict[str, Any], facts: dict[str, Any], have_prompt: bool) -> int:
    nodes = [n for n in workflow.get("nodes") or [] if isinstance(n, dict)]
    for node in nodes:
        node_type = str(node.get("type"))
        facts["class_types"].append(node_type)
        if have_prompt:
            continue
        widgets = node.get("widgets_values")
        first = widgets[0] if isinstance(widgets, list) and widgets else None
        if ("CheckpointLoader" in node_type or "UNETLoader" in node_type) and isinstance(
            first, str
        ):
            facts["checkpoints"].append(first)
        elif "LoraLoader" in node_type and isinstance(first, str):
            facts["loras"].append(first)
        elif "TextEncode" in node_type and isinstance(first, str):
            facts["prompt_texts"].append(first)
        elif "KSampler" in node_type and isinstance(first, int) and not isinstance(first, bool):
            facts["seeds"].append(first)
    return len(nodes)


def comfyui_signal(meta: ContainerMetadata, exif: ExifData) -> ProvenanceSignal:
    """The ``comfyui`` signal: what the embedded node graphs say was run."""
    graphs = _collect(meta, exif)
    if not graphs.sources:
        return no_signal(KIND_COMFYUI, graphs.warnings)
    facts: dict[str, Any] = {
        "class_types": [],
        "checkpoints": [],
        "loras": [],
        "seeds": [],
        "prompt_texts": [],
        "positive_prompts": [],
        "negative_prompts": [],
        "samplers": [],
    }
    prompt_nodes = _nodes(graphs.prompt) if graphs.prompt is not None else {}
    if graphs.prompt is not None and not prompt_nodes:
        graphs.warnings.append("'prompt' JSON has no nodes with a class_type")
    _from_prompt(prompt_nodes, facts)
    workflow_count = None
    if graphs.workflow is not None:
        workflow_count = _from_workflow(graphs.workflow, facts, have_prompt=bool(prompt_nodes))
    fields: dict[str, Any] = {
        "sources": graphs.sources,
        "has_prompt": graphs.prompt is not None,
        "has_workflow": graphs.workflow is not None,
        "node_count": len(prompt_nodes) if graphs.prompt is not None else None,
        "workflow_node_count": workflow_count,
        "class_types": sorted(set(facts["class_types"])),
        **{k: _uniq(v) for k, v in facts.items() if k not in ("class_types", "samplers")},
        "samplers": facts["samplers"],
        "invalid_json": graphs.invalid,
    }
    details = []
    if fields["checkpoints"]:
        details.append(f"checkpoint {fields['checkpoints'][0]}")
    if fields["seeds"]:
        details.append(f"seed {fields['seeds'][0]}")
    indicator = "ComfyUI generation graph" + (f" ({', '.join(details)})" if details else "")
    if prompt_nodes or fields["workflow_node_count"]:
        summary = f"{indicator}: {len(fields['class_types'])} node types"
        indicators = [indicator]
    else:
        summary = "ComfyUI metadata chunk present but unreadable"
        indicators = ["ComfyUI metadata chunk present (unreadable)"]
    return ProvenanceSignal(
        kind=KIND_COMFYUI,
        found=True,
        summary=summary,
        fields=fields,
        warnings=graphs.warnings,
        ai_indicators=indicators,
    )
