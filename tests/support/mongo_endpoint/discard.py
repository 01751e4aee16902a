"""--discard-writes (benchmarks): insert/update/delete are acknowledged (n = number of
statements, nModified 0) without decoding or storing their documents, except for collections
whose name starts with "_" (the tool's _sync_metadata) or matches a --keep-writes-for glob."""

import fnmatch

from bson.raw_bson import RawBSONDocument

from .bsonvalues import RAW_CODEC
from .wire import split_sequence

# Writes to these collections are always stored (the tool's own bookkeeping such as
# _sync_metadata must survive a benchmark run).
DEFAULT_KEEP_PATTERNS = ("_*",)

_WRITE_FIELDS = {"insert": "documents", "update": "updates", "delete": "deletes"}


def discard_reply(msg, keep_patterns):
    """The reply to msg (a wire.OpMsg) when it is a write to be discarded, else None."""
    raw = RawBSONDocument(msg.body, RAW_CODEC)
    try:
        name = next(iter(raw))
    except StopIteration:
        return None
    field = _WRITE_FIELDS.get(name)
    if field is None:
        return None
    coll = raw[name]
    db = raw.get("$db")
    if not isinstance(coll, str) or not isinstance(db, str):
        return None
    full = "%s.%s" % (db, coll)
    for pat in keep_patterns:
        if fnmatch.fnmatchcase(full, pat) or fnmatch.fnmatchcase(coll, pat):
            return None
    n = 0
    inline = raw.get(field)
    if isinstance(inline, list):
        n += len(inline)
    for ident, seq in msg.sequences:
        if ident == field:
            n += len(split_sequence(seq))
    if name == "update":
        return {"n": n, "nModified": 0, "ok": 1.0}
    return {"n": n, "ok": 1.0}
