"""The encoding of a text file: detected (UTF-8 with or without BOM, UTF-16, cp1252,
latin-1) or given, the bytes decoded or re-encoded as UTF-8 for pyarrow's parser, and the
lines a chosen encoding garbles."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

import numpy as np

_BOM8 = b"\xef\xbb\xbf"
#: Bytes cp1252 leaves undefined: a file holding them is read as latin-1.
_UNDEFINED_CP1252 = (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d")


def _canonical_encoding(encoding: str) -> str:
    enc = encoding.strip().lower().replace("_", "-")
    return {
        "utf8": "utf-8",
        "utf-8-bom": "utf-8-sig",
        "latin1": "latin-1",
        "iso-8859-1": "latin-1",
        "windows-1252": "cp1252",
        "win-1252": "cp1252",
    }.get(enc, enc)


def decode(data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """Decode bytes, detecting the encoding unless given.

    Detection: a BOM (UTF-8, UTF-16) wins; then strict UTF-8; then UTF-8 when the invalid
    bytes are a tiny minority, or fewer than the valid UTF-8 characters (a few stray
    characters or rows in a UTF-8 export: they become U+FFFD); then cp1252, or latin-1
    when bytes undefined in cp1252 occur.

    Returns
    -------
    text, encoding
    """
    if encoding:
        enc = _canonical_encoding(encoding)
        if enc in ("utf-8", "utf-8-sig"):
            enc = "utf-8-sig" if data.startswith(_BOM8) else "utf-8"
        return data.decode(enc, errors="replace"), enc
    if data.startswith(_BOM8):
        return data[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8", errors="replace")
    high = int(np.count_nonzero(np.frombuffer(data, dtype=np.uint8) >= 0x80))
    bad = text.count("\ufffd")
    valid = len(text) - len(text.encode("ascii", "ignore")) - bad
    enc = not_utf8_encoding(high, bad, valid, lambda: any(b in data for b in _UNDEFINED_CP1252))
    return (text, enc) if enc == "utf-8" else (data.decode(enc), enc)


def not_utf8_encoding(high: int, bad: int, valid: int, undefined: Callable[[], bool]) -> str:
    """The encoding of bytes that are not all valid UTF-8 (no BOM), from their ``high``
    bytes above 127, the ``bad`` ones UTF-8 cannot read and the ``valid`` UTF-8
    characters above 127: UTF-8 when the bad bytes are a tiny minority or fewer than
    the valid characters, else latin-1 when ``undefined()`` (bytes cp1252 leaves
    undefined occur), cp1252 otherwise (the rule of :func:`decode`, also that of a file
    read in parts, :mod:`pipelines.ingest.chunks`).

    Accented letters written in UTF-8 (several bytes each, valid), against the bytes that
    are not: a one-byte encoding almost never makes a valid UTF-8 sequence, so a file
    where they outnumber the invalid bytes is UTF-8 with a few foreign rows, however
    short (its header, often accented, read right).
    """
    if bad * 50 <= high or valid > bad:
        return "utf-8"
    return "latin-1" if undefined() else "cp1252"


def encoding_mismatches(data: bytes, encoding: str) -> np.ndarray:
    """The 1-based lines of ``data`` that do not fit the ``encoding`` it is read in: for
    UTF-8, lines that are not valid UTF-8 (their bad bytes become U+FFFD); for a
    one-byte encoding (cp1252, latin-1), lines that are valid UTF-8 with accented
    letters (read as "Ã©" instead of "é"). A file that mixes rows from two exports
    has both kinds; one encoding must be chosen for the whole file, and these lines
    are the ones it garbles.

    Only the lines that hold bytes above 127 are decoded (found with numpy).
    """
    if encoding not in ("utf-8", "utf-8-sig", "cp1252", "latin-1") or data.isascii():
        return np.zeros(0, np.int64)
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    a = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(a == 10)
    lines = np.unique(np.searchsorted(newlines, np.flatnonzero(a >= 0x80)))
    starts = np.concatenate(([0], newlines + 1))
    ends = np.concatenate((newlines, [len(a)]))
    want_utf8 = encoding.startswith("utf-8")
    bad = []
    for k in lines:
        try:
            data[starts[k] : ends[k]].decode("utf-8")
            is_utf8 = True
        except UnicodeDecodeError:
            is_utf8 = False
        if is_utf8 != want_utf8:
            bad.append(k + 1)
    return np.asarray(bad, dtype=np.int64)


def each_line_in_its_encoding(data: bytes, encoding: str, lines: np.ndarray) -> bytes:
    """``data`` (``\\n`` line ends) as UTF-8, read in ``encoding`` but for its
    ``lines`` (1-based, :func:`encoding_mismatches`), each read in the other encoding: a
    file of two exports pasted together, one in cp1252 and the other in UTF-8, has its
    accents right on every line (« cassÃ© » in a cp1252 file is « cassé » in UTF-8; a
    cp1252 « cass\\xe9 » in a UTF-8 file was « cass\\ufffd »). A line of a UTF-8 file
    that is not UTF-8 is read in cp1252, or latin-1 when it holds bytes cp1252 leaves
    undefined. The line numbers and the line ends are kept."""
    utf8 = encoding.startswith("utf-8")
    mismatched = set((np.asarray(lines, dtype=np.int64) - 1).tolist())
    out = []
    for k, line in enumerate(data.split(b"\n")):
        if k in mismatched:
            if utf8:
                one_byte = any(b in line for b in _UNDEFINED_CP1252)
                text = line.decode("latin-1" if one_byte else "cp1252", errors="replace")
            else:
                text = line.decode("utf-8", errors="replace")
        else:
            text = line.decode(encoding, errors="replace")
        out.append(text.encode("utf-8"))
    return b"\n".join(out)


def control_lines(data: bytes) -> np.ndarray:
    """The 1-based lines of ``data`` holding a byte from 0x80 to 0x9F. Read as latin-1
    they are C1 control characters, invisible and never text (a French export really in
    latin-1 has none): the file is in another encoding, whose accented letters those
    lines lose (Mac Roman of an old Excel for Mac writes « é » 0x8E, « ç » 0x8D)."""
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    a = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(a == 10)
    where = np.flatnonzero((a >= 0x80) & (a <= 0x9F))
    return (np.unique(np.searchsorted(newlines, where)) + 1).astype(np.int64)


#: A word holding a byte above 127 (ASCII letters and such bytes), in a file's bytes.
#: Looked for from a word's start only: without the lookbehind, a long run of ASCII
#: letters (5 MB of text in one cell) was tried again from each of its letters, in time
#: quadratic in its length (100 kB: 44 s, 5 MB: hours), for the same words found.
_HIGH_WORD = re.compile(rb"(?<![A-Za-z\x80-\xff])[A-Za-z\x80-\xff]*[\x80-\xff][A-Za-z\x80-\xff]*")
#: cp1252's quotes, dashes and ellipsis (« “mot” », « etc… », « l’eau » 0x92): a word's
#: punctuation, no letter, set aside at a word's ends.
_CP1252_PUNCTUATION = b"\x85\x91\x92\x93\x94\x96\x97"
#: How much of a file tells whether it is cp850 (words' counts, not bytes', decide).
_SAMPLE_BYTES = 4 * 2**20


def _a_word(word: str) -> bool:
    """Whether text reads as one word: letters, in lower case, upper case or capitalised
    (« été », « ÉTÉ », « Émile »; not « ‚t‚ », « problŠme » nor « riviÞre »)."""
    return word.isalpha() and (word.islower() or word.isupper() or word[1:].islower())


#: One-byte encodings whose French letters cp1252 reads as signs, quotes or letters out of
#: place, with how a note names them.
OTHER_ENCODINGS = {
    "cp850": "cp850, l'encodage des fichiers DOS",
    "mac_roman": "Mac Roman, celui d'un ancien Excel pour Mac",
}


def other_encoding(data: bytes) -> tuple[str, str, str] | None:
    """For bytes read as cp1252 or latin-1 (whose letters are cp1252's): the encoding of
    :data:`OTHER_ENCODINGS` they are in, and a word as read and as that encoding reads it
    (« cp850 », « ‚t‚ », « été »), when the file's words are words in it and not in
    cp1252, far more often than the other way round; None otherwise. A byte cp1252
    leaves undefined (read as latin-1) is read « � » in the word as read.

    French accented letters are bytes 0x80-0x9F in cp850 (« é » 0x82, « è » 0x8A, « ç »
    0x87) and in Mac Roman (« é » 0x8E), quotes, signs or capitals in cp1252, whose
    letters are 0xC0-0xFF: each encoding makes the other's words unreadable (« cr‡ce »,
    « dŽcidŽe », « ÚtÚ »). cp1252's punctuation at a word's ends (« “mot” », « etc… »,
    « l’eau ») is set aside. The first :data:`_SAMPLE_BYTES` bytes are looked at, each
    distinct word once.
    """
    words = Counter(_HIGH_WORD.findall(data[:_SAMPLE_BYTES]))
    found = None
    for encoding in OTHER_ENCODINGS:
        other = cp1252 = 0
        example = None
        for raw, n in words.items():
            word = raw.strip(_CP1252_PUNCTUATION)
            if word.isascii():
                continue
            as_read, as_meant = word.decode("cp1252", "replace"), word.decode(encoding)
            if _a_word(as_meant) and not _a_word(as_read):
                other += n
                example = example or (as_read, as_meant)
            elif _a_word(as_read) and not _a_word(as_meant):
                cp1252 += n
        if example and other >= 2 and other > 4 * cp1252 and (not found or other > found[0]):
            found = (other, (encoding, *example))
    return found[1] if found else None


def utf8_bytes(data: bytes, encoding: str | None) -> tuple[bytes, str, bool]:
    """The file's bytes as UTF-8 without a BOM, the encoding, and whether the bytes are
    only *presumed* UTF-8 (not yet validated: pyarrow validates them while parsing,
    which spares decoding a large file twice)."""
    enc = _canonical_encoding(encoding) if encoding else None
    if data.startswith(_BOM8) and enc in (None, "utf-8", "utf-8-sig"):
        return data[3:], "utf-8-sig", True
    if enc in (None, "utf-8", "utf-8-sig") and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data, "utf-8", not data.isascii()
    text, enc = decode(data, encoding)
    return text.encode("utf-8"), enc, False
