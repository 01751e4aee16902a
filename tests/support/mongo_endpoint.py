#!/usr/bin/python3
"""MongoDB wire-protocol endpoint for the mysql2mongo test suite.

A small MongoDB look-alike listening on loopback, used instead of a real
MongoDB server.  It speaks OP_MSG (including kind-1 document sequences) and
legacy OP_QUERY commands (for the driver handshake), stores data in memory and
uses mongomock for query matching, update operators, projection and
aggregation.  Equality lookups on ``_id`` and on unique indexes go through
hash indexes, so replacing or upserting documents by key costs O(1).

Usage:
    /usr/bin/python3 tests/support/mongo_endpoint.py --host 127.0.0.1 --port 0 \
        --port-file PATH [--discard-writes [--keep-writes-for PATTERN ...]]

The actual port is written to --port-file (atomically) once listening.  The
process runs until SIGTERM/SIGINT and then exits 0.

--discard-writes (benchmarks): insert/update/delete are acknowledged (n = number
of statements, nModified 0) without decoding or storing the documents, except
for collections whose name starts with "_" (the tool's _sync_metadata) or
matches a --keep-writes-for glob; all other commands work normally.

Supported commands: hello/isMaster/ismaster, ping, buildInfo, endSessions,
insert, update, delete, find, getMore, killCursors, aggregate, count,
distinct, createIndexes, dropIndexes, listIndexes, listCollections,
listDatabases, create, drop, dropDatabase, renameCollection, findAndModify.
Anything else is answered with CommandNotFound (code 59).

Wire framing is written directly with the ``bson`` module (mockupdb's server
model is one-request-at-a-time and too slow for driver pools); the layouts
follow mockupdb's OpMsg/OpQuery/OpReply implementations.
"""

import os
import signal

if __name__ == "__main__":
    # A stop request during start-up (the imports below take a while) must not be lost, even
    # when SIGINT was inherited as ignored (background jobs of a shell).
    def _stop_during_startup(signum, frame):
        os._exit(0)

    signal.signal(signal.SIGTERM, _stop_during_startup)
    signal.signal(signal.SIGINT, _stop_during_startup)

try:
    import bson as _bson_probe  # noqa: F401
    import mongomock as _mongomock_probe  # noqa: F401
    import pymongo as _pymongo_probe  # noqa: F401
except ImportError:
    # Run by an interpreter without Debian's python3-pymongo/python3-mongomock (e.g. a pyenv
    # python3 on PATH): re-run with the system interpreter, which has them.
    import os as _os
    import sys as _sys
    if __name__ == "__main__" and _os.path.exists("/usr/bin/python3") \
            and _os.path.realpath(_sys.executable) != _os.path.realpath("/usr/bin/python3"):
        _os.execv("/usr/bin/python3", ["/usr/bin/python3"] + _sys.argv)
    raise

import argparse  # noqa: E402
import copy  # noqa: E402
import datetime  # noqa: E402
import fnmatch  # noqa: E402
import itertools  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import socket  # noqa: E402
import struct  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402

import bson
from bson import ObjectId
from bson.binary import Binary, UuidRepresentation
from bson.code import Code
from bson.codec_options import CodecOptions
from bson.decimal128 import Decimal128
from bson.int64 import Int64
from bson.max_key import MaxKey
from bson.min_key import MinKey
from bson.raw_bson import RawBSONDocument
from bson.regex import Regex
from bson.timestamp import Timestamp

import mongomock
from mongomock import aggregate as mm_aggregate
from mongomock import filtering as mm_filtering

# --------------------------------------------------------------------------------------------
# Constants

OP_REPLY = 1
OP_QUERY = 2004
OP_COMPRESSED = 2012
OP_MSG = 2013

MSG_CHECKSUM_PRESENT = 1 << 0
MSG_MORE_TO_COME = 1 << 1

MAX_BSON_SIZE = 16 * 1024 * 1024
MAX_MESSAGE_SIZE = 48000000
MAX_WRITE_BATCH = 100000
MAX_WIRE_VERSION = 13
BATCH_BYTES = MAX_BSON_SIZE  # a reply batch holds at most this many bytes of documents
DEFAULT_FIRST_BATCH = 101
# With --discard-writes, writes to these collections are still stored (the tool's own
# bookkeeping such as _sync_metadata must survive a benchmark run).
DEFAULT_KEEP_PATTERNS = ("_*",)

VERSION = "5.0.0-mysql2mongo-test-endpoint"
VERSION_ARRAY = [5, 0, 0, 0]

# Decoding: plain dicts (ordered in Python 3.7+), naive UTC datetimes (no shifting),
# every binary subtype kept as Binary/bytes (no UUID conversion, so subtype 3/4 survive).
CODEC = CodecOptions(document_class=dict, tz_aware=False,
                     uuid_representation=UuidRepresentation.UNSPECIFIED)
RAW_CODEC = CodecOptions(document_class=RawBSONDocument,
                         uuid_representation=UuidRepresentation.UNSPECIFIED)

_UNPACK_INT = struct.Struct("<i").unpack_from
_UNPACK_UINT = struct.Struct("<I").unpack_from
_UNPACK_HEADER = struct.Struct("<iiii").unpack_from
_PACK_HEADER = struct.Struct("<iiii").pack
_PACK_REPLY_PREFIX = struct.Struct("<iqii").pack

CODE_NAMES = {
    1: "InternalError", 2: "BadValue", 9: "FailedToParse", 11: "UserNotFound",
    13: "Unauthorized", 14: "TypeMismatch", 20: "IllegalOperation", 26: "NamespaceNotFound",
    27: "IndexNotFound", 43: "CursorNotFound", 48: "NamespaceExists", 52: "DollarPrefixedFieldName",
    53: "InvalidIdField",
    59: "CommandNotFound", 66: "ImmutableField", 67: "CannotCreateIndex", 72: "InvalidOptions",
    73: "InvalidNamespace", 85: "IndexOptionsConflict", 86: "IndexKeySpecsConflict",
    115: "CommandNotSupported", 238: "NotImplemented", 11000: "DuplicateKey",
    40415: "Location40415", 40571: "Location40571",
}

_MISSING = object()
_RE_TYPES = (Regex, type(re.compile("")))
_GENERIC_FIELDS = frozenset(["$db", "lsid", "$readPreference", "writeConcern", "txnNumber",
                             "$clusterTime", "readConcern", "maxTimeMS", "comment", "apiVersion",
                             "apiStrict", "apiDeprecationErrors", "autocommit", "startTransaction"])


def log(msg):
    sys.stderr.write("mongo_endpoint: %s\n" % msg)
    sys.stderr.flush()


# --------------------------------------------------------------------------------------------
# mongomock patch: let comparisons ($gt/$lt/sort inside mongomock) handle Decimal128 by value.

_orig_bson_compare = mm_filtering.bson_compare


def _bson_compare(op, a, b, can_compare_types=True):
    if isinstance(a, Decimal128):
        a = a.to_decimal()
    if isinstance(b, Decimal128):
        b = b.to_decimal()
    return _orig_bson_compare(op, a, b, can_compare_types)


mm_filtering.bson_compare = _bson_compare


# --------------------------------------------------------------------------------------------
# Errors


class CmdError(Exception):
    """A command failure: {ok: 0, errmsg, code, codeName} (or a write error entry)."""

    def __init__(self, code, errmsg, **extra):
        Exception.__init__(self, errmsg)
        self.code = code
        self.errmsg = errmsg
        self.extra = extra

    def reply(self):
        r = {"ok": 0.0, "errmsg": self.errmsg, "code": self.code,
             "codeName": CODE_NAMES.get(self.code, "Location%d" % self.code)}
        r.update(self.extra)
        return r

    def write_error(self, index):
        r = {"index": index, "code": self.code, "errmsg": self.errmsg}
        r.update(self.extra)
        return r


def _write_reply(n, errs):
    """The reply to insert and delete: the count, the write errors if any, ok (a real server's order)."""
    r = {"n": n}
    if errs:
        r["writeErrors"] = errs
    r["ok"] = 1.0
    return r


