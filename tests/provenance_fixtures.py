"""Build real image files carrying provenance metadata for the provenance tests.

Files are written with the same libraries real generators use (Pillow's
PngInfo, c2pa-python's Builder) or laid out byte by byte per the relevant spec
(EXIF IFDs, JPEG APP1 XMP segments), so the reader is tested against the
formats themselves rather than against mocks.
"""

from __future__ import annotations

import datetime
import io
import json
from dataclasses import dataclass
from typing import Any, Literal

from PIL import Image
from PIL.PngImagePlugin import PngInfo

ByteOrder = Literal["little", "big"]

IPTC_TRAINED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"

# EXIF field types used below.
ASCII = 2
LONG = 4
UNDEFINED = 7
BYTE = 1


def base_image(color: tuple[int, int, int] = (120, 60, 200)) -> Image.Image:
    """Small but non-uniform, so JPEG scan data is not trivially short."""
    img = Image.new("RGB", (32, 32), color)
    for x in range(32):
        img.putpixel((x, x), (255, 255, 255))
    return img


def encode(img: Image.Image, fmt: str, **kwargs: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def png_with_text(items: list[tuple[str, str]], *, itxt: bool = False) -> bytes:
    info = PngInfo()
    for key, value in items:
        if itxt:
            info.add_itxt(key, value)
        else:
            info.add_text(key, value)
    return encode(base_image(), "PNG", pnginfo=info)


def build_tiff(
    ifd0: list[tuple[int, int, bytes]],
    exif_ifd: list[tuple[int, int, bytes]] | None = None,
    order: ByteOrder = "big",
) -> bytes:
    """A TIFF-structured EXIF block: IFD0, optional EXIF sub-IFD, then values.

    Entries are (tag, type, raw value bytes); count is derived from the type.
    """
    sizes = {BYTE: 1, ASCII: 1, LONG: 4, UNDEFINED: 1}
    head = (b"II*\x00" if order == "little" else b"MM\x00*") + (8).to_bytes(4, order)
    ifd0 = list(ifd0)
    if exif_ifd is not None:
        ifd0.append((0x8769, LONG, b"\x00\x00\x00\x00"))  # patched below
    ifd0.sort()

    def ifd_len(entries: list[tuple[int, int, bytes]]) -> int:
        return 2 + 12 * len(entries) + 4

    ifd0_off = 8
    exif_off = ifd0_off + ifd_len(ifd0)
    data_off = exif_off + (ifd_len(exif_ifd) if exif_ifd is not None else 0)
    blobs = bytearray()

    def pack(entries: list[tuple[int, int, bytes]], fix_exif: bool) -> bytes:
        nonlocal blobs
        out = bytearray(len(entries).to_bytes(2, order))
        for tag, typ, value in entries:
            if fix_exif and tag == 0x8769:
                value = exif_off.to_bytes(4, order)
            count = len(value) // sizes[typ]
            out += tag.to_bytes(2, order) + typ.to_bytes(2, order) + count.to_bytes(4, order)
            if len(value) <= 4:
                out += value.ljust(4, b"\x00")
            else:
                out += (data_off + len(blobs)).to_bytes(4, order)
                blobs += value
                if len(blobs) % 2:
                    blobs += b"\x00"
        out += (0).to_bytes(4, order)
        return bytes(out)

    first = pack(ifd0, True)
    second = pack(exif_ifd, False) if exif_ifd is not None else b""
    return head + first + second + bytes(blobs)


def ascii_value(text: str) -> bytes:
    return text.encode("utf-8") + b"\x00"


def user_comment(text: str, charset: str, order: ByteOrder = "big") -> bytes:
    if charset == "ASCII":
        return b"ASCII\x00\x00\x00" + text.encode("ascii")
    if charset == "UNICODE":
        codec = "utf-16-be" if order == "big" else "utf-16-le"
        return b"UNICODE\x00" + text.encode(codec)
    if charset == "JIS":
        return b"JIS\x00\x00\x00\x00\x00" + text.encode("shift_jis")
    raise ValueError(charset)


def exif_with_user_comment(raw_comment: bytes, order: ByteOrder = "big") -> bytes:
    return b"Exif\x00\x00" + build_tiff([], [(0x9286, UNDEFINED, raw_comment)], order)


def jpeg_with_exif(exif: bytes) -> bytes:
    return encode(base_image(), "JPEG", exif=exif)


def webp_with_exif(exif: bytes) -> bytes:
    return encode(base_image(), "WEBP", exif=exif)


def insert_jpeg_segment(jpeg: bytes, marker: int, payload: bytes) -> bytes:
    """Insert an APPn/COM segment right after SOI, as XMP writers do."""
    assert jpeg[:2] == b"\xff\xd8"
    segment = bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload
    return jpeg[:2] + segment + jpeg[2:]


def jpeg_with_xmp(xmp: str | bytes) -> bytes:
    data = xmp.encode("utf-8") if isinstance(xmp, str) else xmp
    payload = b"http://ns.adobe.com/xap/1.0/\x00" + data
    return insert_jpeg_segment(encode(base_image(), "JPEG"), 0xE1, payload)


def png_with_xmp(xmp: str) -> bytes:
    return png_with_text([("XML:com.adobe.xmp", xmp)], itxt=True)


def xmp_packet(description_attrs: str = "", body: str = "", extra_ns: str = "") -> str:
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about=""\n'
        '    xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"\n'
        '    xmlns:xmp="http://ns.adobe.com/xap/1.0/"\n'
        f"    {extra_ns} {description_attrs}>\n"
        f"   {body}\n"
        "  </rdf:Description>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    )


@dataclass
class SignerMaterial:
    """PEM material for a throwaway CA and an ES256 leaf issued by it."""

    chain_pem: bytes
    key_pem: bytes
    ca_pem: bytes


def make_test_signer() -> SignerMaterial:
    """CA + leaf with the key usages C2PA's certificate profile requires."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def name(cn: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, cn),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "simdetect tests"),
            ]
        )

    def usage(*, sign: bool, cert_sign: bool) -> x509.KeyUsage:
        return x509.KeyUsage(
            digital_signature=sign,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=cert_sign,
            crl_sign=cert_sign,
            encipher_only=False,
            decipher_only=False,
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("simdetect test CA"))
        .issuer_name(name("simdetect test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(usage(sign=False, cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(name("simdetect test signer"))
        .issuer_name(ca.subject)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage(sign=True, cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    return SignerMaterial(
        chain_pem=leaf.public_bytes(pem) + ca.public_bytes(pem),
        key_pem=leaf_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        ca_pem=ca.public_bytes(pem),
    )


def ai_manifest(title: str) -> dict[str, Any]:
    return {
        "claim_generator_info": [{"name": "simdetect-test-generator", "version": "0.1"}],
        "title": title,
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "softwareAgent": {"name": "FakeDiffusion", "version": "2.0"},
                            "digitalSourceType": IPTC_TRAINED,
                        }
                    ]
                },
            },
            {
                "label": "cawg.training-mining",
                "data": {
                    "entries": {
                        "cawg.ai_generative_training": {"use": "notAllowed"},
                        "cawg.ai_training": {"use": "notAllowed"},
                        "cawg.data_mining": {"use": "constrained", "constraint_info": "ask me"},
                        "cawg.ai_inference": {"use": "allowed"},
                    }
                },
            },
        ],
    }


def c2pa_signed(
    signer_pem: SignerMaterial, fmt: str = "JPEG", remote_url: str | None = None
) -> bytes:
    import c2pa

    mime = {"JPEG": "image/jpeg", "PNG": "image/png"}[fmt]
    source = io.BytesIO(encode(base_image(), fmt))
    dest = io.BytesIO()
    info = c2pa.C2paSignerInfo(
        c2pa.C2paSigningAlg.ES256, signer_pem.chain_pem, signer_pem.key_pem, None
    )
    signer = c2pa.Signer.from_info(info)
    with signer, c2pa.Builder(json.dumps(ai_manifest(f"fake.{fmt.lower()}"))) as builder:
        if remote_url is not None:
            builder.set_no_embed()
            builder.set_remote_url(remote_url)
        builder.sign(signer, mime, source, dest)
    return dest.getvalue()
