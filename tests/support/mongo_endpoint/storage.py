"""Databases, collections, documents and hash indexes.

A collection keeps its documents in a dict keyed by the normalised _id (bsonvalues.norm), in
insertion order (MongoDB's natural order here), and each unique index in a dict from the
normalised key to the owning _id.  A filter holding an equality on _id, or on every field of a
plain unique index, is answered by a lookup instead of a scan: the mysql2mongo tool replaces and
upserts documents by key, and mongomock's own matching costs milliseconds per document at 20,000
documents.

Beside each document the collection keeps, when it has them, the bytes of the document as the
client sent it (with _id moved first, as a real server stores it): a real server stores a
document verbatim, duplicate field names included, and reads return those bytes as they are
(which also spares an encode per document read).  An operator update drops the bytes; the new
document is encoded when it is first read.

Nothing here locks: the command layer holds the endpoint's lock around every use.
"""

import os

from bson import ObjectId
from bson.binary import Binary

from . import mongomock_adapter as adapter
from .bsonvalues import (EXACT_EQ_TYPES, MISSING, RE_TYPES, encode, fmt_value, get_path,
                         id_first, is_eq_value, norm, sort_key)
from .errors import CmdError


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
        if self.partial is not None and not adapter.filter_applies(self.partial, doc):
            return None
        vals = [get_path(doc, f) for f in self.fields]
        if self.sparse and all(v is MISSING for v in vals):
            return None
        return tuple(norm(None if v is MISSING else v) for v in vals)

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
            kv[f] = None if v is MISSING else v
        msg = "%sE11000 duplicate key error collection: %s index: %s dup key: %s" % (
            prefix, ns, self.name, fmt_value(kv))
        return CmdError(11000, msg, keyPattern=dict(self.key_pattern), keyValue=kv)