def _translate_exception(exc):
    """Map an exception raised by mongomock (or our code) to a CmdError."""
    if isinstance(exc, CmdError):
        return exc
    if isinstance(exc, mongomock.OperationFailure):
        code = getattr(exc, "code", None) or 2
        if code == 11000:
            return CmdError(11000, "E11000 duplicate key error: %s" % exc)
        return CmdError(code, str(exc))
    if isinstance(exc, NotImplementedError):
        return CmdError(238, "not supported by the mysql2mongo test endpoint (mongomock): %s" % exc)
    if isinstance(exc, ValueError):
        return CmdError(9, str(exc))
    log("internal error: %s" % "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    return CmdError(2, "%s: %s" % (type(exc).__name__, exc))


# --------------------------------------------------------------------------------------------
# Value helpers


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


def get_path(doc, path):
    """Value at a dotted path (arrays traversed like MongoDB does), or _MISSING."""
    if "." not in path:
        if isinstance(doc, dict):
            return doc.get(path, _MISSING)
        return _MISSING
    cur = doc
    for part in path.split("."):
        if isinstance(cur, dict):
            cur = cur.get(part, _MISSING)
            if cur is _MISSING:
                return _MISSING
        elif isinstance(cur, list):
            if part.isdigit() and int(part) < len(cur):
                cur = cur[int(part)]
            else:
                vals = [x.get(part, _MISSING) for x in cur if isinstance(x, dict)]
                vals = [x for x in vals if x is not _MISSING]
                if not vals:
                    return _MISSING
                cur = vals
        else:
            return _MISSING
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


def sort_key(v):
    """Total order on BSON values following MongoDB's comparison/sort order."""
    t = type(v)
    if t is int or t is Int64:
        return (2, 1, int(v))
    if t is str:
        return (3, v)
    if t is float:
        return (2, 0) if v != v else (2, 1, v)
    if v is None or v is _MISSING:
        return (1,)
    if t is Decimal128:
        d = v.to_decimal()
        return (2, 0) if d.is_nan() else (2, 1, d)
    if t is bool:
        return (8, v)
    if t is datetime.datetime:
        return (9, v)
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
    if t in _RE_TYPES:
        return (11, v.pattern, str(v.flags))
    if t is MinKey:
        return (-1,)
    if t is MaxKey:
        return (100,)
    return (12, t.__name__, repr(v))


def sort_field_key(doc, path, descending):
    v = get_path(doc, path)
    if isinstance(v, list):
        if not v:
            return (0,)  # empty array sorts before null
        keys = [sort_key(x) for x in v]
        return max(keys) if descending else min(keys)
    return sort_key(v)


def sort_docs(docs, sort):
    """Stable sort of a list of documents by a MongoDB sort specification."""
    if not sort:
        return docs
    if not isinstance(sort, dict):
        raise CmdError(2, "sort must be an object")
    for field, direction in reversed(list(sort.items())):
        if isinstance(direction, dict):
            raise CmdError(238, "sort by %r is not supported by the mysql2mongo test endpoint"
                           % (direction,))
        try:
            desc = float(direction) < 0
        except (TypeError, ValueError):
            raise CmdError(2, "bad sort specification for field %s" % field)
        if field == "$natural":
            if desc:
                docs = list(reversed(docs))
            continue
        docs = sorted(docs, key=lambda d, f=field, r=desc: sort_field_key(d, f, r), reverse=desc)
    return docs


def fmt_value(v):
    """Render a value roughly like the MongoDB shell (for error messages)."""
    if isinstance(v, str):
        return '"%s"' % v
    if v is None or v is _MISSING:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, ObjectId):
        return "ObjectId('%s')" % v
    if isinstance(v, Decimal128):
        return 'Decimal128("%s")' % v
    if isinstance(v, datetime.datetime):
        return "new Date(%d)" % int((v - datetime.datetime(1970, 1, 1)).total_seconds() * 1000)
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


def _now_ms():
    now = datetime.datetime.utcnow()
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def is_plain(v):
    return not isinstance(v, (dict, list, tuple)) and not isinstance(v, _RE_TYPES)


def is_eq_value(v):
    """True when v, as a filter value, means plain equality: a scalar or an embedded document
    that is not an operator object ({$gt: ...}).  Arrays and regexes are excluded."""
    t = type(v)
    if t is dict:
        return not v or next(iter(v))[:1] != "$"
    return t is not list and t is not tuple and t not in _RE_TYPES


_EXACT_EQ_TYPES = frozenset([str, int, bool, ObjectId, datetime.datetime, bytes, type(None)])


def check_id_value(v):
    if isinstance(v, (list, tuple)):
        raise CmdError(53, "The '_id' value cannot be of type array")
    if isinstance(v, _RE_TYPES):
        raise CmdError(2, "can't use a regex for _id")


def seed_from_filter(q):
    """The document an upsert starts from: the filter's equality conditions."""
    out = {}

    def add(k, v):
        if k.startswith("$"):
            if k == "$and" and isinstance(v, list):
                for sub in v:
                    if isinstance(sub, dict):
                        for kk, vv in sub.items():
                            add(kk, vv)
            return
        if isinstance(v, dict) and v and all(kk.startswith("$") for kk in v):
            if len(v) == 1 and "$eq" in v:
                v = v["$eq"]
            else:
                return
        if isinstance(v, _RE_TYPES):
            return
        set_path(out, k, v)

    for k, v in q.items():
        add(k, v)
    return out


# --------------------------------------------------------------------------------------------
# Per-collection state (attached to mongomock's CollectionStore as ``m2m``)


class UniqueIndex(object):
    __slots__ = ("name", "fields", "key_pattern", "sparse", "partial", "map", "rev", "simple",
                 "single")

    def __init__(self, name, key_pattern, sparse=False, partial=None):
        self.name = name
        self.key_pattern = dict(key_pattern)
        self.fields = tuple(self.key_pattern)
        self.sparse = bool(sparse)
        self.partial = partial
        self.map = {}  # key tuple -> _id key of the owning document
        self.rev = {}  # _id key -> key tuple (what the document is indexed under)
        self.simple = not self.sparse and partial is None
        self.single = (self.fields[0] if self.simple and len(self.fields) == 1
                       and "." not in self.fields[0] else None)

    def key_for(self, doc):
        """The index key of doc, or None when doc is not in the index (sparse/partial)."""
        if self.single is not None:
            return (norm(doc.get(self.single)),)
        if self.partial is not None and not mm_filtering.filter_applies(self.partial, doc):
            return None
        vals = [get_path(doc, f) for f in self.fields]
        if self.sparse and all(v is _MISSING for v in vals):
            return None
        return tuple(norm(None if v is _MISSING else v) for v in vals)

    def add(self, key, idk):
        self.map[key] = idk
        self.rev[idk] = key

    def remove(self, idk):
        key = self.rev.pop(idk, None)
        if key is not None and self.map.get(key) == idk:
            del self.map[key]

    def clear(self):
        self.map.clear()
        self.rev.clear()

    def dup_error(self, ns, doc, prefix=""):
        kv = {}
        for f in self.fields:
            v = get_path(doc, f)
            kv[f] = None if v is _MISSING else v
        msg = "%sE11000 duplicate key error collection: %s index: %s dup key: %s" % (
            prefix, ns, self.name, fmt_value(kv))
        return CmdError(11000, msg, keyPattern=dict(self.key_pattern), keyValue=kv)


class CollState(object):
    def __init__(self, db, name):
        self.ns = "%s.%s" % (db, name)
        self.indexes = {}  # name -> spec (without v/key/name order guarantees)
        self.uniques = []  # UniqueIndex objects
        self.options = {}
        self.uuid = Binary(os.urandom(16), 4)
        self._fast = None  # cache: list of (fields, UniqueIndex) usable for equality lookups

    def fast_indexes(self):
        if self._fast is None:
            self._fast = [(ix.fields, ix) for ix in self.uniques if ix.simple]
        return self._fast

    def invalidate(self):
        self._fast = None


# --------------------------------------------------------------------------------------------
# The endpoint


class Cursor(object):
    __slots__ = ("id", "ns", "docs", "pos")

    def __init__(self, cid, ns, docs, pos):
        self.id = cid
        self.ns = ns
        self.docs = docs
        self.pos = pos


