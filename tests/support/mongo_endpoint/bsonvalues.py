"""BSON values: decoding, encoding, MongoDB equality and ordering, dotted paths.

Decoding goes through the bson C extension.  It cannot represent two things a real server
stores as sent, so those take a slower pure-Python path only when they occur:

* dates outside Python's datetime range (years 1-9999): a BSON date is any int64 count of
  milliseconds since the epoch, and MongoDB stores all of them (year 0 is a common MySQL zero
  date).  They decode to ``BsonDate`` and encode back to the same 8 bytes;
* documents are kept with the bytes as sent (storage.py), so duplicate field names, which a
  real server stores verbatim, come back verbatim; the decoded dict (last value wins) only
  serves matching.
"""

import datetime
import re
import struct

import bson
from bson import ObjectId
from bson.binary import Binary, UuidRepresentation
from bson.code import Code
from bson.codec_options import CodecOptions
from bson.decimal128 import Decimal128
from bson.errors import InvalidBSON, InvalidDocument
from bson.int64 import Int64
from bson.max_key import MaxKey
from bson.min_key import MinKey
from bson.raw_bson import RawBSONDocument
from bson.regex import Regex
from bson.timestamp import Timestamp

# Decoding: plain dicts (ordered), naive UTC datetimes (no shifting), every binary subtype kept
# as Binary/bytes (no UUID conversion, so subtypes 3 and 4 survive).
CODEC = CodecOptions(document_class=dict, tz_aware=False,
                     uuid_representation=UuidRepresentation.UNSPECIFIED)
RAW_CODEC = CodecOptions(document_class=RawBSONDocument,
                         uuid_representation=UuidRepresentation.UNSPECIFIED)

MISSING = object()
RE_TYPES = (Regex, type(re.compile("")))
EXACT_EQ_TYPES = frozenset([str, int, bool, ObjectId, datetime.datetime, bytes, type(None)])

EPOCH = datetime.datetime(1970, 1, 1)
_ONE_MS = datetime.timedelta(milliseconds=1)
_INT32 = struct.Struct("<i")
_INT64 = struct.Struct("<q")
unpack_int32 = _INT32.unpack_from
pack_int32 = _INT32.pack


class BsonDate(object):
    """A BSON date outside datetime's range, as its int64 milliseconds since the epoch."""

    __slots__ = ("ms",)

    def __init__(self, ms):
        self.ms = ms

    def __eq__(self, other):
        return type(other) is BsonDate and other.ms == self.ms

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash(("BsonDate", self.ms))

    def __repr__(self):
        return "BsonDate(%d)" % self.ms


def date_ms(v):
    """Milliseconds since the epoch of a datetime or BsonDate."""
    if type(v) is BsonDate:
        return v.ms
    return (v - EPOCH) // _ONE_MS


# --------------------------------------------------------------------------------------------
# Decoding

# Size of the value of each fixed-size element type; the others are computed in _value_end.
_FIXED = {0x01: 8, 0x06: 0, 0x07: 12, 0x08: 1, 0x09: 8, 0x0A: 0, 0x10: 4, 0x11: 8, 0x12: 8,
          0x13: 16, 0xFF: 0, 0x7F: 0}


def value_end(raw, t, pos):
    """Offset just past the value of an element of type t whose value starts at pos."""
    size = _FIXED.get(t)
    if size is not None:
        return pos + size
    if t in (0x02, 0x0D, 0x0E):  # string, code, symbol
        return pos + 4 + unpack_int32(raw, pos)[0]
    if t in (0x03, 0x04, 0x0F):  # document, array, code with scope
        return pos + unpack_int32(raw, pos)[0]
    if t == 0x05:  # binary
        return pos + 5 + unpack_int32(raw, pos)[0]
    if t == 0x0B:  # regex: two cstrings
        return raw.index(0, raw.index(0, pos) + 1) + 1
    if t == 0x0C:  # DBPointer
        return pos + 4 + unpack_int32(raw, pos)[0] + 12
    raise InvalidBSON("unknown BSON element type 0x%02x" % t)


def elements(raw, start=0, end=None):
    """Yield (type, key, element_start, value_start, element_end) for each element of the
    document at raw[start:end] (end defaults to the document's own length)."""
    if end is None:
        end = start + unpack_int32(raw, start)[0]
    pos = start + 4
    last = end - 1
    while pos < last:
        t = raw[pos]
        nul = raw.index(0, pos + 1)
        key = bytes(raw[pos + 1:nul]).decode("utf-8")
        vend = value_end(raw, t, nul + 1)
        if vend > last:
            raise InvalidBSON("element %r overruns its document" % key)
        yield t, key, pos, nul + 1, vend
        pos = vend
    if pos != last or raw[last] != 0:
        raise InvalidBSON("document not terminated by its length")


