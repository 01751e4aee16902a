"""The commands the endpoint answers, shaped like a real MongoDB's replies.

Supported: hello/isMaster/ismaster, ping, buildInfo, endSessions, insert, update, delete, find,
getMore, killCursors, aggregate, count, distinct, createIndexes, dropIndexes, listIndexes,
listCollections, listDatabases, create, drop, dropDatabase, renameCollection, findAndModify.
Anything else is answered with CommandNotFound (59).

Every command runs under one lock (the storage and the mongomock adapter's scratch collection
are not thread-safe); the connections are threads (server.py).
"""

import itertools
import random
import threading

from bson import ObjectId
from bson.int64 import Int64
from bson.raw_bson import RawBSONDocument

from . import limits
from . import mongomock_adapter as adapter
from .bsonvalues import (MISSING, RAW_CODEC, encode, fmt_value, get_path, id_element,
                         has_duplicate_id, id_first, is_plain, move_id_first, norm, now_ms,
                         set_path, sort_key, strict_eq, unpack_int32, value_end,
                         with_id_first)
from .errors import CmdError, not_supported, translate
from .limits import MAX_BSON_SIZE, MAX_MESSAGE_SIZE, MAX_WRITE_BATCH
from .storage import Store, UniqueIndex, validate_filter

MAX_WIRE_VERSION = 13
BATCH_BYTES = MAX_BSON_SIZE  # a reply batch holds at most this many bytes of documents
DEFAULT_FIRST_BATCH = 101
VERSION = "5.0.0-mysql2mongo-test-endpoint"
VERSION_ARRAY = [5, 0, 0, 0]

_GENERIC_FIELDS = frozenset(["$db", "lsid", "$readPreference", "writeConcern", "txnNumber",
                             "$clusterTime", "readConcern", "maxTimeMS", "comment", "apiVersion",
                             "apiStrict", "apiDeprecationErrors", "autocommit", "startTransaction"])


# --------------------------------------------------------------------------------------------
# Helpers


def _write_reply(n, errs):
    """The reply to insert and delete: the count, the write errors if any, ok (a real server's
    order)."""
    r = {"n": n}
    if errs:
        r["writeErrors"] = errs
    r["ok"] = 1.0
    return r


def _sort_field_key(doc, path, descending):
    v = get_path(doc, path)
    if isinstance(v, list):
        if not v:
            return (0,)  # empty array sorts before null
        keys = [sort_key(x) for x in v]
        return max(keys) if descending else min(keys)
    return sort_key(v)


def sort_pairs(pairs, sort):
    """Stable sort of [(idk, doc)] by a MongoDB sort specification."""
    if not sort:
        return pairs
    if not isinstance(sort, dict):
        raise CmdError(2, "sort must be an object")
    for field, direction in reversed(list(sort.items())):
        if isinstance(direction, dict):
            raise not_supported("sort by %r is" % (direction,))
        try:
            desc = float(direction) < 0
        except (TypeError, ValueError):
            raise CmdError(2, "bad sort specification for field %s" % field)
        if field == "$natural":
            if desc:
                pairs = list(reversed(pairs))
            continue
        pairs = sorted(pairs, key=lambda p, f=field, r=desc: _sort_field_key(p[1], f, r),
                       reverse=desc)
    return pairs


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
        if not is_plain(v) and not isinstance(v, (dict, list)):
            return  # a regex
        set_path(out, k, v)

    for k, v in q.items():
        add(k, v)
    return out


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
        return _update_kind(dict(u))
    raise CmdError(9, "Update argument must be either an object or an array")


def _field_bytes(raw, name):
    """The bytes of the embedded document field name of the document raw, or None.  (An
    update statement is {q, u, ...}: a couple of steps, q skipped by its length.)"""
    want = name.encode("utf-8") + b"\x00"
    pos = 4
    if raw[4:7] == b"\x03q\x00":  # both pymongo and libmongoc send q first: skip it at once
        pos = 7 + unpack_int32(raw, 7)[0]
        if raw[pos + 1:pos + 1 + len(want)] == want and raw[pos] == 0x03:
            start = pos + 1 + len(want)
            return raw[start:start + unpack_int32(raw, start)[0]]
    last = len(raw) - 1
    while pos < last:
        t = raw[pos]
        nul = raw.index(0, pos + 1)
        vend = value_end(raw, t, nul + 1)
        if raw[pos + 1:nul + 1] == want:
            return raw[nul + 1:vend] if t == 0x03 else None
        pos = vend
    return None