class Endpoint(object):
    def __init__(self, discard_writes=False, keep_patterns=()):
        self.lock = threading.RLock()
        self.client = mongomock.MongoClient()
        self.store = self.client._store
        self.scratch = mongomock.MongoClient()["__scratch__"]["__scratch__"]
        self.cursors = {}
        self.discard = discard_writes
        self.keep_patterns = list(keep_patterns)
        self.conn_ids = itertools.count(1)
        self.commands = {
            "hello": self.cmd_hello, "isMaster": self.cmd_hello, "ismaster": self.cmd_hello,
            "ping": self.cmd_ping, "buildInfo": self.cmd_build_info, "buildinfo": self.cmd_build_info,
            "endSessions": self.cmd_ping,
            "insert": self.cmd_insert, "update": self.cmd_update, "delete": self.cmd_delete,
            "find": self.cmd_find, "getMore": self.cmd_get_more, "killCursors": self.cmd_kill_cursors,
            "aggregate": self.cmd_aggregate, "count": self.cmd_count, "distinct": self.cmd_distinct,
            "createIndexes": self.cmd_create_indexes, "dropIndexes": self.cmd_drop_indexes,
            "deleteIndexes": self.cmd_drop_indexes, "listIndexes": self.cmd_list_indexes,
            "listCollections": self.cmd_list_collections, "listDatabases": self.cmd_list_databases,
            "create": self.cmd_create, "drop": self.cmd_drop, "dropDatabase": self.cmd_drop_database,
            "renameCollection": self.cmd_rename_collection,
            "findAndModify": self.cmd_find_and_modify, "findandmodify": self.cmd_find_and_modify,
        }

    # ---- storage helpers ---------------------------------------------------------------

    def _coll(self, db, name, create=False):
        """mongomock CollectionStore for db.name (None if it does not exist and not create)."""
        dbs = self.store._databases.get(db)
        st = dbs._collections.get(name) if dbs is not None else None
        if st is not None and not hasattr(st, "m2m"):
            # created lazily by mongomock (e.g. an aggregate $lookup): adopt it
            st.m2m = CollState(db, name)
            if st._documents:
                self._rekey(st)
        if create:
            if st is None:
                st = self.store[db][name]
                st.m2m = CollState(db, name)
            st.create()
            return st
        if st is None or not st.is_created:
            return None
        return st

    def _rekey(self, st):
        """Rebuild the _id keyed store and the unique index maps (raises on duplicates)."""
        cs = st.m2m
        items = list(st._documents.values())
        st._documents.clear()
        for ix in cs.uniques:
            ix.clear()
        for doc in items:
            self._insert_doc(st, id_first(doc))

    def _insert_doc(self, st, doc):
        """Insert a document (which has _id first) enforcing unique indexes."""
        cs = st.m2m
        _id = doc["_id"]
        idk = norm(_id)
        docs = st._documents
        if idk in docs:
            raise CmdError(11000, "E11000 duplicate key error collection: %s index: _id_ dup key: "
                           "{ _id: %s }" % (cs.ns, fmt_value(_id)),
                           keyPattern={"_id": 1}, keyValue={"_id": _id})
        keys = None
        if cs.uniques:
            keys = []
            for ix in cs.uniques:
                k = ix.key_for(doc)
                if k is not None and k in ix.map:
                    raise ix.dup_error(cs.ns, doc)
                keys.append(k)
            for ix, k in zip(cs.uniques, keys):
                if k is not None:
                    ix.add(k, idk)
        docs[idk] = doc
        return idk

    def _replace_doc(self, st, idk, old, new):
        cs = st.m2m
        if cs.uniques:
            newkeys = []
            for ix in cs.uniques:
                k = ix.key_for(new)
                if k is not None:
                    owner = ix.map.get(k)
                    if owner is not None and owner != idk:
                        raise ix.dup_error(cs.ns, new)
                newkeys.append(k)
            for ix, k in zip(cs.uniques, newkeys):
                if ix.rev.get(idk) != k:
                    ix.remove(idk)
                    if k is not None:
                        ix.add(k, idk)
        st._documents[idk] = new

    def _delete_doc(self, st, idk):
        cs = st.m2m
        del st._documents[idk]
        for ix in cs.uniques:
            ix.remove(idk)

    def _match(self, st, q, limit=None):
        """[(idk, doc)] matching filter q (natural order unless an index was used).

        Hash indexes answer a filter holding an equality (or $in) on _id or equalities on all
        fields of a (non-sparse, non-partial) unique index; the rest of the filter, if any, is
        checked with mongomock.  Other filters scan the collection."""
        if q is None:
            q = {}
        if not isinstance(q, dict):
            raise CmdError(14, "filter must be an object")
        if st is None or not st._documents:
            if q:
                mm_filtering.filter_applies(q, {})  # validate the filter like a real server
            return []
        docs = st._documents
        if not q:
            out = []
            for item in docs.items():
                out.append(item)
                if limit is not None and len(out) >= limit:
                    break
            return out
        fa = mm_filtering.filter_applies
        eq = {}  # field -> value for equality conditions usable as index keys
        ins = {}  # field -> list of values for {$in: [...]} conditions
        simple = True  # every condition is a top-level equality
        for k, v in q.items():
            if k[:1] == "$" or "." in k:
                simple = False
                if k[:1] == "$":
                    continue
            if is_eq_value(v):
                eq[k] = v
            elif type(v) is dict and len(v) == 1:
                (op, arg), = v.items()
                if op == "$eq" and is_eq_value(arg):
                    eq[k] = arg
                else:
                    simple = False
                    if op == "$in" and isinstance(arg, list) and all(is_eq_value(x) for x in arg):
                        ins[k] = arg
            else:
                simple = False
        if eq or ins:
            hits = None
            nfields = 0
            if "_id" in eq:
                hits = [norm(eq["_id"])]
                nfields = 1
            elif "_id" in ins:
                hits = self._in_hits(ins["_id"], lambda key: key)
                nfields = 1
            else:
                for fields, ix in st.m2m.fast_indexes():
                    if all(f in eq for f in fields):
                        hits = [ix.map.get(tuple(norm(eq[f]) for f in fields))]
                        nfields = len(fields)
                        break
                    if len(fields) == 1 and fields[0] in ins:
                        m = ix.map
                        hits = self._in_hits(ins[fields[0]], lambda key, m=m: m.get((key,)))
                        nfields = 1
                        break
            if hits is not None:
                out = []
                for hit in hits:
                    doc = docs.get(hit) if hit is not None else None
                    if doc is None:
                        continue
                    if len(q) > nfields and not fa(q, doc):
                        continue
                    out.append((hit, doc))
                    if limit is not None and len(out) >= limit:
                        break
                return out
        out = []
        if simple:
            # Equalities on top-level fields only: an exact matcher, with mongomock only for
            # documents holding arrays in those fields (element matching).
            conds = [(k, v, type(v), norm(v)) for k, v in eq.items()]
            for item in list(docs.items()):
                doc = item[1]
                for k, v, tv, nv in conds:
                    dv = doc.get(k)
                    tdv = type(dv)
                    if tdv is tv and tv in _EXACT_EQ_TYPES:
                        if dv == v:
                            continue
                        break
                    if tdv is list:
                        if fa({k: v}, doc):
                            continue
                        break
                    if norm(dv) != nv:
                        break
                else:
                    out.append(item)
                    if limit is not None and len(out) >= limit:
                        break
            return out
        for item in list(docs.items()):
            if fa(q, item[1]):
                out.append(item)
                if limit is not None and len(out) >= limit:
                    break
        return out

    @staticmethod
    def _in_hits(values, lookup):
        """Index hits for an $in list, in ascending key order (like an index scan)."""
        seen = set()
        keyed = []
        for v in values:
            key = norm(v)
            if key in seen:
                continue
            seen.add(key)
            keyed.append((sort_key(v), lookup(key)))
        keyed.sort(key=lambda t: t[0])
        return [h for _sk, h in keyed]

    def _project(self, doc, fields):
        if not fields:
            return doc
        if not isinstance(fields, dict):
            raise CmdError(2, "projection must be an object")
        try:
            out = self.scratch._copy_only_fields(doc, dict(fields), dict)
        except Exception as exc:  # noqa: BLE001
            raise _translate_exception(exc)
        # MongoDB keeps the stored field order (mongomock appends _id last).
        ordered = {}
        for k in doc:
            if k in out:
                ordered[k] = out[k]
        if len(ordered) != len(out):
            for k, v in out.items():
                if k not in ordered:
                    ordered[k] = v
        return ordered

    # ---- update machinery --------------------------------------------------------------

    @staticmethod
    def _update_kind(u):
        if type(u) is dict:
            if not u:
                return "replace"
            first = next(iter(u))
            if first[:1] != "$":
                return "replace"  # like MongoDB, the first field decides
            for k in u:
                if k[:1] != "$":
                    raise CmdError(9, "Unknown modifier: %s. Expected a valid update modifier or "
                                   "pipeline-style update specified as an array" % k)
            return "ops"
        if isinstance(u, list):
            return "pipeline"
        if isinstance(u, dict):
            return Endpoint._update_kind(dict(u))
        raise CmdError(9, "Update argument must be either an object or an array")

    def _apply_ops(self, db, doc, u, q, is_insert):
        """Apply update operators u to a copy of doc; returns the new document."""
        # Fast path: $set/$unset/$setOnInsert of top-level fields.
        fast = True
        for op, spec in u.items():
            if op not in ("$set", "$unset", "$setOnInsert") or not isinstance(spec, dict):
                fast = False
                break
            for k in spec:
                if "." in k or k.startswith("$") or k == "_id":
                    fast = False
                    break
            if not fast:
                break
        if fast:
            new = dict(doc)
            for op, spec in u.items():
                if op == "$set" or (op == "$setOnInsert" and is_insert):
                    new.update(spec)
                elif op == "$unset":
                    for k in spec:
                        new.pop(k, None)
            return new
        if is_insert and "$setOnInsert" in u:
            merged = {}
            for op, spec in u.items():
                if op == "$setOnInsert":
                    op = "$set"
                if op in merged and isinstance(spec, dict):
                    merged[op] = dict(merged[op], **spec)
                else:
                    merged[op] = spec
            u = merged
        elif "$setOnInsert" in u:
            u = {k: v for k, v in u.items() if k != "$setOnInsert"}
            if not u:
                return dict(doc)
        positional = any(".$" in k for spec in u.values() if isinstance(spec, dict) for k in spec)
        sst = self.scratch._store
        sst._documents.clear()
        work = copy.deepcopy(doc)
        sst._documents[0] = work
        try:
            self.scratch._update(q if positional and not is_insert else {}, u,
                                 upsert=False, multi=False)
        except Exception as exc:  # noqa: BLE001
            raise _translate_exception(exc)
        finally:
            result = sst._documents.get(0, work)
            sst._documents.clear()
        return result

    def _apply_pipeline(self, db, doc, pipeline):
        for stage in pipeline:
            if not isinstance(stage, dict) or len(stage) != 1:
                raise CmdError(9, "each update pipeline stage must be an object with one field")
            name = next(iter(stage))
            if name not in ("$addFields", "$set", "$project", "$unset", "$replaceRoot",
                            "$replaceWith"):
                raise CmdError(72, "%s is not allowed to be used within an update" % name)
        try:
            res = list(mm_aggregate.process_pipeline([copy.deepcopy(doc)], self.client[db],
                                                     pipeline, None))
        except Exception as exc:  # noqa: BLE001
            raise _translate_exception(exc)
        if len(res) != 1:
            raise CmdError(2, "update pipeline did not produce exactly one document")
        return res[0]

    def _compute_update(self, db, doc, u, kind, q):
        """New version of existing document doc after update u (never mutates doc)."""
        _id = doc.get("_id")
        if kind == "replace":
            new = {"_id": _id}
            new.update(u)
            if "_id" in u:
                if norm(u["_id"]) != norm(_id):
                    raise CmdError(66, "After applying the update, the (immutable) field '_id' "
                                   "was found to have been altered to _id: %s"
                                   % fmt_value(u["_id"]))
                new["_id"] = _id
            return new
        if kind == "ops":
            new = self._apply_ops(db, doc, u, q, False)
        else:
            new = self._apply_pipeline(db, doc, u)
        if "_id" not in new or norm(new["_id"]) != norm(_id):
            raise CmdError(66, "After applying the update, the (immutable) field '_id' was found "
                           "to have been altered to _id: %s" % fmt_value(new.get("_id")))
        return id_first(new)

    def _compute_upsert(self, db, q, u, kind):
        """The document an upsert inserts when nothing matched."""
        if kind == "replace":
            if "_id" in u:
                _id = u["_id"]
            else:
                seed = seed_from_filter(q) if "_id" in q else {}
                _id = seed.get("_id", _MISSING)
                if _id is _MISSING:
                    _id = ObjectId()
            new = {"_id": _id}
            for k, v in u.items():
                if k != "_id":
                    new[k] = v
            return new
        seed = seed_from_filter(q)
        if kind == "ops":
            new = self._apply_ops(db, seed, u, q, True)
        else:
            new = self._apply_pipeline(db, seed, u)
        if "_id" not in new:
            new = dict(new)
            new["_id"] = ObjectId()
        return id_first(new)

    def _update_stmt(self, db, name, stmt):
        """Execute one update statement. Returns (n, nModified, upserted_id or _MISSING)."""
        if not isinstance(stmt, dict):
            raise CmdError(14, "update statement must be an object")
        q = stmt.get("q", {})
        if q is None:
            q = {}
        u = stmt.get("u")
        if u is None:
            raise CmdError(9, "BSON field 'update.updates.u' is missing but a required field")
        upsert = bool(stmt.get("upsert", False))
        multi = bool(stmt.get("multi", False))
        if stmt.get("arrayFilters"):
            raise CmdError(238, "arrayFilters are not supported by the mysql2mongo test endpoint")
        self._check_collation(stmt.get("collation"))
        kind = self._update_kind(u)
        if kind == "replace" and multi:
            raise CmdError(9, "multi update is not supported for replacement-style update")
        st = self._coll(db, name)
        cands = self._match(st, q, None if multi else 1)
        n = 0
        nmod = 0
        for idk, doc in cands:
            new = self._compute_update(db, doc, u, kind, q)
            n += 1
            if not strict_eq(doc, new):
                self._replace_doc(st, idk, doc, new)
                nmod += 1
        if not cands and upsert:
            new = self._compute_upsert(db, q, u, kind)
            check_id_value(new["_id"])
            st = self._coll(db, name, create=True)
            self._insert_doc(st, new)
            return 1, 0, new["_id"]
        return n, nmod, _MISSING

    @staticmethod
    def _check_collation(collation):
        if collation and isinstance(collation, dict) and collation.get("locale") not in (None,
                                                                                           "simple"):
            raise CmdError(238, "collations are not supported by the mysql2mongo test endpoint")

    # ---- cursors -----------------------------------------------------------------------

    @staticmethod
    def _take_batch(docs, pos, count):
        out = []
        size = 0
        end = len(docs)
        while pos < end and (count is None or len(out) < count):
            raw = bson.encode(docs[pos], False, CODEC)
            if out and size + len(raw) > BATCH_BYTES:
                break
            out.append(RawBSONDocument(raw, RAW_CODEC))
            size += len(raw)
            pos += 1
        return out, pos

    def _cursor_reply(self, ns, docs, batch_size, single_batch=False):
        if batch_size is None:
            count = DEFAULT_FIRST_BATCH
        else:
            count = batch_size
        batch, pos = self._take_batch(docs, 0, count)
        cid = 0
        if pos < len(docs) and not single_batch:
            cid = random.getrandbits(62) + 1
            self.cursors[cid] = Cursor(cid, ns, docs, pos)
        return {"cursor": {"firstBatch": batch, "id": Int64(cid), "ns": ns}, "ok": 1.0}

    @staticmethod
    def _batch_size(cmd, field="batchSize", where=None):
        bs = (where if where is not None else cmd).get(field)
        if bs is None:
            return None
        try:
            bs = int(bs)
        except (TypeError, ValueError):
            raise CmdError(14, "batchSize must be a number")
        if bs < 0:
            raise CmdError(2, "batchSize value must be non-negative, but received: %d" % bs)
        return bs

    # ---- command dispatch --------------------------------------------------------------

    def execute(self, db, cmd, conn):
        if not cmd:
            return CmdError(59, "no such command: ''").reply()
        name = next(iter(cmd))
        handler = self.commands.get(name)
        if handler is None:
            return CmdError(59, "command '%s' not supported by the mysql2mongo test endpoint"
                            % name).reply()
        try:
            return handler(db, cmd, conn)
        except Exception as exc:  # noqa: BLE001
            return _translate_exception(exc).reply()

    @staticmethod
    def _coll_name(cmd, name):
        v = cmd.get(name)
        if not isinstance(v, str) or not v:
            raise CmdError(73, "collection name has invalid type %s" % type(v).__name__
                           if not isinstance(v, str) else "Invalid namespace specified")
        return v

    # ---- handshake & misc --------------------------------------------------------------

    def cmd_hello(self, db, cmd, conn):
        name = next(iter(cmd))
        r = {}
        if cmd.get("helloOk"):
            r["helloOk"] = True
        if name == "hello":
            r["isWritablePrimary"] = True
        else:
            r["ismaster"] = True
        r.update({
            "maxBsonObjectSize": MAX_BSON_SIZE,
            "maxMessageSizeBytes": MAX_MESSAGE_SIZE,
            "maxWriteBatchSize": MAX_WRITE_BATCH,
            "localTime": _now_ms(),
            "logicalSessionTimeoutMinutes": 30,
            "connectionId": conn.get("id", 0),
            "minWireVersion": 0,
            "maxWireVersion": MAX_WIRE_VERSION,
            "readOnly": False,
            "ok": 1.0,
        })
        return r

    def cmd_ping(self, db, cmd, conn):
        return {"ok": 1.0}

    def cmd_build_info(self, db, cmd, conn):
        return {"version": VERSION, "gitVersion": "0000000000000000000000000000000000000000",
                "versionArray": list(VERSION_ARRAY), "bits": 64, "debug": False,
                "maxBsonObjectSize": MAX_BSON_SIZE, "storageEngines": ["mysql2mongo-test"],
                "javascriptEngine": "none", "ok": 1.0}

    # ---- writes ------------------------------------------------------------------------

    def cmd_insert(self, db, cmd, conn):
        name = self._coll_name(cmd, "insert")
        docs = cmd.get("documents") or []
        ordered = cmd.get("ordered", True)
        n = 0
        errs = []
        with self.lock:
            st = self._coll(db, name, create=True)
            for i, doc in enumerate(docs):
                try:
                    if not isinstance(doc, dict):
                        raise CmdError(14, "documents must be objects")
                    if "_id" in doc:
                        check_id_value(doc["_id"])
                        doc = id_first(doc)
                    else:
                        d = {"_id": ObjectId()}
                        d.update(doc)
                        doc = d
                    self._insert_doc(st, doc)
                    n += 1
                except Exception as exc:  # noqa: BLE001
                    errs.append(_translate_exception(exc).write_error(i))
                    if ordered:
                        break
        return _write_reply(n, errs)

    def cmd_update(self, db, cmd, conn):
        name = self._coll_name(cmd, "update")
        stmts = cmd.get("updates") or []
        ordered = cmd.get("ordered", True)
        n = 0
        nmod = 0
        upserted = []
        errs = []
        with self.lock:
            for i, stmt in enumerate(stmts):
                try:
                    sn, smod, up = self._update_stmt(db, name, stmt)
                    n += sn
                    nmod += smod
                    if up is not _MISSING:
                        upserted.append({"index": i, "_id": up})
                except Exception as exc:  # noqa: BLE001
                    errs.append(_translate_exception(exc).write_error(i))
                    if ordered:
                        break
        r = {"n": n, "nModified": nmod}
        if upserted:
            r["upserted"] = upserted
        if errs:
            r["writeErrors"] = errs
        r["ok"] = 1.0
        return r

    def cmd_delete(self, db, cmd, conn):
        name = self._coll_name(cmd, "delete")
        stmts = cmd.get("deletes") or []
        ordered = cmd.get("ordered", True)
        n = 0
        errs = []
        with self.lock:
            for i, stmt in enumerate(stmts):
                try:
                    if not isinstance(stmt, dict):
                        raise CmdError(14, "delete statement must be an object")
                    q = stmt.get("q", {})
                    limit = stmt.get("limit", 0)
                    if limit not in (0, 1):
                        raise CmdError(9, "The limit field in delete objects must be 0 or 1. "
                                       "Got %s" % limit)
                    self._check_collation(stmt.get("collation"))
                    st = self._coll(db, name)
                    for idk, _doc in self._match(st, q, 1 if limit == 1 else None):
                        self._delete_doc(st, idk)
                        n += 1
                except Exception as exc:  # noqa: BLE001
                    errs.append(_translate_exception(exc).write_error(i))
                    if ordered:
                        break
        return _write_reply(n, errs)

    def cmd_find_and_modify(self, db, cmd, conn):
        name = self._coll_name(cmd, next(iter(cmd)))
        q = cmd.get("query") or {}
        sort = cmd.get("sort")
        remove = bool(cmd.get("remove", False))
        u = cmd.get("update")
        new = bool(cmd.get("new", False))
        fields = cmd.get("fields")
        upsert = bool(cmd.get("upsert", False))
        if cmd.get("arrayFilters"):
            raise CmdError(238, "arrayFilters are not supported by the mysql2mongo test endpoint")
        self._check_collation(cmd.get("collation"))
        if remove and u is not None:
            raise CmdError(9, "Cannot specify both an update and remove=true")
        if not remove and u is None:
            raise CmdError(9, "Either an update or remove=true must be specified")
        if remove and new:
            raise CmdError(9, "Cannot specify both new=true and remove=true; 'remove' always "
                           "returns the deleted document")
        if remove and upsert:
            raise CmdError(9, "Cannot specify both upsert=true and remove=true")
        kind = None if remove else self._update_kind(u)
        with self.lock:
            st = self._coll(db, name)
            cands = self._match(st, q, None if sort else 1)
            if sort and cands:
                idx = {id(doc): idk for idk, doc in cands}
                first = sort_docs([doc for _idk, doc in cands], sort)[0]
                cands = [(idx[id(first)], first)]
            if cands:
                idk, doc = cands[0]
                if remove:
                    self._delete_doc(st, idk)
                    return {"lastErrorObject": {"n": 1}, "value": self._project(doc, fields),
                            "ok": 1.0}
                newdoc = self._compute_update(db, doc, u, kind, q)
                if not strict_eq(doc, newdoc):
                    self._replace_doc(st, idk, doc, newdoc)
                return {"lastErrorObject": {"n": 1, "updatedExisting": True},
                        "value": self._project(newdoc if new else doc, fields), "ok": 1.0}
            if remove:
                return {"lastErrorObject": {"n": 0}, "value": None, "ok": 1.0}
            if not upsert:
                return {"lastErrorObject": {"n": 0, "updatedExisting": False}, "value": None,
                        "ok": 1.0}
            newdoc = self._compute_upsert(db, q, u, kind)
            check_id_value(newdoc["_id"])
            st = self._coll(db, name, create=True)
            self._insert_doc(st, newdoc)
            return {"lastErrorObject": {"n": 1, "updatedExisting": False,
                                        "upserted": newdoc["_id"]},
                    "value": self._project(newdoc, fields) if new else None, "ok": 1.0}

    # ---- reads -------------------------------------------------------------------------

    def cmd_find(self, db, cmd, conn):
        name = self._coll_name(cmd, "find")
        q = cmd.get("filter") or {}
        sort = cmd.get("sort")
        fields = cmd.get("projection")
        skip = int(cmd.get("skip") or 0)
        limit = int(cmd.get("limit") or 0)
        if skip < 0:
            raise CmdError(2, "skip value must be non-negative, but received: %d" % skip)
        if limit < 0:
            raise CmdError(2, "limit value must be non-negative, but received: %d" % limit)
        batch_size = self._batch_size(cmd)
        single = bool(cmd.get("singleBatch", False))
        self._check_collation(cmd.get("collation"))
        with self.lock:
            st = self._coll(db, name)
            docs = [doc for _idk, doc in self._match(st, q, None if sort else
                                                     (skip + limit if limit else None))]
            docs = sort_docs(docs, sort)
            if skip:
                docs = docs[skip:]
            if limit:
                docs = docs[:limit]
                if batch_size is not None and batch_size > limit:
                    batch_size = limit
            if fields:
                docs = [self._project(d, fields) for d in docs]
            return self._cursor_reply("%s.%s" % (db, name), docs, batch_size, single)

    def cmd_get_more(self, db, cmd, conn):
        cid = cmd.get("getMore")
        if not isinstance(cid, int):
            raise CmdError(14, "getMore cursor id must be a long")
        coll = cmd.get("collection")
        batch_size = self._batch_size(cmd)
        with self.lock:
            cur = self.cursors.get(int(cid))
            if cur is None:
                raise CmdError(43, "cursor id %d not found" % cid)
            if cur.ns != "%s.%s" % (db, coll):
                raise CmdError(13, "Requested getMore on namespace '%s.%s', but cursor belongs to "
                               "a different namespace %s" % (db, coll, cur.ns))
            batch, cur.pos = self._take_batch(cur.docs, cur.pos, batch_size or None)
            rid = cur.id
            if cur.pos >= len(cur.docs):
                del self.cursors[cur.id]
                rid = 0
            return {"cursor": {"nextBatch": batch, "id": Int64(rid), "ns": cur.ns}, "ok": 1.0}

    def cmd_kill_cursors(self, db, cmd, conn):
        ids = cmd.get("cursors") or []
        killed, missing = [], []
        with self.lock:
            for cid in ids:
                if self.cursors.pop(int(cid), None) is not None:
                    killed.append(Int64(cid))
                else:
                    missing.append(Int64(cid))
        return {"cursorsKilled": killed, "cursorsNotFound": missing, "cursorsAlive": [],
                "cursorsUnknown": [], "ok": 1.0}

    def cmd_count(self, db, cmd, conn):
        name = self._coll_name(cmd, "count")
        q = cmd.get("query") or {}
        skip = int(cmd.get("skip") or 0)
        limit = int(cmd.get("limit") or 0)
        with self.lock:
            st = self._coll(db, name)
            if not q:
                n = len(st._documents) if st is not None else 0
            else:
                n = len(self._match(st, q))
        n = max(n - skip, 0)
        if limit:
            n = min(n, abs(limit))
        return {"n": n, "ok": 1.0}

    def cmd_distinct(self, db, cmd, conn):
        name = self._coll_name(cmd, "distinct")
        key = cmd.get("key")
        if not isinstance(key, str):
            raise CmdError(14, "BSON field 'distinct.key' is the wrong type")
        q = cmd.get("query") or {}
        seen = set()
        values = []
        with self.lock:
            st = self._coll(db, name)
            for _idk, doc in self._match(st, q):
                v = get_path(doc, key)
                if v is _MISSING:
                    continue
                for x in (v if isinstance(v, list) else [v]):
                    k = norm(x)
                    if k not in seen:
                        seen.add(k)
                        values.append(x)
        return {"values": values, "ok": 1.0}

    def cmd_aggregate(self, db, cmd, conn):
        name = cmd.get("aggregate")
        if not isinstance(name, str) or not name:
            raise CmdError(238, "collection-less aggregate is not supported by the mysql2mongo "
                           "test endpoint")
        pipeline = cmd.get("pipeline")
        if not isinstance(pipeline, list):
            raise CmdError(14, "'pipeline' option must be specified as an array")
        if cmd.get("explain"):
            raise CmdError(238, "explain is not supported by the mysql2mongo test endpoint")
        if "cursor" not in cmd:
            raise CmdError(9, "The 'cursor' option is required, except for aggregate with the "
                           "explain argument")
        batch_size = self._batch_size(cmd, where=cmd.get("cursor") or {})
        self._check_collation(cmd.get("collation"))
        out_target = None
        stages = list(pipeline)
        if stages and isinstance(stages[-1], dict) and "$out" in stages[-1]:
            out_target = stages.pop()["$out"]
            if isinstance(out_target, dict):
                out_db, out_coll = out_target.get("db", db), out_target.get("coll")
            else:
                out_db, out_coll = db, out_target
            if not isinstance(out_coll, str) or not out_coll:
                raise CmdError(73, "$out needs a collection name")
        for stage in stages:
            if isinstance(stage, dict) and ("$out" in stage or "$merge" in stage):
                raise CmdError(238, "$merge (and $out not in last position) are not supported "
                               "by the mysql2mongo test endpoint")
        with self.lock:
            st = self._coll(db, name)
            # A leading $match uses the same (index-accelerated) matcher as find.
            q = {}
            if stages and isinstance(stages[0], dict) and len(stages[0]) == 1 \
                    and "$match" in stages[0] and isinstance(stages[0]["$match"], dict):
                q = stages.pop(0)["$match"]
            matched = [doc for _idk, doc in self._match(st, q)]
            # Fast path for countDocuments: [$match, ($skip), ($limit), {$group: {_id: const,
            # n: {$sum: 1}}}]
            while stages and isinstance(stages[0], dict) and len(stages[0]) == 1 \
                    and ("$skip" in stages[0] or "$limit" in stages[0]) \
                    and type(next(iter(stages[0].values()))) in (int, Int64) \
                    and len(stages) > 1:
                (op, val), = stages[0].items()
                if op == "$skip" and val >= 0:
                    matched = matched[val:]
                elif op == "$limit" and val > 0:
                    matched = matched[:val]
                else:
                    break
                stages.pop(0)
            res = None
            if len(stages) == 1 and out_target is None and isinstance(stages[0], dict) \
                    and list(stages[0]) == ["$group"] and isinstance(stages[0]["$group"], dict) \
                    and len(stages[0]["$group"]) == 2 and "_id" in stages[0]["$group"]:
                group = stages[0]["$group"]
                gid = group["_id"]
                (fname, acc), = [(k, v) for k, v in group.items() if k != "_id"]
                if is_plain(gid) and not (isinstance(gid, str) and gid.startswith("$")) \
                        and acc == {"$sum": 1} and type(acc["$sum"]) is int:
                    res = [{"_id": gid, fname: len(matched)}] if matched else []
            if res is None:
                in_docs = [copy.deepcopy(d) for d in matched]
                try:
                    res = list(mm_aggregate.process_pipeline(in_docs, self.client[db], stages,
                                                             None))
                except Exception as exc:  # noqa: BLE001
                    raise _translate_exception(exc)
            if out_target is not None:
                tst = self._coll(out_db, out_coll, create=True)
                saved = list(tst._documents.values())
                tst._documents.clear()
                for ix in tst.m2m.uniques:
                    ix.clear()
                try:
                    for d in res:
                        if "_id" not in d:
                            d = dict(d, _id=ObjectId())
                        self._insert_doc(tst, id_first(d))
                except CmdError:
                    tst._documents.clear()
                    for ix in tst.m2m.uniques:
                        ix.clear()
                    for d in saved:
                        self._insert_doc(tst, d)
                    raise
                res = []
            return self._cursor_reply("%s.%s" % (db, name), res, batch_size)

    # ---- indexes -----------------------------------------------------------------------

    def cmd_create_indexes(self, db, cmd, conn):
        name = self._coll_name(cmd, "createIndexes")
        specs = cmd.get("indexes")
        if not isinstance(specs, list) or not specs:
            raise CmdError(2, "Must specify at least one index to create")
        with self.lock:
            existed = self._coll(db, name) is not None
            st = self._coll(db, name, create=True)
            cs = st.m2m
            before = len(cs.indexes) + 1
            to_add = []
            for spec in specs:
                if not isinstance(spec, dict):
                    raise CmdError(14, "index specification must be an object")
                key = spec.get("key")
                if not isinstance(key, dict) or not key:
                    raise CmdError(67, "Error in specification %s :: caused by :: The 'key' field "
                                   "must be a non-empty object" % fmt_value(spec))
                iname = spec.get("name")
                if not isinstance(iname, str) or not iname:
                    iname = "_".join("%s_%s" % (k, v) for k, v in key.items())
                self._check_collation(spec.get("collation"))
                clean = {"key": dict(key), "name": iname}
                for k, v in spec.items():
                    if k not in ("key", "name", "v", "ns", "background"):
                        clean[k] = v
                if "unique" in clean and not clean["unique"]:
                    del clean["unique"]
                if "sparse" in clean and not clean["sparse"]:
                    del clean["sparse"]
                if list(key.items()) == [("_id", 1)] or iname == "_id_":
                    if iname != "_id_" or list(norm(key)) != list(norm({"_id": 1})):
                        raise CmdError(86, "Index with name: %s already exists with a different "
                                       "name or key" % iname)
                    continue
                existing = cs.indexes.get(iname)
                if existing is not None:
                    if norm(existing["key"]) != norm(clean["key"]):
                        raise CmdError(86, "An existing index has the same name as the requested "
                                       "index but a different key. Requested index: %s, existing "
                                       "index: %s" % (fmt_value(clean), fmt_value(existing)))
                    if norm(existing) != norm(clean):
                        raise CmdError(85, "An existing index has the same name as the requested "
                                       "index but different options. Requested index: %s, "
                                       "existing index: %s" % (fmt_value(clean),
                                                               fmt_value(existing)))
                    continue
                same_key = [n for n, s in cs.indexes.items() if norm(s["key"]) == norm(clean["key"])]
                if same_key:
                    raise CmdError(85, "Index already exists with a different name: %s"
                                   % same_key[0])
                if any(a["name"] == iname for a in to_add):
                    continue
                to_add.append(clean)
            built = []  # all indexes of the command are built before any is committed
            for clean in to_add:
                if clean.get("unique"):
                    ix = UniqueIndex(clean["name"], clean["key"], clean.get("sparse"),
                                     clean.get("partialFilterExpression"))
                    try:
                        for idk, doc in st._documents.items():
                            k = ix.key_for(doc)
                            if k is None:
                                continue
                            if k in ix.map:
                                raise ix.dup_error(
                                    cs.ns, doc,
                                    prefix="Index build failed: %s: Collection %s :: caused by :: "
                                    % (ObjectId(), cs.ns))
                            ix.add(k, idk)
                    except CmdError:
                        raise
                    except Exception as exc:  # noqa: BLE001 - e.g. a bad partialFilterExpression
                        raise CmdError(67, "Error in specification %s :: caused by :: %s"
                                       % (fmt_value(clean), _translate_exception(exc).errmsg))
                    built.append(ix)
            cs.uniques.extend(built)
            for clean in to_add:
                cs.indexes[clean["name"]] = clean
            cs.invalidate()
            after = len(cs.indexes) + 1
            r = {"numIndexesBefore": before, "numIndexesAfter": after,
                 "createdCollectionAutomatically": not existed}
            if not to_add:
                r["note"] = "all indexes already exist"
            r["ok"] = 1.0
            return r

    def cmd_drop_indexes(self, db, cmd, conn):
        name = self._coll_name(cmd, next(iter(cmd)))
        which = cmd.get("index")
        with self.lock:
            st = self._coll(db, name)
            if st is None:
                raise CmdError(26, "ns not found %s.%s" % (db, name))
            cs = st.m2m
            was = len(cs.indexes) + 1
            if which == "*":
                names = list(cs.indexes)
            elif isinstance(which, str):
                names = [which]
            elif isinstance(which, list):
                names = list(which)
            elif isinstance(which, dict):
                names = [n for n, s in cs.indexes.items() if norm(s["key"]) == norm(which)]
                if not names:
                    raise CmdError(27, "can't find index with key: %s" % fmt_value(which))
            else:
                raise CmdError(14, "dropIndexes 'index' must be a string, array or object")
            for n in names:
                if n == "_id_":
                    raise CmdError(72, "cannot drop _id index")
                if n not in cs.indexes:
                    raise CmdError(27, "index not found with name [%s]" % n)
            for n in names:
                del cs.indexes[n]
            cs.uniques = [ix for ix in cs.uniques if ix.name in cs.indexes]
            cs.invalidate()
            return {"nIndexesWas": was, "ok": 1.0}

    def cmd_list_indexes(self, db, cmd, conn):
        name = self._coll_name(cmd, "listIndexes")
        batch_size = self._batch_size(cmd, where=cmd.get("cursor") or {})
        with self.lock:
            st = self._coll(db, name)
            if st is None:
                raise CmdError(26, "ns does not exist: %s.%s" % (db, name))
            out = [{"v": 2, "key": {"_id": 1}, "name": "_id_"}]
            for spec in st.m2m.indexes.values():
                d = {"v": 2, "key": spec["key"], "name": spec["name"]}
                for k, v in spec.items():
                    if k not in d:
                        d[k] = v
                out.append(d)
            return self._cursor_reply("%s.$cmd.listIndexes.%s" % (db, name), out, batch_size)

    # ---- collections & databases -------------------------------------------------------

    def cmd_list_collections(self, db, cmd, conn):
        q = cmd.get("filter") or {}
        name_only = bool(cmd.get("nameOnly", False))
        batch_size = self._batch_size(cmd, where=cmd.get("cursor") or {})
        out = []
        with self.lock:
            dbs = self.store._databases.get(db)
            names = [n for n, s in dbs._collections.items()
                     if s.is_created and hasattr(s, "m2m")] if dbs is not None else []
            for n in names:
                st = dbs._collections[n]
                info = {"name": n, "type": "collection", "options": dict(st.m2m.options),
                        "info": {"readOnly": False, "uuid": st.m2m.uuid},
                        "idIndex": {"v": 2, "key": {"_id": 1}, "name": "_id_"}}
                if q:
                    try:
                        if not mm_filtering.filter_applies(q, info):
                            continue
                    except Exception as exc:  # noqa: BLE001
                        raise _translate_exception(exc)
                if name_only:
                    info = {"name": n, "type": "collection"}
                out.append(info)
            return self._cursor_reply("%s.$cmd.listCollections" % db, out, batch_size)

    def cmd_list_databases(self, db, cmd, conn):
        if db != "admin":
            raise CmdError(13, "listDatabases may only be run against the admin database.")
        q = cmd.get("filter") or {}
        out = []
        with self.lock:
            for n, dbs in self.store._databases.items():
                if not any(s.is_created for s in dbs._collections.values()):
                    continue
                info = {"name": n, "sizeOnDisk": 4096, "empty": False}
                if q and not mm_filtering.filter_applies(q, info):
                    continue
                out.append({"name": n} if cmd.get("nameOnly") else info)
        r = {"databases": out}
        if not cmd.get("nameOnly"):
            r["totalSize"] = 4096 * len(out)
        r["ok"] = 1.0
        return r

    def cmd_create(self, db, cmd, conn):
        name = self._coll_name(cmd, "create")
        for unsupported in ("viewOn", "pipeline", "timeseries", "capped", "validator",
                            "clusteredIndex"):
            if cmd.get(unsupported):
                raise CmdError(238, "create with '%s' is not supported by the mysql2mongo test "
                               "endpoint" % unsupported)
        self._check_collation(cmd.get("collation"))
        with self.lock:
            if self._coll(db, name) is not None:
                raise CmdError(48, "Collection already exists. NS: %s.%s" % (db, name))
            st = self._coll(db, name, create=True)
            st.m2m.options = {k: v for k, v in list(cmd.items())[1:] if k not in _GENERIC_FIELDS}
        return {"ok": 1.0}

    def cmd_drop(self, db, cmd, conn):
        name = self._coll_name(cmd, "drop")
        with self.lock:
            st = self._coll(db, name)
            if st is None:
                raise CmdError(26, "ns not found")
            n = len(st.m2m.indexes) + 1
            del self.store._databases[db]._collections[name]
            self._kill_ns_cursors("%s.%s" % (db, name))
        return {"nIndexesWas": n, "ns": "%s.%s" % (db, name), "ok": 1.0}

    def _kill_ns_cursors(self, ns):
        for cid in [c for c, cur in self.cursors.items() if cur.ns == ns]:
            del self.cursors[cid]

    def cmd_drop_database(self, db, cmd, conn):
        with self.lock:
            self.store._databases.pop(db, None)
            prefix = db + "."
            for cid in [c for c, cur in self.cursors.items() if cur.ns.startswith(prefix)]:
                del self.cursors[cid]
        return {"dropped": db, "ok": 1.0}

    def cmd_rename_collection(self, db, cmd, conn):
        if db != "admin":
            raise CmdError(13, "renameCollection may only be run against the admin database.")
        src = cmd.get("renameCollection")
        dst = cmd.get("to")
        drop_target = bool(cmd.get("dropTarget", False))
        for ns in (src, dst):
            if not isinstance(ns, str) or "." not in ns or ns.startswith(".") or ns.endswith("."):
                raise CmdError(73, "Invalid namespace specified '%s'" % (ns,))
        sdb, sname = src.split(".", 1)
        ddb, dname = dst.split(".", 1)
        with self.lock:
            sst = self._coll(sdb, sname)
            if sst is None:
                raise CmdError(26, "Source collection %s does not exist" % src)
            if src == dst:
                raise CmdError(20, "Can't rename a collection to itself")
            if self._coll(ddb, dname) is not None:
                if not drop_target:
                    raise CmdError(48, "target namespace exists")
                del self.store._databases[ddb]._collections[dname]
                self._kill_ns_cursors(dst)
            del self.store._databases[sdb]._collections[sname]
            self._kill_ns_cursors(src)
            self.store[ddb]._collections[dname] = sst
            sst.name = dname
            sst.m2m.ns = dst
        return {"ok": 1.0}