def _py_decode(raw, start, end, as_list):
    out = [] if as_list else {}
    for t, key, epos, vpos, vend in elements(raw, start, end):
        if t == 0x09:
            ms = _INT64.unpack_from(raw, vpos)[0]
            try:
                v = EPOCH + datetime.timedelta(milliseconds=ms)
            except OverflowError:
                v = BsonDate(ms)
        elif t == 0x03 or t == 0x04:
            v = _py_decode(raw, vpos, vend, t == 0x04)
        else:
            # Every other type through the C decoder, as a one-element document.
            one = pack_int32(vend - epos + 5) + bytes(raw[epos:vend]) + b"\x00"
            v = next(iter(bson.decode(one, CODEC).values()))
        if as_list:
            out.append(v)
        else:
            out[key] = v
    return out


def decode(raw):
    """A BSON document (bytes) as a dict."""
    try:
        return bson.decode(raw, CODEC)
    except InvalidBSON:
        # Dates beyond datetime's range, or a malformed document (which the pure-Python walk
        # refuses with InvalidBSON as well).
        return _py_decode(raw, 0, len(raw), False)


# --------------------------------------------------------------------------------------------
# Encoding


def _py_element(key, v):
    k = key.encode("utf-8") + b"\x00"
    t = type(v)
    if t is BsonDate:
        return b"\x09" + k + _INT64.pack(v.ms)
    if t is RawBSONDocument:
        return b"\x03" + k + v.raw
    if isinstance(v, dict):
        return b"\x03" + k + py_encode(v)
    if isinstance(v, (list, tuple)):
        return b"\x04" + k + py_encode({str(i): x for i, x in enumerate(v)})
    return bson.encode({key: v}, False, CODEC)[4:-1]


def py_encode(doc):
    body = b"".join(_py_element(k, v) for k, v in doc.items())
    return pack_int32(len(body) + 5) + body + b"\x00"


def encode(doc):
    """A dict as BSON bytes (BsonDate values included)."""
    try:
        return bson.encode(doc, False, CODEC)
    except InvalidDocument:
        return py_encode(doc)


def id_element(value):
    """The bytes of the element ``_id: value`` (written directly for the common _id types: an
    upsert needs one per new document)."""
    t = type(value)
    if t is ObjectId:
        return b"\x07_id\x00" + value.binary
    if t is int and -2147483648 <= value <= 2147483647:
        return b"\x10_id\x00" + pack_int32(value)
    if t is Int64:
        return b"\x12_id\x00" + _INT64.pack(value)
    if t is str:
        s = value.encode("utf-8")
        return b"\x02_id\x00" + pack_int32(len(s) + 1) + s + b"\x00"
    return encode({"_id": value})[4:-1]


def with_id_first(raw, id_elem):
    """raw (a document without _id) with the element id_elem put first."""
    return pack_int32(len(raw) + len(id_elem)) + id_elem + raw[4:]


def move_id_first(raw):
    """raw (a document holding _id, not first) with its _id element moved to the front."""
    for t, key, epos, _vpos, vend in elements(raw):
        if key == "_id":
            return raw[:4] + raw[epos:vend] + raw[4:epos] + raw[vend:]
    return raw


def has_duplicate_id(raw):
    """True when raw (a document holding _id) has more than one top-level _id field, which its
    decoded dict cannot show.  One occurrence of the bytes "_id\\0" settles it without a walk."""
    if raw.find(b"_id\x00") == raw.rfind(b"_id\x00"):
        return False
    return sum(1 for _t, key, _e, _v, _x in elements(raw) if key == "_id") > 1


# --------------------------------------------------------------------------------------------
# Equality, ordering, paths


def norm(v):
    """Hashable key for a BSON value, equal exactly when MongoDB's equality says so
    (numbers by value across int32/int64/double/decimal, strings exact, ...)."""
    t = type(v)
    if t is str:
        return ("s", v)
    if t is int or t is Int64:
        return ("n", int(v))
    if t is bool:
        return ("b", v)
    if t is float:
        return ("nan",) if v != v else ("n", v)
    if v is None:
        return ("null",)
    if t is Decimal128:
        d = v.to_decimal()
        return ("nan",) if d.is_nan() else ("n", d)
    if t is ObjectId:
        return ("oid", v.binary)
    if t is datetime.datetime:
        return ("d", v)
    if t is BsonDate:
        return ("d", v.ms)
    if t is bytes:
        return ("bin", 0, v)
    if t is Binary:
        return ("bin", v.subtype, bytes(v))
    if isinstance(v, dict):
        return ("doc", tuple((k, norm(x)) for k, x in v.items()))
    if isinstance(v, (list, tuple)):
        return ("arr", tuple(norm(x) for x in v))
    if t is Regex:
        return ("re", v.pattern, v.flags)
    if t is Timestamp:
        return ("ts", v.time, v.inc)
    if t is MinKey:
        return ("minkey",)
    if t is MaxKey:
        return ("maxkey",)
    if t is Code:
        return ("code", str(v), norm(v.scope) if v.scope is not None else None)
    try:
        hash(v)
        return ("x", t.__name__, v)
    except TypeError:
        return ("x", t.__name__, repr(v))


