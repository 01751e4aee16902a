"""Selftest of the limits (limits.py): each limit at its boundary, exactly at the limit accepted
and one beyond refused with the code a real MongoDB answers, and what a real server accepts
(the whole int64 date range, duplicate field names) accepted and returned as sent.

Some messages here cannot come from pymongo, which checks sizes itself and cannot encode dates
beyond datetime's range nor duplicate field names; RawConnection sends hand-built OP_MSGs.
Run by selftest.py (the functions take the selftest's Endpoint and its check helpers).
"""

import socket
import struct

import bson
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from pymongo.errors import OperationFailure

MAX_BSON = 16 * 1024 * 1024
MAX_INTERNAL = MAX_BSON + 16 * 1024
MAX_MESSAGE = 48000000
MAX_BATCH = 100000
RAW = CodecOptions(document_class=RawBSONDocument)

_ctx = {}


def setup(check, failure):
    _ctx["check"] = check
    _ctx["Failure"] = failure


def check(cond, what, detail=None):
    _ctx["check"](cond, what, detail)


# --------------------------------------------------------------------------------------------
# Hand-built BSON and OP_MSG


def element(key, type_byte, value_bytes):
    return bytes([type_byte]) + key.encode() + b"\x00" + value_bytes


def document(*elements):
    body = b"".join(elements)
    return struct.pack("<i", len(body) + 5) + body + b"\x00"


def int32(key, v):
    return element(key, 0x10, struct.pack("<i", v))


def date(key, ms):
    return element(key, 0x09, struct.pack("<q", ms))


def sized_doc(size, _id=1):
    """{_id, x: "aaa..."} of exactly size bytes."""
    base = len(bson.encode({"_id": _id, "x": ""}))
    return bson.encode({"_id": _id, "x": "a" * (size - base)})


