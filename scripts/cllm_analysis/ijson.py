"""ijson.py - JSON as the project writes and reads it: I-JSON (RFC 7493)
whatever bytes a string holds, with the reversible byte escape of
core/jsonw.h, and a strict reader. Standard library only (the measurement
scripts use it without numpy).

The escape (bench/RESULTS.md, "Strings in the results files"): a byte that
is not part of valid UTF-8, and each byte of a code point I-JSON forbids (a
noncharacter) or of one of the escape's own code points, is written as the
private-use code point U+10FE00 + byte (U+10FE80..U+10FEFF). Reading maps
each of them back to the byte; in Python that byte is held as Python's own
form of an undecodable byte, the lone surrogate U+DC00 + byte
(surrogateescape), so os.fsencode(path) gives back the bytes of a Latin-1
path, and writing such a string (dumps) escapes it again.

loads() is strict where Python's json module is not: the text must be valid
UTF-8; no \\u0000, no lone surrogate (escaped or not), no noncharacter, no
duplicate member name (json already refuses leading zeros). Each failure is
a ValueError that says what was wrong.
"""
import json
import re

BYTE_BASE = 0x10FE00

_NONCHAR = "\ufdd0-\ufdef" + "".join(f"{chr(p * 0x10000 + 0xFFFE)}{chr(p * 0x10000 + 0xFFFF)}" for p in range(17))
# what encode_str rewrites: the undecodable bytes (surrogateescape), the
# noncharacters and the escape's own code points
_TO_ESCAPE = re.compile(f"[\udc80-\udcff{_NONCHAR}\U0010fe80-\U0010feff]")
_FORBIDDEN = re.compile(f"[\x00\ud800-\udfff{_NONCHAR}]")
_ESCAPED = re.compile("[\U0010fe80-\U0010feff]")


def _escape(m):
    c = ord(m.group())
    if 0xDC80 <= c <= 0xDCFF:
        return chr(BYTE_BASE + c - 0xDC00)
    return "".join(chr(BYTE_BASE + b) for b in m.group().encode("utf-8"))


def encode_str(s):
    """A Python string (bytes allowed) as the string the writer puts in
    JSON: valid UTF-8 text with no code point I-JSON forbids, the bytes
    that were not valid UTF-8 (surrogateescape characters, in a str) as
    U+10FE00 + byte. The same text as core/jsonw.c jw_put_str writes."""
    if isinstance(s, str):
        try:
            b = s.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:      # a lone surrogate that is no escaped byte
            b = s.encode("utf-8", "surrogatepass")
    else:
        b = bytes(s)
    return _TO_ESCAPE.sub(_escape, b.decode("utf-8", "surrogateescape"))


def decode_str(s):
    """The reader's last step on a string: U+10FE80..U+10FEFF back to the
    bytes they stand for, held as surrogateescape characters."""
    return _ESCAPED.sub(lambda m: chr(0xDC00 + ord(m.group()) - BYTE_BASE), s)


def _encode_tree(o):
    if isinstance(o, dict):
        return {encode_str(str(k)): _encode_tree(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_encode_tree(v) for v in o]
    if isinstance(o, (str, bytes)):
        return encode_str(o)
    return o


def dumps(o, **kw):
    """json.dumps of o with every string (keys too) encoded by encode_str:
    the text is valid I-JSON whatever the strings held."""
    return json.dumps(_encode_tree(o), **kw)


def _pairs(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise ValueError(f"duplicate member name {k!r}")
        d[k] = v
    return d


def _check_decode(o, where):
    if isinstance(o, dict):
        return {_check_decode(k, where): _check_decode(v, where) for k, v in o.items()}
    if isinstance(o, list):
        return [_check_decode(v, where) for v in o]
    if isinstance(o, str):
        m = _FORBIDDEN.search(o)
        if m:
            c = ord(m.group())
            what = ("\\u0000 (it would cut the string short)" if c == 0 else
                    f"a lone surrogate U+{c:04X}" if 0xD800 <= c <= 0xDFFF else f"the noncharacter U+{c:04X}")
            raise ValueError(f"{where}: {what} in the string {o[:60]!r}")
        return decode_str(o)
    return o


def loads(text, where="JSON text"):
    """Parse one JSON value strictly (see the module docstring); text as
    bytes (checked as UTF-8) or str. Strings come back decoded."""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as e:
            raise ValueError(f"{where}: not UTF-8 (byte 0x{e.object[e.start]:02x} at offset {e.start})") from None
    try:
        v = json.loads(text, object_pairs_hook=_pairs)
    except json.JSONDecodeError as e:
        raise ValueError(f"{where}: {e}") from None
    return _check_decode(v, where)


def load_file(path):
    """The one JSON value in the file at path, strictly (ValueError names
    the file; OSError as open raises it)."""
    with open(path, "rb") as f:
        return loads(f.read(), str(path))


def load_lines(path):
    """Every non-blank line of a JSON Lines file, strictly, with the line
    number in the error: [(lineno, value or ValueError)] so a reader can
    choose to skip a torn last line."""
    out = []
    with open(path, "rb") as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                out.append((i, loads(line, f"{path} line {i}")))
            except ValueError as e:
                out.append((i, e))
    return out
