"""File names that are not valid UTF-8, written as text that reads back to the same bytes.

POSIX file names are bytes. Python hands an undecodable byte to us as a lone surrogate
(U+DC80..U+DCFF, PEP 383 "surrogateescape"), which opens the file fine but cannot be
written to UTF-8 text: Parquet, CSV, JSON and the console all refuse it, and one such
name used to abort a whole run. Every name that leaves the process as text therefore
goes through :func:`text_name`, and every stored name that is used to reach a file
again goes through :func:`fs_name`.

The escaping (documented in the README, "File names that are not UTF-8"):

- a byte that is not part of valid UTF-8 is written ``\\xNN`` (two lower-case hex digits);
- a backslash is written ``\\\\`` when the next character of the name is a backslash,
  an undecodable byte, or ``x`` followed by two hex digits, so the text stays
  unambiguous;
- everything else is written as it is.

A valid UTF-8 name without a backslash before ``x``/``\\`` is therefore unchanged, so
outputs written before this escaping existed read the same. The mapping is a bijection
between byte names and texts made by it: ``fs_name(text_name(n)) == n`` for every name.
"""

from __future__ import annotations

import os
import re

__all__ = ["MAX_NAME_BYTES", "fs_name", "has_undecodable", "text_name", "truncate_utf8"]

# What Linux, macOS and Windows file systems allow for one path component.
MAX_NAME_BYTES = 255

_SURROGATE_LO = 0xDC80
_SURROGATE_HI = 0xDCFF
_HEX = frozenset("0123456789abcdefABCDEF")
_UNDECODABLE = re.compile("[\udc80-\udcff]")
_ESCAPE = re.compile(r"\\(\\|x[0-9a-fA-F]{2})")


def _escaped_byte(ch: str) -> bool:
    return _SURROGATE_LO <= ord(ch) <= _SURROGATE_HI


def has_undecodable(name: str) -> bool:
    """Whether ``name`` carries bytes that are not UTF-8 (as surrogate escapes)."""
    return _UNDECODABLE.search(name) is not None


def _needs_doubling(name: str, i: int) -> bool:
    nxt = name[i + 1 : i + 2]
    if nxt == "\\" or (nxt and _escaped_byte(nxt)):
        return True
    return nxt == "x" and len(name) >= i + 4 and name[i + 2] in _HEX and name[i + 3] in _HEX


def text_name(name: str | os.PathLike[str]) -> str:
    """The name as text that any UTF-8 writer accepts, reversible by :func:`fs_name`."""
    text = os.fspath(name)
    if "\\" not in text and not has_undecodable(text):
        return text  # the common case, unchanged
    out = []
    for i, ch in enumerate(text):
        if _escaped_byte(ch):
            out.append(f"\\x{ord(ch) - _SURROGATE_LO + 0x80:02x}")
        elif ch == "\\" and _needs_doubling(text, i):
            out.append("\\\\")
        else:
            out.append(ch)
    return "".join(out)


def fs_name(text: str) -> str:
    """The file-system name (surrogate-escaped str) that :func:`text_name` wrote as ``text``."""
    if "\\" not in text:
        return text

    def unescape(m: re.Match[str]) -> str:
        body = m.group(1)
        if body == "\\":
            return "\\"
        value = int(body[1:], 16)
        # An escaped ASCII byte is never produced by text_name; keep it literal.
        return chr(_SURROGATE_LO + value - 0x80) if value >= 0x80 else m.group(0)

    return _ESCAPE.sub(unescape, text)


def truncate_utf8(text: str, max_bytes: int) -> str:
    """The longest prefix of ``text`` whose UTF-8 encoding fits in ``max_bytes``.

    File systems limit names in bytes, not characters: 84 CJK characters are 252 bytes.
    """
    data = text.encode("utf-8", "surrogateescape")
    if len(data) <= max_bytes:
        return text
    return data[:max_bytes].decode("utf-8", "ignore")


def fit_file_name(name: str, max_bytes: int, default: str, max_suffix_bytes: int = 16) -> str:
    """``name`` cut to ``max_bytes`` of UTF-8, keeping a short suffix (``.png``) whole.

    For names simdetect creates from names it was given (uploads, copies kept as
    evidence): they must fit the file system and still read like the original.
    """
    if len(name.encode("utf-8")) <= max_bytes:
        return name
    stem, dot, suffix = name.rpartition(".")
    if dot and stem and len(suffix.encode("utf-8")) < max_suffix_bytes:
        keep = max_bytes - len(suffix.encode("utf-8")) - 1
        return truncate_utf8(stem, keep).rstrip() + "." + suffix
    return truncate_utf8(name, max_bytes).rstrip() or default