def strict_eq(a, b):
    """True when a and b would encode to identical BSON (types, key order, values)."""
    try:
        if a != b:  # cheap C-level rejection; equal values still need the type/order walk
            return False
    except Exception:  # noqa: BLE001 - exotic types: fall through to the walk
        pass
    return _strict_eq(a, b)


def _strict_eq(a, b):
    ta = type(a)
    if ta is not type(b):
        return False
    if ta is dict:
        if len(a) != len(b):
            return False
        for (ka, va), (kb, vb) in zip(a.items(), b.items()):
            if ka != kb or not _strict_eq(va, vb):
                return False
        return True
    if ta is list:
        return len(a) == len(b) and all(_strict_eq(x, y) for x, y in zip(a, b))
    if ta is float:
        if a != a:
            return b != b
        return a == b and struct.pack("<d", a) == struct.pack("<d", b)
    if ta is Decimal128:
        return a.bid == b.bid
    if ta is Binary:
        return a.subtype == b.subtype and bytes(a) == bytes(b)
    try:
        return bool(a == b)
    except Exception:  # pragma: no cover - exotic types
        return False


def sort_key(v):
    """Total order on BSON values following MongoDB's comparison/sort order."""
    t = type(v)
    if t is int or t is Int64:
        return (2, 1, int(v))
    if t is str:
        return (3, v)
    if t is float:
        return (2, 0) if v != v else (2, 1, v)
    if v is None or v is MISSING:
        return (1,)
    if t is Decimal128:
        d = v.to_decimal()
        return (2, 0) if d.is_nan() else (2, 1, d)
    if t is bool:
        return (8, v)
    if t is datetime.datetime or t is BsonDate:
        return (9, date_ms(v))
    if t is ObjectId:
        return (7, v.binary)
    if isinstance(v, dict):
        return (4, tuple((sort_key(x)[0], k, sort_key(x)) for k, x in v.items()))
    if isinstance(v, (list, tuple)):
        return (5, tuple(sort_key(x) for x in v))
    if t is bytes:
        return (6, len(v), 0, v)
    if t is Binary:
        return (6, len(v), v.subtype, bytes(v))
    if t is Timestamp:
        return (10, v.time, v.inc)
    if t in RE_TYPES:
        return (11, v.pattern, str(v.flags))
    if t is MinKey:
        return (-1,)
    if t is MaxKey:
        return (100,)
    return (12, t.__name__, repr(v))


def get_path(doc, path):
    """Value at a dotted path (arrays traversed like MongoDB does), or MISSING."""
    if "." not in path:
        if isinstance(doc, dict):
            return doc.get(path, MISSING)
        return MISSING
    cur = doc
    for part in path.split("."):
        if isinstance(cur, dict):
            cur = cur.get(part, MISSING)
            if cur is MISSING:
                return MISSING
        elif isinstance(cur, list):
            if part.isdigit() and int(part) < len(cur):
                cur = cur[int(part)]
            else:
                vals = [x.get(part, MISSING) for x in cur if isinstance(x, dict)]
                vals = [x for x in vals if x is not MISSING]
                if not vals:
                    return MISSING
                cur = vals
        else:
            return MISSING
    return cur


def set_path(doc, path, value):
    parts = path.split(".")
    cur = doc
    for p in parts[:-1]:
        nxt = cur.get(p)
        if not isinstance(nxt, dict):
            nxt = {}
            cur[p] = nxt
        cur = nxt
    cur[parts[-1]] = value


def fmt_value(v):
    """Render a value roughly like the MongoDB shell (for error messages)."""
    if isinstance(v, str):
        return '"%s"' % v
    if v is None or v is MISSING:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, ObjectId):
        return "ObjectId('%s')" % v
    if isinstance(v, Decimal128):
        return 'Decimal128("%s")' % v
    if isinstance(v, (datetime.datetime, BsonDate)):
        return "new Date(%d)" % date_ms(v)
    if isinstance(v, dict):
        return "{ " + ", ".join("%s: %s" % (k, fmt_value(x)) for k, x in v.items()) + " }"
    if isinstance(v, list):
        return "[ " + ", ".join(fmt_value(x) for x in v) + " ]"
    if isinstance(v, (bytes, Binary)):
        return "BinData(%d, %s)" % (getattr(v, "subtype", 0), bytes(v).hex().upper())
    return str(v)


def id_first(doc):
    """Return doc with _id as its first field (MongoDB always stores it first)."""
    if not doc or next(iter(doc)) == "_id" or "_id" not in doc:
        return doc
    out = {"_id": doc["_id"]}
    for k, v in doc.items():
        if k != "_id":
            out[k] = v
    return out


def is_plain(v):
    return not isinstance(v, (dict, list, tuple)) and not isinstance(v, RE_TYPES)


def is_eq_value(v):
    """True when v, as a filter value, means plain equality: a scalar or an embedded document
    that is not an operator object ({$gt: ...}).  Arrays and regexes are excluded."""
    t = type(v)
    if t is dict:
        return not v or next(iter(v))[:1] != "$"
    return t is not list and t is not tuple and t not in RE_TYPES


def now_ms():
    now = datetime.datetime.utcnow()
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