class RawConnection(object):
    """One connection sending hand-built OP_MSGs."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.req = 0

    def close(self):
        self.sock.close()

    @staticmethod
    def message(cmd, sequences=()):
        body = b"\x00\x00\x00\x00" + b"\x00" + (cmd if isinstance(cmd, bytes) else bson.encode(cmd))
        for ident, docs in sequences:
            payload = ident.encode() + b"\x00" + b"".join(docs)
            body += b"\x01" + struct.pack("<i", len(payload) + 4) + payload
        return body

    def send(self, cmd, sequences=()):
        """The reply document (RawBSONDocument), or None when the connection was closed."""
        body = self.message(cmd, sequences)
        self.req += 1
        data = struct.pack("<iiii", 16 + len(body), self.req, 0, 2013) + body
        try:
            self.sock.sendall(data)
        except OSError:
            pass  # the endpoint closed the connection while the message was being sent
        try:
            header = self._recv(16)
        except OSError:
            return None
        if header is None:
            return None
        length = struct.unpack_from("<i", header)[0]
        rest = self._recv(length - 16)
        return bson.decode(rest[5:], RAW)

    def _recv(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf


def command_error(reply, code, what):
    check(reply is not None and reply["ok"] == 0 and reply["code"] == code,
          "%s: whole command refused with code %d" % (what, code),
          None if reply is None else dict(reply))


def write_error(reply, code, what, index=0):
    errs = reply.get("writeErrors") if reply is not None else None
    check(reply is not None and reply["ok"] == 1 and errs and errs[0]["code"] == code
          and errs[0]["index"] == index,
          "%s: write error with code %d" % (what, code), None if reply is None else dict(reply))
    return errs[0]


def ok(reply, what, n=None):
    check(reply is not None and reply["ok"] == 1 and not reply.get("writeErrors")
          and (n is None or reply["n"] == n), what, None if reply is None else dict(reply))


def expect_code(fn, code, what):
    try:
        fn()
    except OperationFailure as exc:
        check(exc.code == code, "%s (code %d)" % (what, code), exc.details)
        return exc
    raise _ctx["Failure"]("%s: expected error code %d, got success" % (what, code))


# --------------------------------------------------------------------------------------------
# Tests


def test_limit_hello(c):
    for name in ("hello", "isMaster"):
        r = c.admin.command(name)
        check(r["maxBsonObjectSize"] == MAX_BSON and r["maxMessageSizeBytes"] == MAX_MESSAGE
              and r["maxWriteBatchSize"] == MAX_BATCH, "%s advertises the limits" % name, r)


def test_limit_document_size(ep, c):
    db = c.lim
    db.size.drop()
    rc = RawConnection(ep.port)
    try:
        ins = {"insert": "size", "$db": "lim", "ordered": False}
        r = rc.send(ins, [("documents", [sized_doc(MAX_BSON, 1)])])
        ok(r, "insert: a document of exactly 16,777,216 bytes is stored", 1)
        r = rc.send(ins, [("documents", [bson.encode({"_id": 2}), sized_doc(MAX_BSON + 1, 3),
                                         bson.encode({"_id": 4})])])
        e = write_error(r, 2, "insert: 16,777,217 bytes", index=1)
        check(e["errmsg"] == "object to insert too large. size in bytes: 16777217, max size: "
              "16777216", "insert: BadValue message as a real server's", e["errmsg"])
        check(r["n"] == 2, "insert: the other documents of the unordered batch are stored", r["n"])
        # Beyond the server's internal limit (16 MiB + 16 KiB) the message itself is refused.
        r = rc.send(ins, [("documents", [sized_doc(MAX_INTERNAL, 5)])])
        write_error(r, 2, "insert: a document of exactly 16 MiB + 16 KiB still reaches the insert")
        r = rc.send(ins, [("documents", [bson.encode({"_id": 6}), sized_doc(MAX_INTERNAL + 1, 7)])])
        command_error(r, 10334, "insert: a document over 16 MiB + 16 KiB")
        check(r["codeName"] == "BSONObjectTooLarge" and r["errmsg"].startswith(
            "BSONObj size: 16793601 (0x1004001) is invalid."), "BSONObjectTooLarge message",
            dict(r))
        check(db.size.count_documents({"_id": 6}) == 0, "nothing of a refused message is stored")
        # Updates: the size of the resulting document.
        upd = {"update": "size", "$db": "lim", "ordered": False}

        def stmt(q, u, upsert=False):
            return bson.encode({"q": q, "u": u, "upsert": upsert}) if not isinstance(u, bytes) \
                else document(element("q", 0x03, bson.encode(q)), element("u", 0x03, u),
                              element("upsert", 0x08, b"\x01" if upsert else b"\x00"))

        r = rc.send(upd, [("updates", [stmt({"_id": 10}, sized_doc(MAX_BSON, 10), True)])])
        ok(r, "upsert: a replacement of exactly 16,777,216 bytes is stored", 1)
        r = rc.send(upd, [("updates", [stmt({"_id": 11}, sized_doc(MAX_BSON + 1, 11), True),
                                       stmt({"_id": 12}, {"_id": 12, "small": 1}, True)])])
        e = write_error(r, 17420, "upsert: a replacement of 16,777,217 bytes")
        check(e["errmsg"] == "Document to upsert is larger than 16777216", "17420 message", e)
        check(r["n"] == 1 and db.size.count_documents({"_id": 12}) == 1,
              "upsert: the next statement of the unordered batch is applied", dict(r))
        r = rc.send(upd, [("updates", [stmt({"_id": 10}, sized_doc(MAX_BSON + 1, 10))])])
        e = write_error(r, 17419, "replace: a replacement of 16,777,217 bytes")
        check(e["errmsg"] == "Resulting document after update is larger than 16777216",
              "17419 message", e)
        # $set: the resulting document, not the update, is measured.
        db.size.insert_one({"_id": 20, "x": ""})
        fill = MAX_BSON - len(bson.encode({"_id": 20, "x": ""}))
        db.size.update_one({"_id": 20}, {"$set": {"x": "a" * fill}})
        check(len(db.size.find_one({"_id": 20}, {"x": 1})["x"]) == fill,
              "$set to exactly 16,777,216 bytes is stored")
        r = rc.send(upd, [("updates", [stmt({"_id": 20}, {"$set": {"x": "a" * (fill + 1)}})])])
        write_error(r, 17419, "$set to 16,777,217 bytes")
        # findAndModify answers a whole-command error.
        exc = expect_code(lambda: db.command("findAndModify", "size", query={"_id": 30},
                                             update={"$set": {"x": "a" * MAX_BSON}}, upsert=True),
                          17420, "findAndModify upsert over 16 MiB")
        check(exc.details.get("ok") == 0, "findAndModify: a command error", exc.details)
    finally:
        rc.close()
        db.size.drop()


def nested(levels, container="doc", key="a", leaf=1):
    """A value which, as a field of a top-level document, makes it levels deep."""
    v = [leaf] if container == "array" else {key: leaf}
    for _ in range(levels - 2):
        v = [v] if container == "array" else {key: v}
    return v


def test_limit_nesting_depth(ep, c):
    db = c.lim
    coll = db.depth
    coll.drop()
    for container in ("doc", "array"):
        coll.insert_one({"_id": container + "100", "a": nested(100, container)})
        check(coll.count_documents({"_id": container + "100"}) == 1,
              "a document 100 levels deep (%ss) is stored" % container)
        r = db.command("insert", "depth", documents=[
            {"_id": container + "101", "a": nested(101, container)}, {"_id": container + "ok"}],
            ordered=False)
        errs = r.get("writeErrors") or [{}]
        check(errs[0].get("code") == 45 and errs[0].get("index") == 0 and errs[0].get(
            "errmsg") == "cannot insert document because it exceeds 100 levels of nesting",
            "a document 101 levels deep (%ss) is refused: Overflow" % container, r)
        check(r["n"] == 1, "the rest of the unordered batch is stored", r)
    # Empty documents and arrays add no level.
    coll.insert_one({"_id": "empty", "a": nested(100, "doc", leaf={})})
    coll.insert_one({"_id": "emptyarr", "a": nested(100, "array", leaf=[])})
    check(coll.count_documents({"_id": {"$in": ["empty", "emptyarr"]}}) == 2,
          "an empty object or array at level 101 adds no level")
    # The smallest document 101 levels deep (empty keys, a null inside: 707 bytes) is refused.
    smallest = {"": nested(101, "doc", key="", leaf=None)}
    check(len(bson.encode(smallest)) == 707, "the smallest 101-level document is 707 bytes",
          len(bson.encode(smallest)))
    r = db.command("insert", "depth", documents=[smallest])
    check((r.get("writeErrors") or [{}])[0].get("code") == 45,
          "the smallest 101-level document is refused", r)
    # Updates: the resulting document is measured.
    coll.insert_one({"_id": "u", "a": 1})
    coll.update_one({"_id": "u"}, {"$set": {"a": nested(100)}})
    r = db.command("update", "depth", updates=[
        {"q": {"_id": "u"}, "u": {"$set": {"a": nested(101)}}},
        {"q": {"_id": "v"}, "u": {"_id": "v", "a": nested(101)}, "upsert": True},
        {"q": {"_id": "w"}, "u": {"_id": "w", "a": nested(100)}, "upsert": True}], ordered=False)
    errs = r.get("writeErrors", [])
    check([(e["index"], e["code"]) for e in errs] == [(0, 45), (1, 45)] and errs[0]["errmsg"] ==
          "Document exceeds maximum nesting depth of 100" and r["n"] == 1
          and r["upserted"] == [{"index": 2, "_id": "w"}],
          "updates to 101 levels are refused (Overflow), to 100 applied", r)
    coll.drop()


def test_limit_write_batch_size(ep, c):
    db = c.lim
    db.batch.drop()
    rc = RawConnection(ep.port)
    try:
        docs = [bson.encode({"_id": i}) for i in range(MAX_BATCH + 1)]
        r = rc.send({"insert": "batch", "$db": "lim"}, [("documents", docs[:MAX_BATCH])])
        ok(r, "insert of exactly 100,000 documents", MAX_BATCH)
        db.batch.drop()
        r = rc.send({"insert": "batch", "$db": "lim"}, [("documents", docs)])
        command_error(r, 16, "insert of 100,001 documents")
        check(r["errmsg"] == "Write batch sizes must be between 1 and 100000. Got 100001 "
              "operations." and r["codeName"] == "InvalidLength", "InvalidLength message",
              dict(r))
        check(db.batch.estimated_document_count() == 0, "nothing of a refused batch is stored")
        r = rc.send({"insert": "batch", "$db": "lim", "documents": []})
        command_error(r, 16, "insert of no document")
        dels = [bson.encode({"q": {"_id": i}, "limit": 1}) for i in range(MAX_BATCH + 1)]
        r = rc.send({"delete": "batch", "$db": "lim"}, [("deletes", dels[:MAX_BATCH])])
        ok(r, "delete of exactly 100,000 statements")
        r = rc.send({"delete": "batch", "$db": "lim"}, [("deletes", dels)])
        command_error(r, 16, "delete of 100,001 statements")
        ups = [bson.encode({"q": {"_id": i}, "u": {"$set": {"a": 1}}}) for i in range(MAX_BATCH + 1)]
        r = rc.send({"update": "batch", "$db": "lim"}, [("updates", ups[:MAX_BATCH])])
        ok(r, "update of exactly 100,000 statements")
        r = rc.send({"update": "batch", "$db": "lim"}, [("updates", ups)])
        command_error(r, 16, "update of 100,001 statements")
    finally:
        rc.close()
        db.batch.drop()


def test_limit_message_size(ep, c):
    db = c.lim
    db.msg.drop()
    cmd = {"insert": "msg", "$db": "lim", "ordered": False}
    small = [bson.encode({"_id": 1, "x": "a" * 16000000}), bson.encode({"_id": 2, "x": "a" * 16000000})]
    overhead = 16 + len(RawConnection.message(cmd, [("documents", small + [b""])]))
    third = sized_doc(MAX_MESSAGE - overhead, 3)
    rc = RawConnection(ep.port)
    try:
        r = rc.send(cmd, [("documents", small + [third])])
        ok(r, "a message of exactly 48,000,000 bytes is answered", 3)
        rc.close()
        rc = RawConnection(ep.port)
        r = rc.send(cmd, [("documents", small + [sized_doc(MAX_MESSAGE - overhead + 1, 4)])])
        check(r is None, "a message of 48,000,001 bytes: the connection is closed, no reply")
    finally:
        rc.close()
    check(db.command("ping")["ok"] == 1.0, "the endpoint serves on after an oversized message")
    check(db.msg.count_documents({"_id": 4}) == 0, "nothing of the oversized message is stored")
    db.msg.drop()


def test_limit_namespaces(ep, c):
    db = c.lim
    at_limit = "c" * (255 - len("lim."))
    db[at_limit].insert_one({"_id": 1})
    check(db[at_limit].count_documents({}) == 1, "a namespace of exactly 255 bytes")
    exc = expect_code(lambda: db.command("insert", at_limit + "c", documents=[{"_id": 1}]), 73,
                      "a namespace of 256 bytes (insert)")
    check(exc.details.get("errmsg") == "Fully qualified namespace is too long. Namespace: lim.%sc "
          "Max: 255" % at_limit and exc.details.get("codeName") == "InvalidNamespace",
          "InvalidNamespace message", exc.details)
    expect_code(lambda: db.command("update", at_limit + "c", updates=[
        {"q": {"_id": 1}, "u": {"_id": 1}, "upsert": True}]), 73, "a namespace of 256 bytes (update)")
    expect_code(lambda: db.command("create", at_limit + "c"), 73,
                "a namespace of 256 bytes (create)")
    expect_code(lambda: c.admin.command("renameCollection", "lim." + at_limit,
                                        to="lim." + at_limit + "c"), 73,
                "a namespace of 256 bytes (renameCollection)")
    # Multi-byte characters count as bytes.
    expect_code(lambda: db.command("insert", "\u00e9" * 126, documents=[{"_id": 1}]), 73,
                "the namespace length is counted in bytes")
    db.drop_collection(at_limit)
    name63 = "d" * 63
    c[name63].t.insert_one({"_id": 1})
    check(c[name63].t.count_documents({}) == 1, "a database name of 63 bytes")
    c.drop_database(name63)
    expect_code(lambda: c["d" * 64].command("insert", "t", documents=[{"_id": 1}]), 73,
                "a database name of 64 bytes")
    rc = RawConnection(ep.port)
    try:
        command_error(rc.send({"insert": "t", "$db": "a.b", "documents": [{"_id": 1}]}), 73,
                      "a database name with a dot")
    finally:
        rc.close()
    expect_code(lambda: db.command("insert", "a$b", documents=[{"_id": 1}]), 73,
                "a collection name with '$'")
    expect_code(lambda: db.command("insert", "", documents=[{"_id": 1}]), 73,
                "an empty collection name")


def test_limit_field_names(ep, c):
    db = c.lim
    db.fields.drop()
    # $-prefixed top-level fields: refused in a replacement, stored elsewhere (MongoDB 5.0+).
    r = db.command("update", "fields", updates=[
        {"q": {"_id": 1}, "u": {"a": 1, "$x": 2}, "upsert": True},
        {"q": {"_id": 2}, "u": {"a": {"$x": 2}}, "upsert": True}], ordered=False)
    errs = r.get("writeErrors", [])
    check(len(errs) == 1 and errs[0]["index"] == 0 and errs[0]["code"] == 52 and errs[0][
        "errmsg"] == "The dollar ($) prefixed field '$x' in '$x' is not allowed in the context "
        "of an update's replacement document. Consider using an aggregation pipeline with "
        "$replaceWith." and r["n"] == 1,
        "a replacement with a $-prefixed top-level field: DollarPrefixedFieldName; embedded: "
        "stored", r)
    db.fields.insert_one({"_id": 3, "a": 1})
    r = db.command("update", "fields", updates=[{"q": {"_id": 3}, "u": {"a": 2, "$y": 1}}])
    check(r["writeErrors"][0]["code"] == 52 and db.fields.find_one({"_id": 3})["a"] == 1,
          "a replacement of an existing document with a $-prefixed field is refused", r)
    expect_code(lambda: db.command("findAndModify", "fields", query={"_id": 4},
                                   update={"a": 1, "$z": 1}, upsert=True), 52,
                "findAndModify replacement with a $-prefixed field")
    rc = RawConnection(ep.port)
    try:
        r = rc.send({"insert": "fields", "$db": "lim"},
                    [("documents", [document(int32("_id", 5), element("$top", 0x10, b"\x01\x00\x00\x00"))])])
        ok(r, "an inserted document may hold a $-prefixed top-level field", 1)
        # A NUL inside a field name ends the key: the document cannot be parsed.
        bad = document(int32("_id", 6), element("a\x00b", 0x02, struct.pack("<i", 2) + b"x\x00"))
        r = rc.send({"insert": "fields", "$db": "lim"}, [("documents", [bad])])
        command_error(r, 22, "a field name holding a NUL byte")
        check(r["codeName"] == "InvalidBSON", "InvalidBSON code name", dict(r))
        # Duplicate field names are stored and returned as sent.
        dup = document(int32("_id", 7), int32("a", 1), int32("b", 2), int32("a", 3))
        r = rc.send({"insert": "fields", "$db": "lim"}, [("documents", [dup])])
        ok(r, "a document with a duplicate field name is stored", 1)
        raw = db.get_collection("fields", codec_options=RAW)
        check(raw.find_one({"_id": 7}).raw == dup, "duplicate field names come back as sent")
        dup2 = document(int32("a", 1), int32("a", 2))
        r = rc.send({"update": "fields", "$db": "lim"}, [("updates", [document(
            element("q", 0x03, bson.encode({"_id": 8})), element("u", 0x03, dup2),
            element("upsert", 0x08, b"\x01"))])])
        ok(r, "an upsert replacement with a duplicate field name", 1)
        check(raw.find_one({"_id": 8}).raw == document(int32("_id", 8), int32("a", 1),
                                                      int32("a", 2)),
              "duplicate field names of a replacement are stored as sent, _id first")
        two_ids = document(int32("_id", 9), int32("_id", 10))
        r = rc.send({"insert": "fields", "$db": "lim", "ordered": False},
                    [("documents", [two_ids, bson.encode({"_id": 11})])])
        e = write_error(r, 2, "a document with two _id fields")
        check(e["errmsg"] == "can't have multiple _id fields in one document" and r["n"] == 1,
              "two _id fields: BadValue, the rest stored", dict(r))
    finally:
        rc.close()
        db.fields.drop()


DATE_MS = [-2 ** 63, -62167219200000, -62135596800001, -62135596800000, -1, 0,
           253402300799999, 253402300800000, 2 ** 63 - 1]


def test_limit_dates_whole_range(ep, c):
    """Every int64 millisecond count is a valid BSON date a real server stores (year 0, the
    MySQL zero date's year, included), and it comes back as sent."""
    db = c.lim
    db.dates.drop()
    docs = [document(int32("_id", i), date("d", ms), element("nested", 0x03, document(
        date("d", ms)))) for i, ms in enumerate(DATE_MS)]
    rc = RawConnection(ep.port)
    try:
        r = rc.send({"insert": "dates", "$db": "lim"}, [("documents", docs)])
        ok(r, "one batch holding dates over the whole int64 range (year 0 included)",
           len(DATE_MS))
        r = rc.send({"find": "dates", "$db": "lim", "filter": {}, "sort": {"d": -1}})
        got = [d.raw for d in r["cursor"]["firstBatch"]]
        check(got == list(reversed(docs)), "dates come back as sent, sorted by their value")
        r = rc.send(document(element("find", 0x02, struct.pack("<i", 6) + b"dates\x00"),
                             element("filter", 0x03, document(date("d", -62167219200000))),
                             element("$db", 0x02, struct.pack("<i", 4) + b"lim\x00")))
        got = [d.raw for d in r["cursor"]["firstBatch"]]
        check(got == [docs[1]], "find by a year-0 date")
        year0 = document(date("when", -62167219200000), int32("v", 1))
        r = rc.send({"update": "dates", "$db": "lim"}, [("updates", [document(
            element("q", 0x03, bson.encode({"_id": 100})), element("u", 0x03, year0),
            element("upsert", 0x08, b"\x01"))])])
        ok(r, "an upsert replacement holding a year-0 date", 1)
        db.dates.update_one({"_id": 100}, {"$set": {"v": 2}})
        r = rc.send({"find": "dates", "$db": "lim", "filter": {"_id": 100}})
        check(r["cursor"]["firstBatch"][0].raw == document(
            int32("_id", 100), date("when", -62167219200000), int32("v", 2)),
            "a $set keeps a year-0 date")
    finally:
        rc.close()
        db.dates.drop()


def test_limit_index_keys(ep, c):
    db = c.lim
    db.ix.drop()

    def create(key, **extra):
        spec = {"key": key, "name": extra.pop("name", "ix_%d" % len(str(key)))}
        spec.update(extra)
        return db.command("createIndexes", "ix", indexes=[spec])

    refused = [({"a": 0}, "Values in the index key pattern cannot be 0."),
               ({"a": 0.0}, "Values in the index key pattern cannot be 0."),
               ({"a": float("nan")}, "Values in the index key pattern cannot be NaN."),
               ({"a": True}, "Values in v:2 index key pattern cannot be of type bool. Only "
                             "numbers > 0, numbers < 0, and strings are allowed."),
               ({"a": {"x": 1}}, "Values in v:2 index key pattern cannot be of type object. "
                                 "Only numbers > 0, numbers < 0, and strings are allowed."),
               ({"a": "nosuch"}, "Unknown index plugin 'nosuch'"),
               ({"a": "hashed", "b": "text"},
                "Can't use more than one index plugin for a single index."),
               ({"": 1}, "Index keys cannot be an empty field."),
               ({"a..b": 1}, "Index keys cannot contain an empty field."),
               ({"$a": 1}, "Index key contains an illegal field name: field name starts with "
                           "'$'."),
               ({"a.$b": 1}, "Index key contains an illegal field name: field name starts with "
                             "'$'."),
               ({}, "Index keys cannot be empty.")]
    for key, why in refused:
        exc = expect_code(lambda key=key: create(key), 67, "index key %r refused" % (key,))
        check(exc.details["errmsg"].endswith(" :: caused by :: " + why)
              and exc.details["errmsg"].startswith("Error in specification "),
              "index key %r: message" % (key,), exc.details["errmsg"])
    expect_code(lambda: create({"a": 1}, name=""), 67, "an empty index name")
    for key in ({"a": -1}, {"a.$id": 1}, {"b": "hashed"}, {"c": 1.5}):
        check(create(key, name="ok_%s" % list(key)[0])["ok"] == 1.0,
              "index key %r accepted" % (key,))
    keys32 = {"k%02d" % i: 1 for i in range(32)}
    check(create(keys32, name="k32")["ok"] == 1.0, "a compound index of 32 fields")
    keys33 = dict(keys32, k32=1)
    exc = expect_code(lambda: create(keys33, name="k33"), 13103, "a compound index of 33 fields")
    check(exc.details["errmsg"] == "too many compound keys", "13103 message", exc.details)
    db.ix.drop()


def all_tests(ep, c):
    return [("limits: hello advertises them", lambda: test_limit_hello(c)),
            ("limits: document size", lambda: test_limit_document_size(ep, c)),
            ("limits: nesting depth", lambda: test_limit_nesting_depth(ep, c)),
            ("limits: write batch size", lambda: test_limit_write_batch_size(ep, c)),
            ("limits: message size", lambda: test_limit_message_size(ep, c)),
            ("limits: namespaces", lambda: test_limit_namespaces(ep, c)),
            ("limits: field names", lambda: test_limit_field_names(ep, c)),
            ("limits: dates over the whole int64 range", lambda: test_limit_dates_whole_range(
                ep, c)),
            ("limits: index keys", lambda: test_limit_index_keys(ep, c))]
