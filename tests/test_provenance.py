"""Tests for simdetect.provenance: real files carrying each signal, no mocks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import provenance_fixtures as fx
import pytest

from simdetect.provenance import (
    KINDS,
    NO_SIGNAL,
    ProvenanceReport,
    ProvenanceSignal,
    read_provenance,
    read_provenance_bytes,
)
from simdetect.provenance.exif import decode_user_comment
from simdetect.provenance.sd_params import parse_parameters

XSS = "<script>alert(1)</script>"
SD_TEXT = (
    f"masterpiece, 1girl, {XSS}, (watercolor:1.2)\n"
    "second prompt line\n"
    "Negative prompt: lowres, bad hands\n"
    "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1234, Size: 512x512, "
    'Model hash: abcd1234, Model: v1-5-pruned, Lora hashes: "styleA: 0f0f, styleB: 1e1e", '
    "Version: v1.9.4"
)
AIGC_VALUE = {
    "Label": "1",
    "ContentProducer": "001191110108MA01KP2T5U00000",
    "ProduceID": "20250901-abc",
    "ReservedCode1": "",
    "ContentPropagator": "某平台",
    "PropagateID": "p-77",
    "ReservedCode2": "",
}


def check(report: ProvenanceReport) -> ProvenanceReport:
    """Invariants every report must satisfy, whatever the input."""
    assert [s.kind for s in report.signals] == list(KINDS)
    for sig in report.signals:
        assert isinstance(sig, ProvenanceSignal)
        if not sig.found:
            assert sig.summary == NO_SIGNAL
            assert not sig.ai_indicators
    # Strict JSON (no NaN), and round-trips unchanged.
    text = json.dumps(report.to_dict(), allow_nan=False, ensure_ascii=False)
    assert json.loads(text) == report.to_dict()
    assert list(report.to_dict()) == ["path", "media_type", "warnings", "ai_indicators", "signals"]
    return report


def read(data: bytes, name: str = "suspect") -> ProvenanceReport:
    return check(read_provenance_bytes(data, name))


def sig(report: ProvenanceReport, kind: str) -> ProvenanceSignal:
    return report.signal(kind)


def only_found(report: ProvenanceReport) -> set[str]:
    return {s.kind for s in report.found()}


# --- clean / unreadable inputs ------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_clean_image_reports_every_kind_as_no_signal(fmt: str) -> None:
    report = read(fx.encode(fx.base_image(), fmt))
    assert report.found() == []
    assert report.ai_indicators() == []
    assert all(s.summary == "no signal found" for s in report.signals)
    assert report.warnings == []


def test_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_provenance(tmp_path / "nope.png")


def test_non_image_file_is_reported_not_raised(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("just some text, not an image\n")
    report = check(read_provenance(path))
    assert report.path == str(path)
    assert any("not a recognised image" in w for w in report.warnings)
    assert report.found() == []


def test_empty_file_and_directory_are_reported(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    assert any("empty" in w for w in check(read_provenance(empty)).warnings)
    report = check(read_provenance(tmp_path))
    assert any("could not be read" in w for w in report.warnings)


def test_other_image_format_says_only_c2pa_checked() -> None:
    report = read(fx.encode(fx.base_image(), "GIF"))
    assert report.media_type == "image/gif"
    assert any("only C2PA was checked" in w for w in report.warnings)


# --- Stable Diffusion WebUI -------------------------------------------------------


def test_sd_webui_png_parameters(tmp_path: Path) -> None:
    path = tmp_path / "a1111.png"
    path.write_bytes(fx.png_with_text([("parameters", SD_TEXT)]))
    report = check(read_provenance(path))
    s = sig(report, "sd_webui_parameters")
    assert s.found and not s.warnings
    f = s.fields
    assert f["source"] == "png:tEXt 'parameters'"
    assert f["prompt"] == f"masterpiece, 1girl, {XSS}, (watercolor:1.2)\nsecond prompt line"
    assert f["negative_prompt"] == "lowres, bad hands"
    assert (f["steps"], f["sampler"], f["cfg_scale"], f["seed"]) == (20, "Euler a", 7.0, 1234)
    assert (f["size"], f["model"], f["model_hash"]) == ("512x512", "v1-5-pruned", "abcd1234")
    assert f["settings"]["Lora hashes"] == "styleA: 0f0f, styleB: 1e1e"
    assert f["settings"]["Version"] == "v1.9.4"
    assert f["raw"] == SD_TEXT
    assert "Stable Diffusion WebUI parameters (seed 1234, model v1-5-pruned)" in (
        report.ai_indicators()
    )
    assert only_found(report) == {"sd_webui_parameters"}


@pytest.mark.parametrize(("itxt", "zip_"), [(False, True), (True, True), (True, False)])
def test_sd_webui_png_compressed_and_international_chunks(itxt: bool, zip_: bool) -> None:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    if itxt:
        info.add_itxt("parameters", SD_TEXT, zip=zip_)
    else:
        info.add_text("parameters", SD_TEXT, zip=zip_)
    s = sig(read(fx.encode(fx.base_image(), "PNG", pnginfo=info)), "sd_webui_parameters")
    assert s.found and s.fields["raw"] == SD_TEXT
    assert s.fields["source"].startswith("png:zTXt" if not itxt else "png:iTXt")


def test_sd_webui_png_itxt_non_latin_prompt() -> None:
    text = "水彩画の少女, 猫\nSteps: 30, Sampler: DPM++ 2M, Seed: 42"
    s = sig(read(fx.png_with_text([("parameters", text)], itxt=True)), "sd_webui_parameters")
    assert s.found
    assert s.fields["prompt"] == "水彩画の少女, 猫"
    assert s.fields["seed"] == 42
    assert s.fields["negative_prompt"] == ""


@pytest.mark.parametrize(
    ("charset", "order"),
    [("UNICODE", "big"), ("UNICODE", "little"), ("ASCII", "big"), ("ASCII", "little")],
)
def test_sd_webui_jpeg_exif_user_comment(charset: str, order: fx.ByteOrder) -> None:
    comment = fx.user_comment(SD_TEXT, charset, order)
    report = read(fx.jpeg_with_exif(fx.exif_with_user_comment(comment, order)))
    s = sig(report, "sd_webui_parameters")
    assert s.found
    assert s.fields["source"] == "exif:UserComment"
    assert s.fields["raw"] == SD_TEXT
    assert XSS in s.fields["prompt"]
    assert s.fields["seed"] == 1234
    exif = sig(report, "exif")
    assert exif.found
    assert exif.fields["user_comment"] == SD_TEXT
    assert exif.fields["user_comment_charset"].startswith(charset)


def test_sd_webui_user_comment_utf16_le_in_big_endian_tiff() -> None:
    """Byte order of the text is guessed, not taken on trust from the TIFF header."""
    raw = b"UNICODE\x00" + SD_TEXT.encode("utf-16-le")
    s = sig(read(fx.jpeg_with_exif(fx.exif_with_user_comment(raw, "big"))), "sd_webui_parameters")
    assert s.found and s.fields["raw"] == SD_TEXT


def test_sd_webui_webp_exif_user_comment() -> None:
    comment = fx.user_comment(SD_TEXT, "UNICODE")
    report = read(fx.webp_with_exif(fx.exif_with_user_comment(comment)))
    assert report.media_type == "image/webp"
    s = sig(report, "sd_webui_parameters")
    assert s.found and s.fields["model"] == "v1-5-pruned"


def test_sd_parser_edge_cases() -> None:
    only_prompt = parse_parameters("a cat\nwearing a hat")
    assert only_prompt.prompt == "a cat\nwearing a hat" and only_prompt.settings == {}
    quoted = parse_parameters('x\nSteps: 5, Sampler: Euler, Hires prompt: "a, \\"b\\", c", Seed: 9')
    assert quoted.settings["Hires prompt"] == 'a, "b", c'
    assert quoted.settings["Seed"] == "9"
    fooocus = parse_parameters(json.dumps({"Prompt": "p", "Negative Prompt": "n", "Seed": 7}))
    assert (fooocus.format, fooocus.prompt, fooocus.negative_prompt) == ("json", "p", "n")
    assert fooocus.settings["Seed"] == "7"


def test_png_parameters_without_settings_line_is_found_with_warning() -> None:
    s = sig(read(fx.png_with_text([("parameters", "just a prompt")])), "sd_webui_parameters")
    assert s.found and s.fields["prompt"] == "just a prompt"
    assert any("no WebUI" in w for w in s.warnings)


# --- EXIF ------------------------------------------------------------------------


def test_exif_software_artist_copyright_written_by_pillow() -> None:
    img = fx.base_image()
    exif = img.getexif()
    exif[0x0131] = "Midjourney v6"
    exif[0x013B] = "Jane Painter"
    exif[0x8298] = "(c) 2025 Jane Painter"
    exif[0x010E] = "a description"
    exif[0x010F] = "NoCamera"
    report = read(fx.encode(img, "JPEG", exif=exif.tobytes()))
    s = sig(report, "exif")
    assert s.found
    assert s.fields["software"] == "Midjourney v6"
    assert s.fields["artist"] == "Jane Painter"
    assert s.fields["copyright"] == "(c) 2025 Jane Painter"
    assert s.fields["image_description"] == "a description"
    assert s.fields["make"] == "NoCamera"
    assert s.fields["user_comment"] is None
    assert "Software='Midjourney v6'" in s.summary
    assert any("Midjourney" in i for i in s.ai_indicators)


def test_exif_xp_comment_and_jis_user_comment() -> None:
    tiff = fx.build_tiff(
        [(0x9C9C, fx.BYTE, "ウォーターカラー\x00".encode("utf-16-le"))],
        [(0x9286, fx.UNDEFINED, fx.user_comment("ジス", "JIS"))],
        "little",
    )
    s = sig(read(fx.jpeg_with_exif(b"Exif\x00\x00" + tiff)), "exif")
    assert s.fields["xp_comment"] == "ウォーターカラー"
    assert s.fields["user_comment"] == "ジス"
    assert s.fields["user_comment_charset"].startswith("JIS")
    assert s.ai_indicators == []


def test_tiff_software_and_xmp_tag_700() -> None:
    from PIL import TiffImagePlugin

    ifd = TiffImagePlugin.ImageFileDirectory_v2()
    ifd[305] = "Stable Diffusion exporter"
    ifd[700] = fx.xmp_packet(f'Iptc4xmpExt:DigitalSourceType="{fx.IPTC_TRAINED}"').encode()
    report = read(fx.encode(fx.base_image(), "TIFF", tiffinfo=ifd))
    assert report.media_type == "image/tiff"
    assert sig(report, "exif").fields["software"] == "Stable Diffusion exporter"
    assert sig(report, "iptc_xmp_digital_source_type").fields["is_ai"] is True


@pytest.mark.parametrize(
    "raw",
    [
        b"ASC",  # shorter than the charset prefix
        b"\x13\x37garbage\xff\xfe\x00\x81",  # unknown prefix, not UTF-8
        b"ASCII\x00\x00\x00\xff\xfe\x80 not ascii",  # prefix lies about content
        b"UNICODE\x00\xd8\xd8\x00\x41",  # unpaired surrogate in both byte orders
    ],
)
def test_garbage_user_comment_warns_without_crashing(raw: bytes) -> None:
    report = read(fx.jpeg_with_exif(fx.exif_with_user_comment(raw)))
    s = sig(report, "exif")
    assert s.warnings, s
    assert not sig(report, "sd_webui_parameters").found


def test_decode_user_comment_undefined_prefix() -> None:
    text, charset, warnings = decode_user_comment(b"\x00" * 8 + b"hello\x00\x00", "big")
    assert (text, warnings) == ("hello", [])
    assert charset is not None and charset.startswith("undefined")


def test_corrupt_exif_offsets_warn() -> None:
    tiff = bytearray(fx.build_tiff([(0x0131, fx.ASCII, fx.ascii_value("A long software name"))]))
    tiff[18:22] = (0xFFFFFF).to_bytes(4, "big")  # value offset far past the end
    s = sig(read(fx.jpeg_with_exif(b"Exif\x00\x00" + bytes(tiff))), "exif")
    assert not s.found
    assert any("outside the EXIF block" in w for w in s.warnings)


# --- ComfyUI -----------------------------------------------------------------------

COMFY_PROMPT = {
    "3": {
        "class_type": "KSampler",
        "inputs": {
            "seed": 156680208700286,
            "steps": 20,
            "cfg": 8.0,
            "sampler_name": "euler",
            "scheduler": "normal",
            "denoise": 1.0,
            "model": ["4", 0],
            "positive": ["6", 0],
            "negative": ["7", 0],
            "latent_image": ["5", 0],
        },
    },
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sdxl_base.safetensors"}},
    "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 512, "height": 512}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": f"a castle {XSS}", "clip": ["4", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry", "clip": ["4", 1]}},
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    "9": {"class_type": "SaveImage", "inputs": {"images": ["8", 0]}},
}
COMFY_WORKFLOW = {
    "last_node_id": 9,
    "nodes": [
        {"id": 3, "type": "KSampler", "widgets_values": [156680208700286, "randomize", 20]},
        {"id": 4, "type": "CheckpointLoaderSimple", "widgets_values": ["sdxl_base.safetensors"]},
        {"id": 6, "type": "CLIPTextEncode", "widgets_values": [f"a castle {XSS}"]},
        {"id": 9, "type": "SaveImage", "widgets_values": ["ComfyUI"]},
    ],
    "links": [],
}


def test_comfyui_png_prompt_and_workflow() -> None:
    data = fx.png_with_text(
        [("prompt", json.dumps(COMFY_PROMPT)), ("workflow", json.dumps(COMFY_WORKFLOW))]
    )
    report = read(data)
    s = sig(report, "comfyui")
    assert s.found and not s.warnings
    f = s.fields
    assert f["has_prompt"] and f["has_workflow"]
    assert f["node_count"] == 7
    assert f["workflow_node_count"] == 4
    assert {"KSampler", "CheckpointLoaderSimple", "CLIPTextEncode"} <= set(f["class_types"])
    assert f["checkpoints"] == ["sdxl_base.safetensors"]
    assert f["seeds"] == [156680208700286]
    assert f["positive_prompts"] == [f"a castle {XSS}"]
    assert f["negative_prompts"] == ["blurry"]
    assert f["samplers"][0]["steps"] == 20 and f["samplers"][0]["sampler_name"] == "euler"
    assert (
        "ComfyUI generation graph (checkpoint sdxl_base.safetensors, seed 156680208700286)"
        in report.ai_indicators()
    )


def test_comfyui_workflow_only_falls_back_to_widgets() -> None:
    s = sig(read(fx.png_with_text([("workflow", json.dumps(COMFY_WORKFLOW))])), "comfyui")
    assert s.found
    assert s.fields["node_count"] is None
    assert s.fields["checkpoints"] == ["sdxl_base.safetensors"]
    assert s.fields["prompt_texts"] == [f"a castle {XSS}"]
    assert s.fields["seeds"] == [156680208700286]


def test_comfyui_webp_exif_make_model() -> None:
    tiff = fx.build_tiff(
        [
            (0x010F, fx.ASCII, fx.ascii_value("workflow:" + json.dumps(COMFY_WORKFLOW))),
            (0x0110, fx.ASCII, fx.ascii_value("prompt:" + json.dumps(COMFY_PROMPT))),
        ]
    )
    report = read(fx.webp_with_exif(b"Exif\x00\x00" + tiff))
    s = sig(report, "comfyui")
    assert s.found and s.fields["node_count"] == 7
    assert sig(report, "exif").ai_indicators == []


def test_comfyui_broken_json_warns() -> None:
    data = fx.png_with_text([("prompt", '{"3": {"class_type": "KSampler", '), ("workflow", "{")])
    s = sig(read(data), "comfyui")
    assert s.found
    assert len([w for w in s.warnings if "not valid JSON" in w]) == 2
    assert s.fields["invalid_json"]["prompt"]["excerpt"].startswith('{"3"')
    assert s.summary == "ComfyUI metadata chunk present but unreadable"


def test_plain_text_prompt_chunk_is_not_comfyui() -> None:
    s = sig(read(fx.png_with_text([("prompt", "a cat")])), "comfyui")
    assert not s.found and s.warnings


# --- NovelAI ------------------------------------------------------------------------


def test_novelai_png() -> None:
    comment = {
        "prompt": f"1girl, {XSS}",
        "uc": "lowres",
        "seed": 987654,
        "steps": 28,
        "sampler": "k_euler_ancestral",
        "scale": 5.0,
        "width": 832,
        "height": 1216,
    }
    data = fx.png_with_text(
        [
            ("Title", "AI generated image"),
            ("Description", f"1girl, {XSS}"),
            ("Software", "NovelAI"),
            ("Source", "NovelAI Diffusion V3 C1E1DE52"),
            ("Generation time", "2.41"),
            ("Comment", json.dumps(comment)),
        ]
    )
    report = read(data)
    s = sig(report, "novelai")
    assert s.found and not s.warnings
    f = s.fields
    assert (f["software"], f["source"]) == ("NovelAI", "NovelAI Diffusion V3 C1E1DE52")
    assert f["prompt"] == f"1girl, {XSS}" and f["description"] == f"1girl, {XSS}"
    assert (f["negative_prompt"], f["seed"], f["steps"]) == ("lowres", 987654, 28)
    assert f["sampler"] == "k_euler_ancestral"
    assert f["comment"] == comment
    assert report.ai_indicators() == [
        "NovelAI metadata (seed 987654, model NovelAI Diffusion V3 C1E1DE52)"
    ]


def test_novelai_broken_comment_json() -> None:
    data = fx.png_with_text([("Software", "NovelAI"), ("Comment", '{"prompt": "x", ')])
    s = sig(read(data), "novelai")
    assert s.found and s.fields["comment"] is None
    assert s.fields["comment_raw"] == '{"prompt": "x", '
    assert any("not valid JSON" in w for w in s.warnings)


# --- IPTC / XMP DigitalSourceType -------------------------------------------------


def test_xmp_dst_in_jpeg_attribute_form() -> None:
    xmp = fx.xmp_packet(
        f'Iptc4xmpExt:DigitalSourceType="{fx.IPTC_TRAINED}" xmp:CreatorTool="Firefly"'
    )
    report = read(fx.jpeg_with_xmp(xmp))
    s = sig(report, "iptc_xmp_digital_source_type")
    assert s.found and not s.warnings
    assert s.fields["digital_source_type"] == fx.IPTC_TRAINED
    assert s.fields["code"] == "trainedAlgorithmicMedia"
    assert s.fields["is_ai"] is True
    assert s.fields["creator_tools"] == ["Firefly"]
    assert s.fields["xmp_sources"] == ["jpeg:APP1 XMP"]
    assert report.ai_indicators() == ["XMP Iptc4xmpExt:DigitalSourceType trainedAlgorithmicMedia"]


def test_xmp_dst_in_png_element_form() -> None:
    body = (
        "<Iptc4xmpExt:DigitalSourceType>"
        "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
        "</Iptc4xmpExt:DigitalSourceType>"
    )
    s = sig(read(fx.png_with_xmp(fx.xmp_packet(body=body))), "iptc_xmp_digital_source_type")
    assert s.found
    assert s.fields["code"] == "compositeWithTrainedAlgorithmicMedia"
    assert s.fields["is_ai"] is True
    assert s.fields["xmp_sources"] == ["png:iTXt"]


def test_xmp_dst_resource_form_non_ai_code() -> None:
    body = (
        "<Iptc4xmpExt:DigitalSourceType rdf:resource="
        '"http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"/>'
    )
    report = read(fx.jpeg_with_xmp(fx.xmp_packet(body=body)))
    s = sig(report, "iptc_xmp_digital_source_type")
    assert s.found and s.fields["is_ai"] is False and s.fields["code"] == "digitalCapture"
    assert report.ai_indicators() == []


def test_jpeg_extended_xmp_is_reassembled() -> None:
    full = fx.xmp_packet(f'Iptc4xmpExt:DigitalSourceType="{fx.IPTC_TRAINED}"').encode()
    guid = b"0123456789ABCDEF0123456789ABCDEF"
    half = len(full) // 2
    data = fx.encode(fx.base_image(), "JPEG")
    # Each insert goes right after SOI, so the second half ends up first in the
    # file: readers must place parts by their offset, not by file order.
    for offset, part in ((0, full[:half]), (half, full[half:])):
        payload = (
            b"http://ns.adobe.com/xmp/extension/\x00"
            + guid
            + len(full).to_bytes(4, "big")
            + offset.to_bytes(4, "big")
            + part
        )
        data = fx.insert_jpeg_segment(data, 0xE1, payload)
    s = sig(read(data), "iptc_xmp_digital_source_type")
    assert s.found and s.fields["code"] == "trainedAlgorithmicMedia"
    assert s.fields["xmp_sources"] == [f"jpeg:APP1 extended XMP {guid.decode()}"]


def test_xmp_with_doctype_entities_is_refused() -> None:
    bomb = (
        '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>\n'
        + fx.xmp_packet(body="<xmp:Label>&lol2;</xmp:Label>").split("\n", 1)[1]
    )
    report = read(fx.jpeg_with_xmp(bomb))
    s = sig(report, "iptc_xmp_digital_source_type")
    assert not s.found
    assert any("DOCTYPE/ENTITY" in w for w in s.warnings)


def test_utf16_xmp_with_doctype_is_refused() -> None:
    bomb = (
        '<!DOCTYPE x [<!ENTITY a "aaaa">]>'
        + fx.xmp_packet(f'Iptc4xmpExt:DigitalSourceType="{fx.IPTC_TRAINED}"').split("\n", 1)[1]
    )
    s = sig(read(fx.jpeg_with_xmp(bomb.encode("utf-16"))), "iptc_xmp_digital_source_type")
    assert any("DOCTYPE/ENTITY" in w for w in s.warnings)


def test_xmp_aigc_struct_form() -> None:
    body = (
        '<TC260:AIGC rdf:parseType="Resource"><TC260:Label>2</TC260:Label>'
        "<TC260:ContentProducer>acme</TC260:ContentProducer></TC260:AIGC>"
    )
    ns = 'xmlns:TC260="http://www.tc260.org.cn/ns/AIGC/1.0/"'
    s = sig(read(fx.jpeg_with_xmp(fx.xmp_packet(body=body, extra_ns=ns))), "aigc_label")
    assert s.found and (s.fields["label"], s.fields["content_producer"]) == ("2", "acme")
    assert s.fields["label_meaning"].startswith("possibly")


def test_broken_xmp_warns_and_text_scan_still_reports() -> None:
    broken = fx.xmp_packet(f'Iptc4xmpExt:DigitalSourceType="{fx.IPTC_TRAINED}"')
    broken = broken.replace("</rdf:Description>", "")
    report = read(fx.jpeg_with_xmp(broken))
    s = sig(report, "iptc_xmp_digital_source_type")
    assert any("not well-formed" in w for w in s.warnings)
    assert s.found and s.fields["values"][0]["from_parsed_xml"] is False
    assert "unparseable" in s.ai_indicators[0]


def test_xmp_packet_without_dst_is_no_signal() -> None:
    report = read(fx.jpeg_with_xmp(fx.xmp_packet('xmp:CreatorTool="GIMP"')))
    s = sig(report, "iptc_xmp_digital_source_type")
    assert not s.found and not s.warnings
    assert s.fields == {"xmp_sources": ["jpeg:APP1 XMP"], "creator_tools": ["GIMP"]}


# --- China AIGC implicit label -------------------------------------------------------


def _assert_aigc(s: ProvenanceSignal, source_prefix: str) -> None:
    assert s.found, s
    f = s.fields
    assert f["source"].startswith(source_prefix)
    assert f["label"] == "1"
    assert f["label_meaning"].startswith("AI-generated")
    assert f["content_producer"] == AIGC_VALUE["ContentProducer"]
    assert f["produce_id"] == "20250901-abc"
    assert f["content_propagator"] == "某平台"
    assert f["propagate_id"] == "p-77"
    assert f["reserved_code1"] == "" and f["reserved_code2"] == ""
    assert any("Label=1 (AI-generated)" in i for i in s.ai_indicators)


def test_aigc_label_png_text() -> None:
    data = fx.png_with_text([("AIGC", json.dumps(AIGC_VALUE, ensure_ascii=False))])
    _assert_aigc(sig(read(data), "aigc_label"), "png:iTXt")


def test_aigc_label_xmp_tc260_element() -> None:
    from xml.sax.saxutils import escape

    body = f"<TC260:AIGC>{escape(json.dumps(AIGC_VALUE, ensure_ascii=False))}</TC260:AIGC>"
    ns = 'xmlns:TC260="http://www.tc260.org.cn/ns/AIGC/1.0/"'
    s = sig(read(fx.jpeg_with_xmp(fx.xmp_packet(body=body, extra_ns=ns))), "aigc_label")
    _assert_aigc(s, "xmp (jpeg:APP1 XMP) http://www.tc260.org.cn/ns/AIGC/1.0/")


def test_aigc_label_xmp_attribute_form() -> None:
    from xml.sax.saxutils import quoteattr

    attr = f"TC260:AIGC={quoteattr(json.dumps(AIGC_VALUE, ensure_ascii=False))}"
    ns = 'xmlns:TC260="http://www.tc260.org.cn/ns/AIGC/1.0/"'
    s = sig(read(fx.png_with_xmp(fx.xmp_packet(attr, extra_ns=ns))), "aigc_label")
    _assert_aigc(s, "xmp (png:iTXt)")


def test_aigc_label_exif_user_comment() -> None:
    text = json.dumps({"AIGC": AIGC_VALUE}, ensure_ascii=False)
    raw = fx.user_comment(text, "UNICODE")
    report = read(fx.jpeg_with_exif(fx.exif_with_user_comment(raw)))
    _assert_aigc(sig(report, "aigc_label"), "exif:user_comment")
    assert not sig(report, "sd_webui_parameters").found


def test_aigc_label_exif_image_description_bare_keys() -> None:
    value = dict(AIGC_VALUE, Label="3")
    tiff = fx.build_tiff([(0x010E, fx.ASCII, fx.ascii_value(json.dumps(value)))])
    s = sig(read(fx.jpeg_with_exif(b"Exif\x00\x00" + tiff)), "aigc_label")
    assert s.found and s.fields["label"] == "3"
    assert s.fields["label_meaning"].startswith("suspected")


def test_aigc_label_malformed_json() -> None:
    s = sig(read(fx.png_with_text([("AIGC", '{"Label": "1", "ContentProducer"')])), "aigc_label")
    assert s.found and s.fields["parsed"] is False
    assert s.fields["raw"] == '{"Label": "1", "ContentProducer"'
    assert any("not valid JSON" in w for w in s.warnings)


# --- C2PA -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def signer() -> fx.SignerMaterial:
    return fx.make_test_signer()


@pytest.fixture(scope="module")
def signed_jpeg(signer: fx.SignerMaterial) -> bytes:
    return fx.c2pa_signed(signer, "JPEG")


def test_c2pa_signed_jpeg(tmp_path: Path, signed_jpeg: bytes) -> None:
    path = tmp_path / "signed.jpg"
    path.write_bytes(signed_jpeg)
    report = check(read_provenance(path))
    s = sig(report, "c2pa")
    assert s.found
    f: dict[str, Any] = s.fields
    assert f["readable"] is True
    assert f["active_manifest"].startswith("urn:c2pa:")
    assert f["claim_generator_info"][0]["name"] == "simdetect-test-generator"
    assert f["title"] == "fake.jpeg"
    assert f["actions"][0]["action"] == "c2pa.created"
    assert f["actions"][0]["software_agent"] == "FakeDiffusion 2.0"
    assert f["actions"][0]["digital_source_type"] == fx.IPTC_TRAINED
    assert f["digital_source_types"] == [fx.IPTC_TRAINED]
    uses = {(e["assertion"], e["entry"]): e["use"] for e in f["training_mining"]}
    assert uses[("cawg.training-mining", "cawg.ai_generative_training")] == "notAllowed"
    assert uses[("cawg.training-mining", "cawg.data_mining")] == "constrained"
    assert uses[("cawg.training-mining", "cawg.ai_inference")] == "allowed"
    # Self-made CA: the signature checks out but nothing vouches for the signer.
    assert f["signature_valid"] is True
    assert f["trusted"] is False
    assert "signingCredential.untrusted" in f["validation_status_codes"]
    assert f["content_hash_match"] is True
    assert f["signature"]["common_name"] == "simdetect test signer"
    assert f["container_sources"] == ["jpeg:APP11"]
    assert "C2PA digitalSourceType trainedAlgorithmicMedia" in report.ai_indicators()
    assert "simdetect-test-generator" in s.summary


def test_c2pa_trusted_with_caller_trust_anchor(
    signer: fx.SignerMaterial, signed_jpeg: bytes
) -> None:
    report = read_provenance_bytes(
        signed_jpeg, "signed.jpg", c2pa_trust_anchors_pem=signer.ca_pem.decode()
    )
    f = check(report).signal("c2pa").fields
    assert f["trusted"] is True and f["validation_state"] == "Trusted"


def test_c2pa_signed_png(signer: fx.SignerMaterial) -> None:
    s = sig(read(fx.c2pa_signed(signer, "PNG")), "c2pa")
    assert s.found and s.fields["container_sources"] == ["png:caBX"]
    assert s.fields["digital_source_types"] == [fx.IPTC_TRAINED]


def test_c2pa_tampered_pixels_fail_hash(signed_jpeg: bytes) -> None:
    data = bytearray(signed_jpeg)
    data[-10] ^= 0xFF  # inside the entropy-coded scan, covered by the data hash
    s = sig(read(bytes(data)), "c2pa")
    assert s.found and s.fields["content_hash_match"] is False
    assert s.fields["validation_state"] == "Invalid"
    assert any("validation failed" in w for w in s.warnings)


def test_c2pa_remote_manifest_is_reported_not_fetched(signer: fx.SignerMaterial) -> None:
    url = "https://example.invalid/manifests/fake.c2pa"
    report = read(fx.c2pa_signed(signer, "JPEG", remote_url=url))
    s = sig(report, "c2pa")
    assert s.found and s.fields["remote"] is True and s.fields["readable"] is False
    assert s.fields["remote_manifest_urls"] == [url]
    assert any("not fetched" in w for w in s.warnings)
    assert report.ai_indicators() == []


def _app11_bounds(data: bytes) -> tuple[int, int]:
    start = data.index(b"\xff\xeb")
    return start, start + 2 + int.from_bytes(data[start + 2 : start + 4], "big")


def test_c2pa_truncated_jumbf_warns(signed_jpeg: bytes) -> None:
    start, end = _app11_bounds(signed_jpeg)
    segment = signed_jpeg[start:end]
    short = b"\xff\xeb" + (60).to_bytes(2, "big") + segment[4:62]
    report = read(signed_jpeg[:start] + short + signed_jpeg[end:])
    s = sig(report, "c2pa")
    assert s.found and s.fields["readable"] is False
    assert s.warnings and s.ai_indicators == []


def test_c2pa_corrupt_manifest_bytes_warn(signed_jpeg: bytes) -> None:
    start, end = _app11_bounds(signed_jpeg)
    data = bytearray(signed_jpeg)
    for i in range(start + 60, min(end, start + 400)):
        data[i] ^= 0x5A
    s = sig(read(bytes(data)), "c2pa")
    assert s.found and s.fields["readable"] is False
    assert any("unreadable or invalid" in w for w in s.warnings)


def test_hand_made_garbage_jumbf_segment_warns() -> None:
    payload = b"JP\x02\x11\x00\x00\x00\x01" + b"\x00\x00\x00\x20jumb" + b"c2pa" + b"\x07" * 40
    data = fx.insert_jpeg_segment(fx.encode(fx.base_image(), "JPEG"), 0xEB, payload)
    s = sig(read(data), "c2pa")
    assert s.found and s.fields["readable"] is False and s.warnings


# --- robustness ------------------------------------------------------------------------


def test_truncated_png_keeps_earlier_chunks() -> None:
    data = fx.png_with_text([("parameters", SD_TEXT)])
    cut = data[: data.index(b"IDAT") + 10]
    report = read(cut)
    assert any("truncated" in w for w in report.warnings)
    assert sig(report, "sd_webui_parameters").fields["seed"] == 1234


def test_png_bad_crc_is_reported() -> None:
    data = bytearray(fx.png_with_text([("parameters", SD_TEXT)]))
    pos = data.index(b"tEXt") + 10
    data[pos] ^= 0x01
    report = read(bytes(data))
    assert any("bad CRC" in w for w in report.warnings)


def test_nan_in_comfyui_json_stays_strict_json() -> None:
    prompt = {"1": {"class_type": "KSampler", "inputs": {"seed": 1, "cfg": float("nan")}}}
    s = sig(read(fx.png_with_text([("prompt", json.dumps(prompt))])), "comfyui")
    json.dumps(s.fields, allow_nan=False)
    assert s.fields["samplers"][0]["cfg"] == "nan"


def test_mutated_files_never_raise(signed_jpeg: bytes) -> None:
    """Seeded byte-mutation fuzz over real fixtures: warnings, never exceptions."""
    import random

    seeds = [
        signed_jpeg,
        fx.png_with_text([("parameters", SD_TEXT), ("prompt", json.dumps(COMFY_PROMPT))]),
        fx.jpeg_with_exif(fx.exif_with_user_comment(fx.user_comment(SD_TEXT, "UNICODE"))),
        fx.jpeg_with_xmp(fx.xmp_packet(f'Iptc4xmpExt:DigitalSourceType="{fx.IPTC_TRAINED}"')),
        fx.webp_with_exif(fx.exif_with_user_comment(fx.user_comment(SD_TEXT, "ASCII"))),
    ]
    rng = random.Random(1234)
    for _ in range(300):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 6)):
            i = rng.randrange(len(data))
            if rng.random() < 0.7:
                data[i] = rng.randrange(256)
            else:
                del data[i : i + rng.randint(1, 64)]
        report = read(bytes(data))
        assert not [w for s in report.signals for w in s.warnings if "internal error" in w]


def test_everything_at_once_lists_all_indicators() -> None:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("parameters", SD_TEXT)
    info.add_text("prompt", json.dumps(COMFY_PROMPT))
    info.add_itxt("AIGC", json.dumps(AIGC_VALUE, ensure_ascii=False))
    info.add_itxt(
        "XML:com.adobe.xmp", fx.xmp_packet(f'Iptc4xmpExt:DigitalSourceType="{fx.IPTC_TRAINED}"')
    )
    report = read(fx.encode(fx.base_image(), "PNG", pnginfo=info))
    assert only_found(report) == {
        "sd_webui_parameters",
        "comfyui",
        "aigc_label",
        "iptc_xmp_digital_source_type",
    }
    assert len(report.ai_indicators()) == 4
