"""Opening a meter-data file as text whatever a spreadsheet saved it as: UTF-8 (with or
without a BOM), UTF-16 with its BOM (Excel's "Unicode text"), or Windows-1250 (what Polish
Excel saves as "CSV"). Anything else (a binary file, an image, a NUL byte) is refused with an
error naming the file, before a row is read."""

from __future__ import annotations

import codecs
import io
from pathlib import Path
from typing import IO

from market.core.errors import ValidationFailed

#: Control characters no CSV holds (tab, line feed and carriage return are fine).
_CONTROL = bytes(c for c in range(32) if c not in (9, 10, 13))


def detect_encoding(path: Path) -> str:
    """The file's text encoding, or `ValidationFailed("file")` when it is not text."""
    with path.open("rb") as raw:
        head = raw.read(4)
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return _check_utf16(path)
        raw.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        utf8 = True
        while chunk := raw.read(1 << 20):
            if any(c in chunk for c in _CONTROL):
                raise _not_text()
            if utf8:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
        if utf8:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                utf8 = False
    if utf8:
        return "utf-8-sig"
    _check_decodes(path, "cp1250")
    return "cp1250"


def _check_utf16(path: Path) -> str:
    _check_decodes(path, "utf-16")
    with path.open(encoding="utf-16") as stream:
        while chunk := stream.read(1 << 20):
            if any(chr(c) in chunk for c in _CONTROL):
                raise _not_text()
    return "utf-16"


def _check_decodes(path: Path, encoding: str) -> None:
    try:
        with path.open(encoding=encoding) as stream:
            while stream.read(1 << 20):
                pass
    except UnicodeDecodeError:
        raise _not_text() from None


def _not_text() -> ValidationFailed:
    return ValidationFailed(
        "file",
        "not a text CSV file; save it as CSV (UTF-8, UTF-16 or Windows-1250)",
    )


def open_text(path: Path) -> IO[str]:
    """The file as a seekable text stream (a BOM skipped), in its detected encoding."""
    encoding = detect_encoding(path)
    if encoding == "utf-16":  # read whole: a UTF-16 text stream cannot seek back reliably
        with path.open(encoding=encoding, newline="") as stream:
            return io.StringIO(stream.read(), newline="")
    return path.open(encoding=encoding, newline="")