def _replacement(u, u_raw, _id):
    """(document, bytes) a replacement u (bytes u_raw, or None) stores for a document whose _id
    is _id: _id first with the stored value, the rest of u as sent."""
    new = {"_id": _id}
    if "_id" in u:
        for k, v in u.items():
            if k != "_id":
                new[k] = v
        if u_raw is not None and strict_eq(u["_id"], _id):
            return new, (u_raw if next(iter(u)) == "_id" else move_id_first(u_raw))
        return new, encode(new)
    new.update(u)
    if u_raw is None:
        return new, encode(new)
    return new, with_id_first(u_raw, id_element(_id))


def _check_collation(collation):
    if collation and isinstance(collation, dict) and collation.get("locale") not in (None,
                                                                                       "simple"):
        raise not_supported("collations are")


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


def _take_batch(items, pos, count):
    """Up to count items from pos, within BATCH_BYTES; items are documents or their BSON."""
    out = []
    size = 0
    end = len(items)
    while pos < end and (count is None or len(out) < count):
        item = items[pos]
        raw = item if type(item) is bytes else encode(item)
        if out and size + len(raw) > BATCH_BYTES:
            break
        out.append(RawBSONDocument(raw, RAW_CODEC))
        size += len(raw)
        pos += 1
    return out, pos


class Cursor(object):
    __slots__ = ("id", "ns", "docs", "pos")

    def __init__(self, cid, ns, docs, pos):
        self.id = cid
        self.ns = ns
        self.docs = docs
        self.pos = pos


# --------------------------------------------------------------------------------------------
# The endpoint