class Collection(object):
    def __init__(self, db, name):
        self.db = db
        self.name = name
        self.ns = "%s.%s" % (db, name)
        self.docs = {}  # _id key -> document (dict, _id first)
        self.raws = {}  # _id key -> the document's BSON, when known
        self.indexes = {}  # name -> spec (besides _id_)
        self.uniques = []  # UniqueIndex objects
        self.options = {}
        self.uuid = Binary(os.urandom(16), 4)
        self._fast = None  # cache: [(fields, UniqueIndex)] usable for equality lookups

    def rename(self, db, name):
        self.db, self.name, self.ns = db, name, "%s.%s" % (db, name)

    # ---- indexes -----------------------------------------------------------------------

    def fast_indexes(self):
        if self._fast is None:
            self._fast = [(ix.fields, ix) for ix in self.uniques if ix.simple]
        return self._fast

    def indexes_changed(self):
        self._fast = None

    # ---- documents ---------------------------------------------------------------------

    def insert(self, doc, raw=None):
        """Insert doc (which has _id first), enforcing the unique indexes; raw is its BSON."""
        _id = doc["_id"]
        idk = norm(_id)
        if idk in self.docs:
            raise CmdError(11000, "E11000 duplicate key error collection: %s index: _id_ dup key: "
                           "{ _id: %s }" % (self.ns, fmt_value(_id)),
                           keyPattern={"_id": 1}, keyValue={"_id": _id})
        if self.uniques:
            keys = []
            for ix in self.uniques:
                k = ix.key_for(doc)
                if k is not None and k in ix.map:
                    raise ix.dup_error(self.ns, doc)
                keys.append(k)
            for ix, k in zip(self.uniques, keys):
                if k is not None:
                    ix.add(k, idk)
        self.docs[idk] = doc
        if raw is not None:
            self.raws[idk] = raw
        return idk

    def replace(self, idk, new, raw=None):
        """Replace the document stored under idk by new (same _id)."""
        if self.uniques:
            newkeys = []
            for ix in self.uniques:
                k = ix.key_for(new)
                if k is not None:
                    owner = ix.map.get(k)
                    if owner is not None and owner != idk:
                        raise ix.dup_error(self.ns, new)
                newkeys.append(k)
            for ix, k in zip(self.uniques, newkeys):
                if ix.rev.get(idk) != k:
                    ix.remove(idk)
                    if k is not None:
                        ix.add(k, idk)
        self.docs[idk] = new
        if raw is not None:
            self.raws[idk] = raw
        else:
            self.raws.pop(idk, None)

    def delete(self, idk):
        del self.docs[idk]
        self.raws.pop(idk, None)
        for ix in self.uniques:
            ix.remove(idk)

    def raw_of(self, idk):
        """The BSON of the document stored under idk (encoded once, then kept)."""
        raw = self.raws.get(idk)
        if raw is None:
            raw = encode(self.docs[idk])
            self.raws[idk] = raw
        return raw

    def clear(self):
        self.docs.clear()
        self.raws.clear()
        for ix in self.uniques:
            ix.clear()

    def replace_all(self, docs):
        """Replace the whole content (aggregate $out), atomically: on a duplicate key the old
        content stays."""
        saved = list(self.docs.values())
        saved_raws = dict(self.raws)
        self.clear()
        try:
            for d in docs:
                if "_id" not in d:
                    d = dict(d, _id=ObjectId())
                self.insert(id_first(d))
        except CmdError:
            self.clear()
            for d in saved:
                self.insert(d)
            self.raws.update(saved_raws)
            raise

    # ---- matching ----------------------------------------------------------------------

    def match(self, q, limit=None):
        """[(idk, doc)] matching filter q (natural order unless an index was used).

        Hash indexes answer a filter holding an equality (or $in) on _id or equalities on all
        fields of a (non-sparse, non-partial) unique index; the rest of the filter, if any, is
        checked with mongomock.  Other filters scan the collection."""
        docs = self.docs
        if not docs:
            validate_filter(q)
            return []
        if not q:
            out = []
            for item in docs.items():
                out.append(item)
                if limit is not None and len(out) >= limit:
                    break
            return out
        fa = adapter.filter_applies
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
                hits = _in_hits(ins["_id"], lambda key: key)
                nfields = 1
            else:
                for fields, ix in self.fast_indexes():
                    if all(f in eq for f in fields):
                        hits = [ix.map.get(tuple(norm(eq[f]) for f in fields))]
                        nfields = len(fields)
                        break
                    if len(fields) == 1 and fields[0] in ins:
                        m = ix.map
                        hits = _in_hits(ins[fields[0]], lambda key, m=m: m.get((key,)))
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
                    if tdv is tv and tv in EXACT_EQ_TYPES:
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


def validate_filter(q):
    """Refuse a malformed filter (unknown operator, ...) as a real server does even when no
    document is there to match; plain equalities need no check."""
    for k, v in q.items():
        if k[:1] == "$" or not is_eq_value(v):
            adapter.filter_applies(q, {})
            return


def _in_hits(values, lookup):
    """Index hits for an $in list, in ascending key order (like an index scan)."""
    seen = set()
    keyed = []
    for v in values:
        if isinstance(v, RE_TYPES):
            continue
        key = norm(v)
        if key in seen:
            continue
        seen.add(key)
        keyed.append((sort_key(v), lookup(key)))
    keyed.sort(key=lambda t: t[0])
    return [h for _sk, h in keyed]


class Store(object):
    """Databases by name, each a dict of collections by name (in creation order)."""

    def __init__(self):
        self.dbs = {}

    def get(self, db, name):
        d = self.dbs.get(db)
        return d.get(name) if d is not None else None

    def create(self, db, name):
        d = self.dbs.setdefault(db, {})
        coll = d.get(name)
        if coll is None:
            coll = d[name] = Collection(db, name)
        return coll

    def drop(self, db, name):
        d = self.dbs.get(db)
        if d is not None:
            d.pop(name, None)
            if not d:
                del self.dbs[db]

    def drop_database(self, db):
        self.dbs.pop(db, None)

    def collections(self, db):
        return list(self.dbs.get(db, {}).values())

    def database_names(self):
        return [n for n, d in self.dbs.items() if d]

    def move(self, coll, db, name):
        """Rename coll to db.name (the target must not exist)."""
        self.drop(coll.db, coll.name)
        coll.rename(db, name)
        self.dbs.setdefault(db, {})[name] = coll