# --------------------------------------------------------------------------------------------
# Wire protocol


class Server(object):
    def __init__(self, endpoint):
        self.ep = endpoint
        self.req_ids = itertools.count(1)

    def serve_connection(self, sock):
        conn = {"id": next(self.ep.conn_ids)}
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        try:
            while True:
                header = self._recv_exact(sock, 16)
                if header is None:
                    return
                length, req_id, _resp_to, opcode = _UNPACK_HEADER(header, 0)
                if length < 16 or length > MAX_MESSAGE_SIZE + 16 * 1024 * 1024:
                    log("bad message length %d, closing connection" % length)
                    return
                body = self._recv_exact(sock, length - 16)
                if body is None:
                    return
                try:
                    reply = self.handle_message(opcode, req_id, body, conn)
                except Exception as exc:  # noqa: BLE001
                    log("failed to handle opcode %d: %s" % (opcode, "".join(
                        traceback.format_exception(type(exc), exc, exc.__traceback__))))
                    if opcode == OP_MSG:
                        reply = self._op_msg_reply(req_id, CmdError(
                            9, "malformed message: %s" % exc).reply())
                    else:
                        return
                if reply is not None:
                    sock.sendall(reply)
        except (ConnectionError, OSError):
            pass
        finally:
            try:
                sock.close()
            except OSError:
                pass

    @staticmethod
    def _recv_exact(sock, n):
        buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        while got < n:
            r = sock.recv_into(view[got:], n - got)
            if r == 0:
                return None
            got += r
        return buf

    def _op_msg_reply(self, req_id, doc):
        payload = bson.encode(doc, False, CODEC)
        return b"".join([_PACK_HEADER(16 + 5 + len(payload), next(self.req_ids), req_id, OP_MSG),
                         b"\x00\x00\x00\x00\x00", payload])

    def _op_reply(self, req_id, doc, flags=0):
        payload = bson.encode(doc, False, CODEC)
        return b"".join([_PACK_HEADER(16 + 20 + len(payload), next(self.req_ids), req_id, OP_REPLY),
                         _PACK_REPLY_PREFIX(flags, 0, 0, 1), payload])

    def handle_message(self, opcode, req_id, body, conn):
        if opcode == OP_MSG:
            return self.handle_op_msg(req_id, body, conn)
        if opcode == OP_QUERY:
            return self.handle_op_query(req_id, body, conn)
        log("unsupported opcode %d (compression is not offered); closing connection" % opcode)
        raise ConnectionError("unsupported opcode")

    def handle_op_query(self, req_id, body, conn):
        nul = body.index(0, 4)
        ns = bytes(body[4:nul]).decode("utf-8")
        pos = nul + 1 + 8  # numberToSkip, numberToReturn
        size = _UNPACK_INT(body, pos)[0]
        query = bson.decode(bytes(body[pos:pos + size]), CODEC)
        if not ns.endswith(".$cmd"):
            return self._op_reply(req_id, {"$err": "legacy OP_QUERY reads are not supported by the "
                                                   "mysql2mongo test endpoint (use OP_MSG)",
                                           "code": 59, "ok": 0.0}, flags=2)
        db = ns[:-5]
        if "$query" in query and isinstance(query["$query"], dict):
            query = query["$query"]
        return self._op_reply(req_id, self.ep.execute(db, query, conn))

    def handle_op_msg(self, req_id, body, conn):
        flags = _UNPACK_UINT(body, 0)[0]
        end = len(body) - (4 if flags & MSG_CHECKSUM_PRESENT else 0)
        pos = 4
        cmd_bytes = None
        seqs = []
        while pos < end:
            kind = body[pos]
            pos += 1
            size = _UNPACK_INT(body, pos)[0]
            if size < 5 or pos + size > end:
                raise ValueError("bad OP_MSG section size %d" % size)
            if kind == 0:
                cmd_bytes = bytes(body[pos:pos + size])
            elif kind == 1:
                nul = body.index(0, pos + 4)
                ident = bytes(body[pos + 4:nul]).decode("utf-8")
                seqs.append((ident, nul + 1, pos + size))
            else:
                raise ValueError("unknown OP_MSG section kind %d" % kind)
            pos += size
        if cmd_bytes is None:
            raise ValueError("OP_MSG without a body section")
        ep = self.ep
        reply = None
        if ep.discard:
            reply = self._discard_write(body, cmd_bytes, seqs)
        if reply is None:
            cmd = bson.decode(cmd_bytes, CODEC)
            for ident, start, stop in seqs:
                docs = bson.decode_all(bytes(body[start:stop]), CODEC)
                existing = cmd.get(ident)
                if isinstance(existing, list):
                    existing.extend(docs)
                else:
                    cmd[ident] = docs
            db = cmd.get("$db")
            if not isinstance(db, str):
                reply = CmdError(40571, "OP_MSG requests require a $db argument").reply()
            else:
                reply = ep.execute(db, cmd, conn)
        if flags & MSG_MORE_TO_COME:
            return None  # unacknowledged (w:0): no reply
        return self._op_msg_reply(req_id, reply)

    def _discard_write(self, body, cmd_bytes, seqs):
        """--discard-writes: count insert/update/delete statements without decoding them."""
        raw = RawBSONDocument(cmd_bytes, RAW_CODEC)
        try:
            name = next(iter(raw))
        except StopIteration:
            return None
        field = {"insert": "documents", "update": "updates", "delete": "deletes"}.get(name)
        if field is None:
            return None
        coll = raw[name]
        db = raw.get("$db")
        if not isinstance(coll, str) or not isinstance(db, str):
            return None
        if self.ep.keep_patterns:
            full = "%s.%s" % (db, coll)
            for pat in self.ep.keep_patterns:
                if fnmatch.fnmatchcase(full, pat) or fnmatch.fnmatchcase(coll, pat):
                    return None
        n = 0
        inline = raw.get(field)
        if isinstance(inline, list):
            n += len(inline)
        for ident, start, stop in seqs:
            if ident != field:
                continue
            p = start
            while p < stop:
                ln = _UNPACK_INT(body, p)[0]
                if ln < 5:
                    raise ValueError("bad document length in OP_MSG document sequence")
                p += ln
                n += 1
        if name == "update":
            return {"n": n, "nModified": 0, "ok": 1.0}
        return {"n": n, "ok": 1.0}