class Endpoint(object):
    def __init__(self):
        self.lock = threading.RLock()
        self.store = Store()
        self.cursors = {}
        self.conn_ids = itertools.count(1)
        self.commands = {
            "hello": self.cmd_hello, "isMaster": self.cmd_hello, "ismaster": self.cmd_hello,
            "ping": self.cmd_ping, "buildInfo": self.cmd_build_info,
            "buildinfo": self.cmd_build_info, "endSessions": self.cmd_ping,
            "insert": self.cmd_insert, "update": self.cmd_update, "delete": self.cmd_delete,
            "find": self.cmd_find, "getMore": self.cmd_get_more,
            "killCursors": self.cmd_kill_cursors, "aggregate": self.cmd_aggregate,
            "count": self.cmd_count, "distinct": self.cmd_distinct,
            "createIndexes": self.cmd_create_indexes, "dropIndexes": self.cmd_drop_indexes,
            "deleteIndexes": self.cmd_drop_indexes, "listIndexes": self.cmd_list_indexes,
            "listCollections": self.cmd_list_collections,
            "listDatabases": self.cmd_list_databases, "create": self.cmd_create,
            "drop": self.cmd_drop, "dropDatabase": self.cmd_drop_database,
            "renameCollection": self.cmd_rename_collection,
            "findAndModify": self.cmd_find_and_modify, "findandmodify": self.cmd_find_and_modify,
        }

    # ---- dispatch ----------------------------------------------------------------------

    def execute(self, req, conn):
        """The reply document to req (a wire.Command)."""
        cmd = req.doc
        if not cmd:
            return CmdError(59, "no such command: ''").reply()
        name = next(iter(cmd))
        handler = self.commands.get(name)
        if handler is None:
            return CmdError(59, "command '%s' not supported by the mysql2mongo test endpoint"
                            % name).reply()
        try:
            limits.check_db_name(req.db)
            return handler(req.db, cmd, conn, req)
        except Exception as exc:  # noqa: BLE001
            return translate(exc).reply()

    @staticmethod
    def _coll_name(db, cmd, name, write=False):
        """The collection a command names; for a write (which may create it) the namespace
        length is checked too, before anything runs, as a real server does."""
        v = cmd.get(name)
        if not isinstance(v, str):
            raise CmdError(73, "collection name has invalid type %s" % type(v).__name__)
        limits.check_collection_name(db, v)
        if write:
            limits.check_ns_length(db, v)
        return v

    def _create(self, db, name):
        """The collection db.name, created (namespace length checked) when missing."""
        coll = self.store.get(db, name)
        if coll is None:
            limits.check_ns_length(db, name)
            coll = self.store.create(db, name)
        return coll

    def _match(self, coll, q, limit=None):
        if q is None:
            q = {}
        if not isinstance(q, dict):
            raise CmdError(14, "filter must be an object")
        q = adapter.resolve_now(q)
        if coll is None:
            validate_filter(q)
            return []
        return coll.match(q, limit)

    def _reader(self, db):
        def read(name):
            coll = self.store.get(db, name)
            return list(coll.docs.values()) if coll is not None else []
        return read

    # ---- update machinery --------------------------------------------------------------

    def _apply_ops(self, doc, u, q, is_insert):
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
        return adapter.apply_update(doc, u, q if positional and not is_insert else None)

    def _apply_pipeline(self, db, doc, pipeline):
        pipeline = adapter.resolve_now(pipeline)
        for stage in pipeline:
            if not isinstance(stage, dict) or len(stage) != 1:
                raise CmdError(9, "each update pipeline stage must be an object with one field")
            name = next(iter(stage))
            if name not in ("$addFields", "$set", "$project", "$unset", "$replaceRoot",
                            "$replaceWith"):
                raise CmdError(72, "%s is not allowed to be used within an update" % name)
        res = adapter.run_pipeline([doc], pipeline, self._reader(db))
        if len(res) != 1:
            raise CmdError(2, "update pipeline did not produce exactly one document")
        return res[0]

    def _compute_update(self, db, doc, u, kind, q, u_raw):
        """(document, bytes) of existing document doc after update u (doc is not changed);
        the size and depth limits are checked."""
        _id = doc.get("_id")
        if kind == "replace":
            if "_id" in u and norm(u["_id"]) != norm(_id):
                raise CmdError(66, "After applying the update, the (immutable) field '_id' "
                               "was found to have been altered to _id: %s" % fmt_value(u["_id"]))
            new, raw = _replacement(u, u_raw, _id)
        else:
            if kind == "ops":
                new = self._apply_ops(doc, u, q, False)
            else:
                new = self._apply_pipeline(db, doc, u)
            if "_id" not in new or norm(new["_id"]) != norm(_id):
                raise CmdError(66, "After applying the update, the (immutable) field '_id' was "
                               "found to have been altered to _id: %s"
                               % fmt_value(new.get("_id")))
            new = id_first(new)
            raw = encode(new)
        limits.check_update_size(len(raw), False)
        limits.check_update_depth(new, len(raw))
        return new, raw

    def _compute_upsert(self, db, q, u, kind, u_raw):
        """(document, bytes) an upsert inserts when nothing matched; limits checked."""
        if kind == "replace":
            if "_id" in u:
                _id = u["_id"]
            else:
                seed = seed_from_filter(q) if "_id" in q else {}
                _id = seed.get("_id", MISSING)
                if _id is MISSING:
                    _id = ObjectId()
            new, raw = _replacement(u, u_raw, _id)
        else:
            seed = seed_from_filter(q)
            if kind == "ops":
                new = self._apply_ops(seed, u, q, True)
            else:
                new = self._apply_pipeline(db, seed, u)
            if "_id" not in new:
                new = dict(new)
                new["_id"] = ObjectId()
            new = id_first(new)
            raw = encode(new)
        limits.check_update_size(len(raw), True)
        limits.check_update_depth(new, len(raw))
        limits.check_id_value(new["_id"])
        return new, raw

    def _update_stmt(self, db, name, stmt, stmt_raw):
        """Execute one update statement. Returns (n, nModified, upserted_id or MISSING)."""
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
            raise not_supported("arrayFilters are")
        _check_collation(stmt.get("collation"))
        kind = _update_kind(u)
        u_raw = None
        if kind == "replace":
            if multi:
                raise CmdError(9, "multi update is not supported for replacement-style update")
            limits.check_replacement_fields(u)
            if stmt_raw is not None:
                u_raw = _field_bytes(stmt_raw, "u")
        coll = self.store.get(db, name)
        cands = self._match(coll, q, None if multi else 1)
        n = 0
        nmod = 0
        for idk, doc in cands:
            new, raw = self._compute_update(db, doc, u, kind, q, u_raw)
            n += 1
            old_raw = coll.raws.get(idk)
            if old_raw is not None:
                changed = old_raw != raw
            else:
                changed = not strict_eq(doc, new)
            if changed:
                coll.replace(idk, new, raw)
                nmod += 1
        if not cands and upsert:
            new, raw = self._compute_upsert(db, q, u, kind, u_raw)
            self._create(db, name).insert(new, raw)
            return 1, 0, new["_id"]
        return n, nmod, MISSING

    # ---- cursors -----------------------------------------------------------------------

    def _cursor_reply(self, ns, docs, batch_size, single_batch=False):
        count = DEFAULT_FIRST_BATCH if batch_size is None else batch_size
        batch, pos = _take_batch(docs, 0, count)
        cid = 0
        if pos < len(docs) and not single_batch:
            cid = random.getrandbits(62) + 1
            self.cursors[cid] = Cursor(cid, ns, docs, pos)
        return {"cursor": {"firstBatch": batch, "id": Int64(cid), "ns": ns}, "ok": 1.0}

    def _kill_ns_cursors(self, ns):
        for cid in [c for c, cur in self.cursors.items() if cur.ns == ns]:
            del self.cursors[cid]

    # ---- handshake & misc --------------------------------------------------------------

    def cmd_hello(self, db, cmd, conn, req):
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
            "localTime": now_ms(),
            "logicalSessionTimeoutMinutes": 30,
            "connectionId": conn.get("id", 0),
            "minWireVersion": 0,
            "maxWireVersion": MAX_WIRE_VERSION,
            "readOnly": False,
            "ok": 1.0,
        })
        return r

    def cmd_ping(self, db, cmd, conn, req):
        return {"ok": 1.0}

    def cmd_build_info(self, db, cmd, conn, req):
        return {"version": VERSION, "gitVersion": "0000000000000000000000000000000000000000",
                "versionArray": list(VERSION_ARRAY), "bits": 64, "debug": False,
                "maxBsonObjectSize": MAX_BSON_SIZE, "storageEngines": ["mysql2mongo-test"],
                "javascriptEngine": "none", "ok": 1.0}

    # ---- writes ------------------------------------------------------------------------

    def _insert_one(self, coll, doc, raw):
        if not isinstance(doc, dict):
            raise CmdError(14, "documents must be objects")
        if raw is None:
            raw = encode(doc)
        limits.check_insert_size(len(raw))
        limits.check_insert_depth(doc, len(raw))
        if "_id" in doc:
            limits.check_id_value(doc["_id"])
            if has_duplicate_id(raw):
                raise limits.duplicate_id()
            if next(iter(doc)) != "_id":
                doc = id_first(doc)
                raw = move_id_first(raw)
        else:
            _id = ObjectId()
            d = {"_id": _id}
            d.update(doc)
            doc = d
            raw = with_id_first(raw, id_element(_id))
        coll.insert(doc, raw)

    def cmd_insert(self, db, cmd, conn, req):
        name = self._coll_name(db, cmd, "insert", write=True)
        docs = cmd.get("documents")
        if not isinstance(docs, list):
            raise CmdError(40414, "BSON field 'insert.documents' is missing but a required field")
        limits.check_batch_size(len(docs))
        ordered = cmd.get("ordered", True)
        n = 0
        errs = []
        with self.lock:
            coll = self._create(db, name)
            for i, doc in enumerate(docs):
                try:
                    self._insert_one(coll, doc, req.raw_of("documents", i))
                    n += 1
                except Exception as exc:  # noqa: BLE001
                    errs.append(translate(exc).write_error(i))
                    if ordered:
                        break
        return _write_reply(n, errs)

    def cmd_update(self, db, cmd, conn, req):
        name = self._coll_name(db, cmd, "update", write=True)
        stmts = cmd.get("updates")
        if not isinstance(stmts, list):
            raise CmdError(40414, "BSON field 'update.updates' is missing but a required field")
        limits.check_batch_size(len(stmts))
        ordered = cmd.get("ordered", True)
        n = 0
        nmod = 0
        upserted = []
        errs = []
        with self.lock:
            for i, stmt in enumerate(stmts):
                try:
                    sn, smod, up = self._update_stmt(db, name, stmt, req.raw_of("updates", i))
                    n += sn
                    nmod += smod
                    if up is not MISSING:
                        upserted.append({"index": i, "_id": up})
                except Exception as exc:  # noqa: BLE001
                    errs.append(translate(exc).write_error(i))
                    if ordered:
                        break
        r = {"n": n, "nModified": nmod}
        if upserted:
            r["upserted"] = upserted
        if errs:
            r["writeErrors"] = errs
        r["ok"] = 1.0
        return r

    def cmd_delete(self, db, cmd, conn, req):
        name = self._coll_name(db, cmd, "delete", write=True)
        stmts = cmd.get("deletes")
        if not isinstance(stmts, list):
            raise CmdError(40414, "BSON field 'delete.deletes' is missing but a required field")
        limits.check_batch_size(len(stmts))
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
                    _check_collation(stmt.get("collation"))
                    coll = self.store.get(db, name)
                    for idk, _doc in self._match(coll, q, 1 if limit == 1 else None):
                        coll.delete(idk)
                        n += 1
                except Exception as exc:  # noqa: BLE001
                    errs.append(translate(exc).write_error(i))
                    if ordered:
                        break
        return _write_reply(n, errs)

    def cmd_find_and_modify(self, db, cmd, conn, req):
        name = self._coll_name(db, cmd, next(iter(cmd)), write=True)
        q = cmd.get("query") or {}
        sort = cmd.get("sort")
        remove = bool(cmd.get("remove", False))
        u = cmd.get("update")
        new = bool(cmd.get("new", False))
        fields = cmd.get("fields")
        upsert = bool(cmd.get("upsert", False))
        if cmd.get("arrayFilters"):
            raise not_supported("arrayFilters are")
        _check_collation(cmd.get("collation"))
        if remove and u is not None:
            raise CmdError(9, "Cannot specify both an update and remove=true")
        if not remove and u is None:
            raise CmdError(9, "Either an update or remove=true must be specified")
        if remove and new:
            raise CmdError(9, "Cannot specify both new=true and remove=true; 'remove' always "
                           "returns the deleted document")
        if remove and upsert:
            raise CmdError(9, "Cannot specify both upsert=true and remove=true")
        kind = None if remove else _update_kind(u)
        if kind == "replace":
            limits.check_replacement_fields(u)
        with self.lock:
            coll = self.store.get(db, name)
            cands = self._match(coll, q, None if sort else 1)
            if sort and cands:
                cands = sort_pairs(cands, sort)[:1]
            if cands:
                idk, doc = cands[0]
                if remove:
                    coll.delete(idk)
                    return {"lastErrorObject": {"n": 1}, "value": self._project(doc, fields),
                            "ok": 1.0}
                newdoc, raw = self._compute_update(db, doc, u, kind, q, None)
                if not strict_eq(doc, newdoc):
                    coll.replace(idk, newdoc, raw)
                return {"lastErrorObject": {"n": 1, "updatedExisting": True},
                        "value": self._project(newdoc if new else doc, fields), "ok": 1.0}
            if remove:
                return {"lastErrorObject": {"n": 0}, "value": None, "ok": 1.0}
            if not upsert:
                return {"lastErrorObject": {"n": 0, "updatedExisting": False}, "value": None,
                        "ok": 1.0}
            newdoc, raw = self._compute_upsert(db, q, u, kind, None)
            self._create(db, name).insert(newdoc, raw)
            return {"lastErrorObject": {"n": 1, "updatedExisting": False,
                                        "upserted": newdoc["_id"]},
                    "value": self._project(newdoc, fields) if new else None, "ok": 1.0}

    # ---- reads -------------------------------------------------------------------------

    @staticmethod
    def _project(doc, fields):
        if not fields:
            return doc
        if not isinstance(fields, dict):
            raise CmdError(2, "projection must be an object")
        return adapter.project(doc, fields)

    def cmd_find(self, db, cmd, conn, req):
        name = self._coll_name(db, cmd, "find")
        q = cmd.get("filter") or {}
        sort = cmd.get("sort")
        fields = cmd.get("projection")
        skip = int(cmd.get("skip") or 0)
        limit = int(cmd.get("limit") or 0)
        if skip < 0:
            raise CmdError(2, "skip value must be non-negative, but received: %d" % skip)
        if limit < 0:
            raise CmdError(2, "limit value must be non-negative, but received: %d" % limit)
        batch_size = _batch_size(cmd)
        single = bool(cmd.get("singleBatch", False))
        _check_collation(cmd.get("collation"))
        with self.lock:
            coll = self.store.get(db, name)
            pairs = self._match(coll, q, None if sort else (skip + limit if limit else None))
            pairs = sort_pairs(pairs, sort)
            if skip:
                pairs = pairs[skip:]
            if limit:
                pairs = pairs[:limit]
                if batch_size is not None and batch_size > limit:
                    batch_size = limit
            if fields:
                docs = [self._project(d, fields) for _idk, d in pairs]
            else:
                # The stored bytes: the document as it was sent, duplicate fields included.
                docs = [coll.raw_of(idk) for idk, _d in pairs]
            return self._cursor_reply("%s.%s" % (db, name), docs, batch_size, single)

    def cmd_get_more(self, db, cmd, conn, req):
        cid = cmd.get("getMore")
        if not isinstance(cid, int):
            raise CmdError(14, "getMore cursor id must be a long")
        coll = cmd.get("collection")
        batch_size = _batch_size(cmd)
        with self.lock:
            cur = self.cursors.get(int(cid))
            if cur is None:
                raise CmdError(43, "cursor id %d not found" % cid)
            if cur.ns != "%s.%s" % (db, coll):
                raise CmdError(13, "Requested getMore on namespace '%s.%s', but cursor belongs to "
                               "a different namespace %s" % (db, coll, cur.ns))
            batch, cur.pos = _take_batch(cur.docs, cur.pos, batch_size or None)
            rid = cur.id
            if cur.pos >= len(cur.docs):
                del self.cursors[cur.id]
                rid = 0
            return {"cursor": {"nextBatch": batch, "id": Int64(rid), "ns": cur.ns}, "ok": 1.0}

    def cmd_kill_cursors(self, db, cmd, conn, req):
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

    def cmd_count(self, db, cmd, conn, req):
        name = self._coll_name(db, cmd, "count")
        q = cmd.get("query") or {}
        skip = int(cmd.get("skip") or 0)
        limit = int(cmd.get("limit") or 0)
        with self.lock:
            coll = self.store.get(db, name)
            if not q:
                n = len(coll.docs) if coll is not None else 0
            else:
                n = len(self._match(coll, q))
        n = max(n - skip, 0)
        if limit:
            n = min(n, abs(limit))
        return {"n": n, "ok": 1.0}

    def cmd_distinct(self, db, cmd, conn, req):
        name = self._coll_name(db, cmd, "distinct")
        key = cmd.get("key")
        if not isinstance(key, str):
            raise CmdError(14, "BSON field 'distinct.key' is the wrong type")
        q = cmd.get("query") or {}
        seen = set()
        values = []
        with self.lock:
            for _idk, doc in self._match(self.store.get(db, name), q):
                v = get_path(doc, key)
                if v is MISSING:
                    continue
                for x in (v if isinstance(v, list) else [v]):
                    k = norm(x)
                    if k not in seen:
                        seen.add(k)
                        values.append(x)
        return {"values": values, "ok": 1.0}

    def cmd_aggregate(self, db, cmd, conn, req):
        name = cmd.get("aggregate")
        if not isinstance(name, str) or not name:
            raise not_supported("collection-less aggregate is")
        limits.check_collection_name(db, name)
        pipeline = cmd.get("pipeline")
        if not isinstance(pipeline, list):
            raise CmdError(14, "'pipeline' option must be specified as an array")
        if cmd.get("explain"):
            raise not_supported("explain is")
        if "cursor" not in cmd:
            raise CmdError(9, "The 'cursor' option is required, except for aggregate with the "
                           "explain argument")
        batch_size = _batch_size(cmd, where=cmd.get("cursor") or {})
        _check_collation(cmd.get("collation"))
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
            limits.check_collection_name(out_db, out_coll)
        with self.lock:
            coll = self.store.get(db, name)
            # A leading $match uses the same (index-accelerated) matcher as find.
            q = {}
            if stages and isinstance(stages[0], dict) and len(stages[0]) == 1 \
                    and "$match" in stages[0] and isinstance(stages[0]["$match"], dict):
                q = stages.pop(0)["$match"]
            matched = [doc for _idk, doc in self._match(coll, q)]
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
                res = adapter.run_pipeline(matched, stages, self._reader(db))
            if out_target is not None:
                self._create(out_db, out_coll).replace_all(res)
                res = []
            return self._cursor_reply("%s.%s" % (db, name), res, batch_size)

    # ---- indexes -----------------------------------------------------------------------

    def cmd_create_indexes(self, db, cmd, conn, req):
        name = self._coll_name(db, cmd, "createIndexes")
        specs = cmd.get("indexes")
        if not isinstance(specs, list) or not specs:
            raise CmdError(2, "Must specify at least one index to create")
        with self.lock:
            existed = self.store.get(db, name) is not None
            to_add = []
            for spec in specs:
                if not isinstance(spec, dict):
                    raise CmdError(14, "index specification must be an object")
                limits.validate_index_spec(spec)
            coll = self._create(db, name)
            before = len(coll.indexes) + 1
            for spec in specs:
                key = spec["key"]
                iname = spec.get("name")
                if iname is None:
                    iname = "_".join("%s_%s" % (k, v) for k, v in key.items())
                _check_collation(spec.get("collation"))
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
                existing = coll.indexes.get(iname)
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
                same_key = [n for n, s in coll.indexes.items()
                            if norm(s["key"]) == norm(clean["key"])]
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
                        for idk, doc in coll.docs.items():
                            k = ix.key_for(doc)
                            if k is None:
                                continue
                            if k in ix.map:
                                raise ix.dup_error(
                                    coll.ns, doc,
                                    prefix="Index build failed: %s: Collection %s :: caused by :: "
                                    % (ObjectId(), coll.ns))
                            ix.add(k, idk)
                    except CmdError as exc:
                        if exc.code == 11000:
                            raise
                        raise CmdError(67, "Error in specification %s :: caused by :: %s"
                                       % (fmt_value(clean), exc.errmsg))
                    except Exception as exc:  # noqa: BLE001 - e.g. a bad partialFilterExpression
                        raise CmdError(67, "Error in specification %s :: caused by :: %s"
                                       % (fmt_value(clean), translate(exc).errmsg))
                    built.append(ix)
            coll.uniques.extend(built)
            for clean in to_add:
                coll.indexes[clean["name"]] = clean
            coll.indexes_changed()
            after = len(coll.indexes) + 1
            r = {"numIndexesBefore": before, "numIndexesAfter": after,
                 "createdCollectionAutomatically": not existed}
            if not to_add:
                r["note"] = "all indexes already exist"
            r["ok"] = 1.0
            return r

    def cmd_drop_indexes(self, db, cmd, conn, req):
        name = self._coll_name(db, cmd, next(iter(cmd)))
        which = cmd.get("index")
        with self.lock:
            coll = self.store.get(db, name)
            if coll is None:
                raise CmdError(26, "ns not found %s.%s" % (db, name))
            was = len(coll.indexes) + 1
            if which == "*":
                names = list(coll.indexes)
            elif isinstance(which, str):
                names = [which]
            elif isinstance(which, list):
                names = list(which)
            elif isinstance(which, dict):
                names = [n for n, s in coll.indexes.items() if norm(s["key"]) == norm(which)]
                if not names:
                    raise CmdError(27, "can't find index with key: %s" % fmt_value(which))
            else:
                raise CmdError(14, "dropIndexes 'index' must be a string, array or object")
            for n in names:
                if n == "_id_":
                    raise CmdError(72, "cannot drop _id index")
                if n not in coll.indexes:
                    raise CmdError(27, "index not found with name [%s]" % n)
            for n in names:
                del coll.indexes[n]
            coll.uniques = [ix for ix in coll.uniques if ix.name in coll.indexes]
            coll.indexes_changed()
            return {"nIndexesWas": was, "ok": 1.0}

    def cmd_list_indexes(self, db, cmd, conn, req):
        name = self._coll_name(db, cmd, "listIndexes")
        batch_size = _batch_size(cmd, where=cmd.get("cursor") or {})
        with self.lock:
            coll = self.store.get(db, name)
            if coll is None:
                raise CmdError(26, "ns does not exist: %s.%s" % (db, name))
            out = [{"v": 2, "key": {"_id": 1}, "name": "_id_"}]
            for spec in coll.indexes.values():
                d = {"v": 2, "key": spec["key"], "name": spec["name"]}
                for k, v in spec.items():
                    if k not in d:
                        d[k] = v
                out.append(d)
            return self._cursor_reply("%s.$cmd.listIndexes.%s" % (db, name), out, batch_size)

    # ---- collections & databases -------------------------------------------------------

    def cmd_list_collections(self, db, cmd, conn, req):
        q = cmd.get("filter") or {}
        name_only = bool(cmd.get("nameOnly", False))
        batch_size = _batch_size(cmd, where=cmd.get("cursor") or {})
        out = []
        with self.lock:
            for coll in self.store.collections(db):
                info = {"name": coll.name, "type": "collection", "options": dict(coll.options),
                        "info": {"readOnly": False, "uuid": coll.uuid},
                        "idIndex": {"v": 2, "key": {"_id": 1}, "name": "_id_"}}
                if q and not adapter.filter_applies(q, info):
                    continue
                if name_only:
                    info = {"name": coll.name, "type": "collection"}
                out.append(info)
            return self._cursor_reply("%s.$cmd.listCollections" % db, out, batch_size)

    def cmd_list_databases(self, db, cmd, conn, req):
        if db != "admin":
            raise CmdError(13, "listDatabases may only be run against the admin database.")
        q = cmd.get("filter") or {}
        out = []
        with self.lock:
            for n in self.store.database_names():
                info = {"name": n, "sizeOnDisk": 4096, "empty": False}
                if q and not adapter.filter_applies(q, info):
                    continue
                out.append({"name": n} if cmd.get("nameOnly") else info)
        r = {"databases": out}
        if not cmd.get("nameOnly"):
            r["totalSize"] = 4096 * len(out)
        r["ok"] = 1.0
        return r

    def cmd_create(self, db, cmd, conn, req):
        name = self._coll_name(db, cmd, "create", write=True)
        for unsupported in ("viewOn", "pipeline", "timeseries", "capped", "validator",
                            "clusteredIndex"):
            if cmd.get(unsupported):
                raise not_supported("create with '%s' is" % unsupported)
        _check_collation(cmd.get("collation"))
        with self.lock:
            if self.store.get(db, name) is not None:
                raise CmdError(48, "Collection already exists. NS: %s.%s" % (db, name))
            coll = self._create(db, name)
            coll.options = {k: v for k, v in list(cmd.items())[1:] if k not in _GENERIC_FIELDS}
        return {"ok": 1.0}

    def cmd_drop(self, db, cmd, conn, req):
        name = self._coll_name(db, cmd, "drop")
        with self.lock:
            coll = self.store.get(db, name)
            if coll is None:
                raise CmdError(26, "ns not found")
            n = len(coll.indexes) + 1
            self.store.drop(db, name)
            self._kill_ns_cursors(coll.ns)
        return {"nIndexesWas": n, "ns": "%s.%s" % (db, name), "ok": 1.0}

    def cmd_drop_database(self, db, cmd, conn, req):
        with self.lock:
            self.store.drop_database(db)
            prefix = db + "."
            for cid in [c for c, cur in self.cursors.items() if cur.ns.startswith(prefix)]:
                del self.cursors[cid]
        return {"dropped": db, "ok": 1.0}

    def cmd_rename_collection(self, db, cmd, conn, req):
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
        limits.check_db_name(ddb)
        limits.check_collection_name(ddb, dname)
        with self.lock:
            scoll = self.store.get(sdb, sname)
            if scoll is None:
                raise CmdError(26, "Source collection %s does not exist" % src)
            if src == dst:
                raise CmdError(20, "Can't rename a collection to itself")
            limits.check_ns_length(ddb, dname)
            if self.store.get(ddb, dname) is not None:
                if not drop_target:
                    raise CmdError(48, "target namespace exists")
                self.store.drop(ddb, dname)
                self._kill_ns_cursors(dst)
            self._kill_ns_cursors(src)
            self.store.move(scoll, ddb, dname)
        return {"ok": 1.0}