# --------------------------------------------------------------------------------------------
# Main


class _Stop(BaseException):
    pass


def _write_port_file(path, port):
    d = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(d, ".%s.tmp.%d" % (os.path.basename(path), os.getpid()))
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description="MongoDB wire-protocol test endpoint (mysql2mongo)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--port-file", help="write the listening port here (atomically)")
    ap.add_argument("--discard-writes", action="store_true",
                    help="acknowledge insert/update/delete without storing them (benchmarks)")
    ap.add_argument("--keep-writes-for", action="append", default=[], metavar="PATTERN",
                    help="with --discard-writes: still store writes to collections matching this "
                         "glob (matched against 'coll' and 'db.coll'); repeatable; '_*' (e.g. "
                         "_sync_metadata) is always kept")
    args = ap.parse_args(argv)
    keep = list(DEFAULT_KEEP_PATTERNS) + args.keep_writes_for

    def on_signal(signum, frame):
        raise _Stop()

    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    lsock = socket.socket(family, socket.SOCK_STREAM)
    try:
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind((args.host, args.port))
        lsock.listen(256)
        port = lsock.getsockname()[1]
        server = Server(Endpoint(args.discard_writes, keep))
        if args.port_file:
            _write_port_file(args.port_file, port)
        sys.stdout.write("mongo_endpoint: listening on %s:%d%s\n"
                         % (args.host, port, " (discarding writes)" if args.discard_writes else ""))
        sys.stdout.flush()
    except _Stop:
        os._exit(0)
    except OSError as exc:
        log("cannot listen on %s:%d or write the port file: %s" % (args.host, args.port, exc))
        os._exit(1)
    try:
        while True:
            try:
                sock, _addr = lsock.accept()
            except InterruptedError:
                continue
            except OSError as exc:
                log("accept failed: %s" % exc)
                time.sleep(0.05)
                continue
            t = threading.Thread(target=server.serve_connection, args=(sock,), daemon=True)
            t.start()
    except _Stop:
        pass
    try:
        lsock.close()
    except OSError:
        pass
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
