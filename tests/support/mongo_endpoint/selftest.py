#!/usr/bin/python3
"""Selftest of the MongoDB test endpoint (this package, started through tests/support/mongo_endpoint.py).

Starts the endpoint on a free loopback port (as a subprocess), drives every supported command
through pymongo and checks the answers against what a real MongoDB 5.0 server would say.
Also times 50,000 replaceOne upserts (printed, not asserted) and the --discard-writes mode.

Usage: /usr/bin/python3 tests/support/mongo_endpoint/selftest.py [-v]
Exit status 0 on success; non-zero with a message naming the failed check otherwise.
"""

try:
    import bson as _bson_probe  # noqa: F401
    import mongomock as _mongomock_probe  # noqa: F401
    import pymongo as _pymongo_probe  # noqa: F401
except ImportError:
    # Run by an interpreter without Debian's python3-pymongo/python3-mongomock (e.g. a pyenv
    # python3 on PATH): re-run with the system interpreter, which has them.
    import os as _os
    import sys as _sys
    if _os.path.exists("/usr/bin/python3") and _os.path.realpath(_sys.executable) != \
            _os.path.realpath("/usr/bin/python3"):
        _os.execv("/usr/bin/python3", ["/usr/bin/python3"] + _sys.argv)
    raise

import datetime
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

import bson
import pymongo
from bson import ObjectId
from bson.binary import Binary, UuidRepresentation
from bson.codec_options import CodecOptions
from bson.decimal128 import Decimal128
from bson.int64 import Int64
from bson.raw_bson import RawBSONDocument
from pymongo import DeleteOne, InsertOne, ReplaceOne, ReturnDocument, UpdateOne
from pymongo import monitoring
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure
from pymongo.write_concern import WriteConcern

import selftest_limits

HERE = os.path.dirname(os.path.abspath(__file__))
ENDPOINT = os.path.join(os.path.dirname(HERE), "mongo_endpoint.py")
PYTHON = "/usr/bin/python3"
VERBOSE = "-v" in sys.argv


class Failure(Exception):
    pass


def check(cond, what, detail=None):
    if not cond:
        raise Failure(what + ("" if detail is None else ": %r" % (detail,)))
    if VERBOSE:
        print("  ok: %s" % what)


def expect_error(fn, code, what):
    try:
        fn()
    except OperationFailure as exc:
        check(exc.code == code, what + " (error code %s)" % code,
              {"code": exc.code, "details": exc.details})
        return exc
    raise Failure(what + ": expected error code %s, got success" % code)


class Listener(monitoring.CommandListener):
    def __init__(self):
        self.names = []
        self.replies = []

    def started(self, event):
        self.names.append(event.command_name)

    def succeeded(self, event):
        self.replies.append((event.command_name, event.reply))

    def failed(self, event):
        self.replies.append((event.command_name, event.failure))

    def count(self, name):
        return self.names.count(name)

    def reset(self):
        self.names = []
        self.replies = []


class Endpoint(object):
    """The endpoint as a subprocess on a free port."""

    def __init__(self, tmpdir, *extra):
        self.port_file = os.path.join(tmpdir, "port-%d" % len(os.listdir(tmpdir)))
        self.stderr_path = self.port_file + ".stderr"
        self.stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(
            [PYTHON, ENDPOINT, "--host", "127.0.0.1", "--port", "0",
             "--port-file", self.port_file] + list(extra),
            stdout=subprocess.DEVNULL, stderr=self.stderr)
        deadline = time.time() + 20
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None:
                raise Failure("endpoint exited early with status %s: %s"
                              % (self.proc.returncode, self.read_stderr()))
            if time.time() > deadline:
                raise Failure("endpoint did not write its port file within 20 s")
            time.sleep(0.02)
        with open(self.port_file) as f:
            self.port = int(f.read().strip())

    def read_stderr(self):
        if not self.stderr.closed:
            self.stderr.flush()
        with open(self.stderr_path) as f:
            return f.read()

    def client(self, **kw):
        kw.setdefault("serverSelectionTimeoutMS", 5000)
        return pymongo.MongoClient("127.0.0.1", self.port, **kw)

    def stop(self):
        if self.proc.poll() is None:
            t0 = time.time()
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise Failure("endpoint did not exit within 10 s of SIGTERM")
            check(rc == 0, "endpoint exits 0 on SIGTERM", rc)
            check(time.time() - t0 < 3, "endpoint exits promptly on SIGTERM", time.time() - t0)
        self.stderr.close()


# ------------------------------------------------------------------------------------------------


def test_handshake_and_misc(c):
    check(c.admin.command("ping") == {"ok": 1.0}, "ping")
    im = c.admin.command("isMaster")
    check(im.get("ismaster") is True and im["ok"] == 1.0, "isMaster", im)
    check(im["maxWireVersion"] >= 13 and im["maxBsonObjectSize"] == 16 * 1024 * 1024
          and im["maxMessageSizeBytes"] == 48000000 and im["maxWriteBatchSize"] == 100000,
          "isMaster limits", im)
    check("msg" not in im and "setName" not in im, "standalone isMaster reply", im)
    hello = c.admin.command("hello")
    check(hello.get("isWritablePrimary") is True, "hello", hello)
    bi = c.admin.command("buildInfo")
    check(bi["version"] == "5.0.0-mysql2mongo-test-endpoint" and bi["versionArray"][0] == 5,
          "buildInfo", bi)
    check(c.admin.command("endSessions", [])["ok"] == 1.0, "endSessions")
    exc = expect_error(lambda: c.admin.command("fsync"), 59, "unsupported command")
    check(exc.details.get("codeName") == "CommandNotFound"
          and exc.details.get("errmsg") ==
          "command 'fsync' not supported by the mysql2mongo test endpoint",
          "unsupported command reply", exc.details)
    expect_error(lambda: c.t.command("serverStatus"), 59, "serverStatus is not faked")


def test_insert_and_unique(db):
    db.u.drop()
    r = db.command("createIndexes", "u", indexes=[{"key": {"id": 1}, "name": "id_1",
                                                   "unique": True}])
    check(r["ok"] == 1.0 and r["numIndexesAfter"] == 2 and r["createdCollectionAutomatically"],
          "createIndexes creates the collection", r)
    r = db.command("createIndexes", "u", indexes=[{"key": {"id": 1}, "name": "id_1",
                                                   "unique": True}])
    check(r.get("note") == "all indexes already exist", "createIndexes is idempotent", r)
    expect_error(lambda: db.command("createIndexes", "u", indexes=[
        {"key": {"other": 1}, "name": "id_1"}]), 86, "same index name, different key")
    db.command("createIndexes", "u", indexes=[{"key": {"a": 1, "b": -1}, "name": "a_1_b_-1",
                                               "unique": True}])
    db.u.insert_many([{"id": 1, "a": 1, "b": "x"}, {"id": 2, "a": 1, "b": "y"}])
    try:
        db.u.insert_one({"id": 1, "a": 9, "b": "z"})
        raise Failure("duplicate insert accepted")
    except DuplicateKeyError as exc:
        check(exc.code == 11000 and "E11000 duplicate key error" in str(exc)
              and "index: id_1" in str(exc), "insert duplicate -> 11000", exc.details)
        check(exc.details.get("keyValue") == {"id": 1}, "keyValue in write error", exc.details)
    # int 1 vs long 1 vs double 1.0 vs decimal 1 are the same key
    for dup in (Int64(2), 2.0, Decimal128("2.00")):
        try:
            db.u.insert_one({"id": dup, "a": "dup"})
            raise Failure("duplicate key %r accepted" % (dup,))
        except DuplicateKeyError:
            pass
    check(True, "numeric key normalisation (int/long/double/decimal)")
    # strings are exact
    db.u.insert_one({"id": "1", "a": "s1"})
    db.u.insert_one({"id": "1 ", "a": "s2"})
    # compound unique
    try:
        db.u.insert_one({"id": 3, "a": 1, "b": "x"})
        raise Failure("compound duplicate accepted")
    except DuplicateKeyError as exc:
        check("a_1_b_-1" in str(exc), "compound unique index enforced", str(exc))
    # unordered bulk continues after the error, ordered stops
    try:
        db.u.insert_many([{"id": 10, "a": 10}, {"id": 10, "a": 11}, {"id": 11, "a": 12}],
                         ordered=False)
    except BulkWriteError as exc:
        d = exc.details
        check(d["nInserted"] == 2 and len(d["writeErrors"]) == 1
              and d["writeErrors"][0]["index"] == 1 and d["writeErrors"][0]["code"] == 11000,
              "unordered insert with duplicate", d)
    try:
        db.u.insert_many([{"id": 20, "a": 20}, {"id": 20, "a": 21}, {"id": 21, "a": 22}],
                         ordered=True)
    except BulkWriteError as exc:
        check(exc.details["nInserted"] == 1, "ordered insert stops at duplicate", exc.details)
    check(db.u.count_documents({"id": 21}) == 0, "ordered insert did not continue")
    # duplicate _id
    oid = ObjectId()
    db.u.insert_one({"_id": oid, "id": 100, "a": 100})
    try:
        db.u.insert_one({"_id": oid, "id": 101, "a": 101})
        raise Failure("duplicate _id accepted")
    except DuplicateKeyError as exc:
        check("index: _id_" in str(exc), "duplicate _id -> 11000", str(exc))
    # update causing a duplicate
    try:
        db.u.update_one({"id": 100}, {"$set": {"id": 1}})
        raise Failure("update to duplicate accepted")
    except DuplicateKeyError:
        check(db.u.count_documents({"id": 100}) == 1, "failed update left the document alone")
    try:
        db.u.replace_one({"id": 100}, {"id": 2, "a": 102})
        raise Failure("replace to duplicate accepted")
    except DuplicateKeyError:
        pass
    # the index moved with a successful key change
    db.u.update_one({"id": 100}, {"$set": {"id": 200}})
    check(db.u.find_one({"id": 200})["_id"] == oid, "key change via $set is indexed")
    db.u.insert_one({"id": 100, "a": 103})
    check(db.u.count_documents({"id": 100}) == 1, "old key value freed after key change")
    # unique index over existing duplicates fails with 11000
    db.dups.drop()
    db.dups.insert_many([{"k": 1}, {"k": 1}])
    expect_error(lambda: db.command("createIndexes", "dups", indexes=[
        {"key": {"k": 1}, "name": "k_1", "unique": True}]), 11000,
        "unique index over duplicates")
    names = [ix["name"] for ix in db.dups.list_indexes()]
    check(names == ["_id_"], "failed index build leaves no index", names)
    # sparse unique: missing fields do not collide
    db.command("createIndexes", "sp", indexes=[{"key": {"s": 1}, "name": "s_1", "unique": True,
                                                "sparse": True}])
    db.sp.insert_many([{"x": 1}, {"x": 2}, {"s": 1}])
    try:
        db.sp.insert_one({"s": 1})
        raise Failure("sparse duplicate accepted")
    except DuplicateKeyError:
        pass
    # non-sparse unique: two documents missing the key collide (both are null)
    db.ns.drop()
    db.ns.create_index("z", unique=True)
    db.ns.insert_one({"q": 1})
    try:
        db.ns.insert_one({"q": 2})
        raise Failure("second null key accepted")
    except DuplicateKeyError:
        check(True, "missing key indexes as null")


def test_updates(db):
    db.up.drop()
    db.up.create_index("id", unique=True)
    # bulk replace upserts: upserted[{index,_id}], n, nModified
    r = db.up.bulk_write([ReplaceOne({"id": i}, {"id": i, "v": i}, upsert=True)
                          for i in range(5)])
    res = r.bulk_api_result
    check(res["nUpserted"] == 5 and res["nMatched"] == 0 and res["nModified"] == 0,
          "replace upserts insert", res)
    check([u["index"] for u in res["upserted"]] == [0, 1, 2, 3, 4]
          and all(isinstance(u["_id"], ObjectId) for u in res["upserted"]),
          "upserted entries", res["upserted"])
    ids = {d["id"]: d["_id"] for d in db.up.find()}
    r = db.up.bulk_write([ReplaceOne({"id": i}, {"id": i, "v": i * 10 + 1 if i < 2 else i},
                                     upsert=True) for i in range(5)])
    res = r.bulk_api_result
    check(res["nMatched"] == 5 and res["nModified"] == 2 and res["nUpserted"] == 0,
          "replace existing: identical documents are not modified", res)
    check({d["id"]: d["_id"] for d in db.up.find()} == ids, "replacement keeps _id")
    doc = db.up.find_one({"id": 1}, {"_id": 0})
    check(doc == {"id": 1, "v": 11}, "replacement content", doc)
    # replacement with a mismatching _id
    try:
        db.up.replace_one({"id": 1}, {"_id": 12345, "id": 1})
        raise Failure("_id change accepted")
    except OperationFailure as exc:
        check(exc.code == 66, "replacement changing _id -> 66 ImmutableField", exc.details)
    # upsert takes _id from the filter, then from the replacement
    r = db.up.replace_one({"_id": "fromfilter"}, {"id": 50}, upsert=True)
    check(r.upserted_id == "fromfilter", "replace upsert uses the filter's _id", r.upserted_id)
    r = db.up.replace_one({"id": 51}, {"_id": "fromdoc", "id": 51}, upsert=True)
    check(r.upserted_id == "fromdoc", "replace upsert uses the replacement's _id")
    check(list(db.up.find_one({"id": 51}).keys())[0] == "_id", "_id stored first")
    # operator updates
    r = db.up.update_one({"id": 2}, {"$set": {"s": "x"}, "$inc": {"v": 5}})
    check(r.matched_count == 1 and r.modified_count == 1, "$set/$inc update", r.raw_result)
    check(db.up.find_one({"id": 2}, {"_id": 0}) == {"id": 2, "v": 7, "s": "x"}, "$set/$inc result")
    r = db.up.update_one({"id": 2}, {"$set": {"s": "x"}})
    check(r.matched_count == 1 and r.modified_count == 0, "no-op $set is not a modification")
    r = db.up.update_one({"id": 60, "k": "a"}, {"$set": {"v": 1}, "$setOnInsert": {"c": 1}},
                         upsert=True)
    d = db.up.find_one({"id": 60}, {"_id": 0})
    check(r.upserted_id is not None and d == {"id": 60, "k": "a", "v": 1, "c": 1},
          "operator upsert seeds from the filter and applies $setOnInsert", d)
    db.up.update_one({"id": 60}, {"$set": {"v": 2}, "$setOnInsert": {"c": 99}}, upsert=True)
    check(db.up.find_one({"id": 60})["c"] == 1, "$setOnInsert ignored on update")
    db.up.update_one({"id": 60}, {"$set": {"n.a.b": 1}, "$unset": {"k": ""}, "$push": {"arr": 3}})
    d = db.up.find_one({"id": 60}, {"_id": 0})
    check(d == {"id": 60, "v": 2, "c": 1, "n": {"a": {"b": 1}}, "arr": [3]},
          "dotted $set, $unset, $push", d)
    r = db.up.update_many({"v": {"$gte": 3}}, {"$set": {"big": True}})
    check(r.matched_count == 4 and r.modified_count == 4, "multi update", r.raw_result)
    r = db.up.update_many({"nothing": 1}, {"$set": {"x": 1}})
    check(r.matched_count == 0, "update matching nothing")
    # pipeline update
    db.up.update_one({"id": 3}, [{"$set": {"w": {"$add": ["$v", 1]}}}])
    check(db.up.find_one({"id": 3})["w"] == 4, "pipeline-style update")
    # update with a filter that is not an index equality (goes through mongomock)
    r = db.up.update_one({"v": {"$lte": 1}, "id": {"$in": [0]}}, {"$set": {"low": 1}})
    check(r.modified_count == 1 and db.up.find_one({"low": 1})["id"] == 0, "non-indexed filter")
    expect_error(lambda: db.up.update_one({"id": 3}, {"$bogus": {"a": 1}}), 9,
                 "unknown update operator")
    # deletes: limit 1 and limit 0
    db.dl.drop()
    db.dl.insert_many([{"g": 1}, {"g": 1}, {"g": 1}, {"g": 2}])
    r = db.dl.delete_one({"g": 1})
    check(r.deleted_count == 1 and db.dl.count_documents({"g": 1}) == 2, "delete limit 1")
    r = db.dl.delete_many({"g": 1})
    check(r.deleted_count == 2 and db.dl.count_documents({}) == 1, "delete limit 0")
    r = db.up.delete_one({"id": 4})
    check(r.deleted_count == 1 and db.up.count_documents({"id": 4}) == 0, "indexed delete")
    db.up.insert_one({"id": 4})
    check(db.up.count_documents({"id": 4}) == 1, "deleted key can be reused")
    # mixed bulk
    r = db.mx.bulk_write([InsertOne({"_id": 1}), UpdateOne({"_id": 1}, {"$set": {"a": 1}}),
                          ReplaceOne({"_id": 2}, {"b": 2}, upsert=True), DeleteOne({"_id": 1})])
    res = r.bulk_api_result
    check(res["nInserted"] == 1 and res["nModified"] == 1 and res["nUpserted"] == 1
          and res["nRemoved"] == 1, "mixed bulk write", res)
    # compound keys stored as an embedded _id document (key_as_id)
    db.cid.drop()
    r = db.cid.bulk_write([ReplaceOne({"_id": {"a": i, "b": "k%d" % i}},
                                      {"_id": {"a": i, "b": "k%d" % i}, "v": i}, upsert=True)
                           for i in range(5)])
    check(r.upserted_count == 5, "upsert by embedded-document _id")
    r = db.cid.replace_one({"_id": {"a": 2, "b": "k2"}}, {"v": 20})
    check(r.modified_count == 1 and db.cid.find_one({"_id": {"a": 2, "b": "k2"}})["v"] == 20,
          "replace by embedded-document _id")
    check(db.cid.find_one({"_id": {"b": "k2", "a": 2}}) is None,
          "embedded-document equality is field-order sensitive")
    check(db.cid.find_one({"_id": {"a": 2.0, "b": "k2"}}) is not None,
          "embedded-document equality compares numbers by value")
    got = [d["_id"]["a"] for d in db.cid.find({"_id": {"$in": [{"a": 3, "b": "k3"},
                                                                {"a": 1, "b": "k1"}]}})]
    check(sorted(got) == [1, 3], "$in on _id", got)
    got = [d["id"] for d in db.up.find({"id": {"$in": [3, 1, 99, 1.0]}})]
    check(got == [1, 3], "$in on a unique field (index order, no duplicates)", got)
    got = [d["id"] for d in db.up.find({"id": {"$in": [3, 1]}, "v": 11})]
    check(got == [1], "$in plus another condition", got)
    db.emb.drop()
    db.emb.insert_many([{"k": {"x": 1}}, {"k": [{"x": 1}, 2]}, {"k": {"x": 1, "y": 2}}, {"k": 2}])
    check(db.emb.count_documents({"k": {"x": 1}}) == 2, "embedded-document equality scan")
    check(db.emb.count_documents({"k": 2}) == 2, "equality matches array elements")
    check(db.emb.count_documents({"k": None}) == 0 and db.emb.count_documents({"z": None}) == 4,
          "null matches missing fields")
    # w:0 writes (OP_MSG moreToCome, no reply)
    unack = db.get_collection("w0", write_concern=WriteConcern(w=0))
    unack.insert_one({"_id": "unacked"})
    deadline = time.time() + 5
    while db.w0.count_documents({}) != 1 and time.time() < deadline:
        time.sleep(0.01)
    check(db.w0.count_documents({}) == 1, "unacknowledged (w:0) insert")


def test_find(db, listener):
    db.f.drop()
    db.f.insert_many([{"_id": i, "n": i % 7, "s": "s%03d" % i, "sub": {"x": i}} for i in range(250)])
    listener.reset()
    docs = list(db.f.find({}, batch_size=7))
    check(len(docs) == 250 and [d["_id"] for d in docs] == list(range(250)), "natural order")
    check(listener.count("getMore") == 35, "batchSize 7 -> 35 getMores",
          listener.count("getMore"))
    first = db.command("find", "f")
    check(len(first["cursor"]["firstBatch"]) == 101 and first["cursor"]["id"] != 0,
          "default first batch is 101 documents", len(first["cursor"]["firstBatch"]))
    more = db.command("getMore", first["cursor"]["id"], collection="f")
    check(len(more["cursor"]["nextBatch"]) == 149 and more["cursor"]["id"] == 0,
          "getMore returns the rest and closes", more["cursor"]["id"])
    expect_error(lambda: db.command("getMore", Int64(first["cursor"]["id"]), collection="f"), 43,
                 "exhausted cursor is gone")
    got = [d["_id"] for d in db.f.find({"n": 3}).sort([("s", -1)]).skip(2).limit(5)]
    want = sorted([i for i in range(250) if i % 7 == 3], key=lambda i: "s%03d" % i,
                  reverse=True)[2:7]
    check(got == want, "filter/sort/skip/limit", got)
    got = [(d["n"], d["_id"]) for d in db.f.find({"_id": {"$lt": 20}}).sort([("n", 1), ("_id", -1)])]
    want = sorted([(i % 7, i) for i in range(20)], key=lambda t: (t[0], -t[1]))
    check(got == want, "compound sort with mixed directions", got)
    d = db.f.find_one({"_id": 5}, {"s": 1, "sub.x": 1})
    check(d == {"_id": 5, "s": "s005", "sub": {"x": 5}} and list(d) == ["_id", "s", "sub"],
          "inclusion projection keeps field order", d)
    d = db.f.find_one({"_id": 5}, {"_id": 0, "sub": 0})
    check(d == {"n": 5, "s": "s005"}, "exclusion projection", d)
    check(db.f.find_one({"sub.x": 17})["_id"] == 17, "dotted filter")
    check(db.f.find_one({"_id": 17.0})["_id"] == 17, "_id lookup normalises numbers")
    # killCursors
    listener.reset()
    cur = db.f.find({}, batch_size=10)
    next(cur)
    cur.close()
    kills = [r for n, r in listener.replies if n == "killCursors"]
    check(len(kills) == 1 and len(kills[0]["cursorsKilled"]) == 1, "killCursors", kills)
    # count
    check(db.command("count", "f", query={"n": 0})["n"] == 36, "count with query")
    check(db.command("count", "f")["n"] == 250, "count all")
    check(db.command("count", "f", query={"_id": 3})["n"] == 1, "count indexed")
    check(db.command("count", "nonexistent")["n"] == 0, "count on a missing collection")
    check(db.f.estimated_document_count() == 250, "estimated_document_count")
    check(db.f.count_documents({"n": {"$in": [1, 2]}}) == 72, "count_documents (aggregate)")
    check(sorted(db.f.distinct("n")) == list(range(7)), "distinct")
    # aggregate
    res = list(db.f.aggregate([{"$match": {"_id": {"$lt": 70}}},
                               {"$group": {"_id": "$n", "c": {"$sum": 1}}},
                               {"$sort": {"_id": 1}}]))
    check(res == [{"_id": i, "c": 10} for i in range(7)], "aggregate $match/$group/$sort", res)
    listener.reset()
    res = list(db.f.aggregate([{"$sort": {"_id": -1}}, {"$project": {"s": 1}}], batchSize=50))
    check(len(res) == 250 and res[0] == {"_id": 249, "s": "s249"}, "aggregate with cursor")
    check(listener.count("getMore") == 4, "aggregate getMore", listener.count("getMore"))
    # sort over mixed numeric types and Decimal128
    db.mixed.drop()
    db.mixed.insert_many([{"_id": 1, "v": Decimal128("2.5")}, {"_id": 2, "v": 1},
                          {"_id": 3, "v": Int64(3)}, {"_id": 4, "v": 2.0}, {"_id": 5, "v": None},
                          {"_id": 6, "v": "a"}, {"_id": 7}])
    order = [d["_id"] for d in db.mixed.find().sort("v", 1)]
    check(order[:2] in ([5, 7], [7, 5]) and order[2:] == [2, 4, 1, 3, 6],
          "BSON sort order across types", order)
    check([d["_id"] for d in db.mixed.find({"v": {"$gt": 2}})] == [1, 3],
          "$gt over int/long/double/decimal", [d["_id"] for d in db.mixed.find({"v": {"$gt": 2}})])


def test_collections(c, db):
    db.lc1.insert_one({"a": 1})
    db.create_collection("lc2")
    expect_error(lambda: db.command("create", "lc2"), 48, "create existing collection")
    names = db.list_collection_names()
    check("lc1" in names and "lc2" in names, "listCollections", names)
    res = list(db.list_collections(filter={"name": "lc2"}))
    check(len(res) == 1 and res[0]["name"] == "lc2" and res[0]["type"] == "collection",
          "listCollections with a name filter", res)
    check(db.list_collection_names(filter={"name": {"$regex": "^lc"}}) == ["lc1", "lc2"],
          "listCollections with a regex filter")
    db.lc1.create_index([("a", 1)], name="a_idx")
    ix = list(db.lc1.list_indexes())
    check([i["name"] for i in ix] == ["_id_", "a_idx"] and ix[1]["key"] == {"a": 1}
          and ix[1]["v"] == 2, "listIndexes", ix)
    expect_error(lambda: db.command("listIndexes", "nosuch"), 26,
                 "listIndexes on a missing collection")
    db.lc1.drop_index("a_idx")
    check([i["name"] for i in db.lc1.list_indexes()] == ["_id_"], "dropIndexes")
    r = db.command("drop", "lc2")
    check(r["ok"] == 1.0 and "lc2" not in db.list_collection_names(), "drop")
    expect_error(lambda: db.command("drop", "lc2"), 26, "drop a missing collection")
    # renameCollection
    db.r1.drop()
    db.r2.drop()
    db.r1.create_index("k", unique=True)
    db.r1.insert_many([{"k": 1}, {"k": 2}])
    db.r2.insert_one({"other": True})
    expect_error(lambda: c.admin.command("renameCollection", "t.r1", to="t.r2"), 48,
                 "rename onto an existing collection")
    expect_error(lambda: c.admin.command("renameCollection", "t.nosuch", to="t.r9"), 26,
                 "rename a missing collection")
    expect_error(lambda: db.command("renameCollection", "t.r1", to="t.r9"), 13,
                 "renameCollection outside admin")
    c.admin.command("renameCollection", "t.r1", to="t.r2", dropTarget=True)
    check("r1" not in db.list_collection_names() and db.r2.count_documents({}) == 2
          and db.r2.count_documents({"other": True}) == 0, "rename with dropTarget")
    try:
        db.r2.insert_one({"k": 1})
        raise Failure("unique index lost in rename")
    except DuplicateKeyError:
        check(True, "unique index follows the renamed collection")
    c.admin.command("renameCollection", "t.r2", to="t2.moved")
    check(c.t2.moved.count_documents({}) == 2, "rename across databases")
    # findAndModify
    db.fm.drop()
    db.fm.create_index("k", unique=True)
    db.fm.insert_many([{"k": i, "v": i} for i in range(5)])
    d = db.fm.find_one_and_update({"v": {"$gte": 2}}, {"$inc": {"v": 100}}, sort=[("v", -1)],
                                  return_document=ReturnDocument.AFTER, projection={"_id": 0})
    check(d == {"k": 4, "v": 104}, "findAndModify sort+update+new+fields", d)
    d = db.fm.find_one_and_update({"k": 3}, {"$set": {"v": 0}})
    check(d["v"] == 3, "findAndModify returns the old document by default", d)
    d = db.fm.find_one_and_update({"k": 77}, {"$set": {"v": 7}}, upsert=True,
                                  return_document=ReturnDocument.AFTER)
    check(d["k"] == 77 and d["v"] == 7, "findAndModify upsert", d)
    d = db.fm.find_one_and_update({"k": 78}, {"$set": {"v": 7}}, upsert=True)
    check(d is None and db.fm.count_documents({"k": 78}) == 1, "findAndModify upsert, new=false")
    d = db.fm.find_one_and_replace({"k": 1}, {"k": 1, "r": True},
                                   return_document=ReturnDocument.AFTER)
    check(d["r"] is True and "v" not in d, "findAndModify replacement", d)
    d = db.fm.find_one_and_delete({"k": 0})
    check(d["k"] == 0 and db.fm.count_documents({"k": 0}) == 0, "findAndModify remove", d)
    check(db.fm.find_one_and_update({"k": 999}, {"$set": {"v": 1}}) is None,
          "findAndModify without a match")
    raw = db.command("findAndModify", "fm", query={"k": 2}, update={"$set": {"z": 1}})
    check(raw["lastErrorObject"] == {"n": 1, "updatedExisting": True}, "lastErrorObject", raw)
    expect_error(lambda: db.fm.find_one_and_update({"k": 2}, {"$set": {"k": 1}}), 11000,
                 "findAndModify duplicate key")
    # the run-lock pattern: take the lease if free, expired or ours; E11000 when held
    db.lock.drop()
    now = datetime.datetime(2024, 5, 6, 7, 8, 9, 123000)

    def take(owner, at):
        return db.lock.find_one_and_update(
            {"_id": "sync", "$or": [{"expires_at": {"$lt": at}}, {"owner": owner}]},
            {"$set": {"owner": owner, "expires_at": at + datetime.timedelta(seconds=30)}},
            upsert=True, return_document=ReturnDocument.AFTER)

    check(take("a:1", now)["owner"] == "a:1", "lease: first taker gets it")
    check(take("a:1", now)["owner"] == "a:1", "lease: owner renews")
    expect_error(lambda: take("b:2", now), 11000, "lease: held lease -> E11000")
    later = now + datetime.timedelta(seconds=31)
    check(take("b:2", later)["owner"] == "b:2", "lease: expired lease is taken over")
    r = db.lock.update_one({"_id": "sync", "owner": "a:1"}, {"$set": {"x": 1}})
    check(r.matched_count == 0, "lease: old owner's renewal matches nothing")
    # leases on the server's clock: $$NOW in $expr filters and in pipeline updates ($add of a date)
    db.units.drop()
    db.units.insert_many([{"_id": 1, "state": "claimed", "exp": datetime.datetime(2000, 1, 1)},
                          {"_id": 2, "state": "claimed", "exp": datetime.datetime(2999, 1, 1)}])
    got = db.units.find_one_and_update(
        {"state": "claimed", "$expr": {"$lt": ["$exp", "$$NOW"]}},
        [{"$set": {"owner": "b:2", "exp": {"$add": ["$$NOW", 60000]},
                   "token": {"$add": [{"$ifNull": ["$token", 0]}, 1]}}}],
        return_document=ReturnDocument.AFTER)
    before = datetime.datetime.utcnow()
    check(got is not None and got["_id"] == 1 and got["token"] == 1, "$$NOW: the expired lease is claimed", got)
    check(got["exp"] > before + datetime.timedelta(seconds=50), "$$NOW + 60 s is a date a minute ahead", got)
    check(db.units.count_documents({"$expr": {"$lt": ["$exp", "$$NOW"]}}) == 0, "$$NOW: nothing expired now")
    # dropDatabase
    c.drop_database("t2")
    check("t2" not in c.list_database_names(), "dropDatabase / listDatabases")


def test_types(db):
    db.types.drop()
    when = datetime.datetime(2021, 3, 4, 5, 6, 7, 891000)
    doc = {"_id": 1,
           "z_first": "key order is kept",
           "dec": Decimal128("12345678901234567890.123456789"),
           "long": Int64(5), "int": 5, "big": 2 ** 40, "dbl": 2.5, "negzero": -0.0,
           "dt": when, "old": datetime.datetime(1001, 1, 1, 0, 0, 0, 1000),
           "bin": b"\x00\x01\x00nul\x00", "bin4": Binary(b"\x01" * 16, 4),
           "bin80": Binary(b"\x00x", 0x80),
           "none": None, "t": True, "f": False, "s": "\u00e9\u4e2d\U0001F600",
           "nested": {"arr": [1, [2, [3, {"deep": Decimal128("-0.00")}]], {"k": None}], "e": {}},
           "emptyarr": [], "a_last": 0}
    db.types.insert_one(dict(doc))
    raw_coll = db.get_collection("types", codec_options=CodecOptions(document_class=RawBSONDocument))
    got_raw = raw_coll.find_one({"_id": 1}).raw
    check(got_raw == bson.encode(doc), "byte-exact BSON round trip (insert/find)")
    plain = db.get_collection("types", codec_options=CodecOptions(
        uuid_representation=UuidRepresentation.UNSPECIFIED))
    got = plain.find_one({"_id": 1})
    check(list(got) == list(doc), "key order preserved", list(got))
    check(type(got["long"]) is Int64 and type(got["int"]) is int, "Int64 vs int32 preserved")
    check(got["dt"] == when, "datetime with milliseconds", got["dt"])
    check(type(got["bin"]) is bytes and got["bin"] == doc["bin"],
          "binary subtype 0 with NUL bytes", got["bin"])
    check(got["bin4"].subtype == 4 and got["bin80"].subtype == 0x80, "binary subtypes kept")
    check(got["dec"] == doc["dec"], "Decimal128")
    # round trip through an upsert replacement and an operator update
    doc2 = dict(doc)
    doc2["_id"] = 2
    db.types.replace_one({"_id": 2}, doc2, upsert=True)
    check(raw_coll.find_one({"_id": 2}).raw == bson.encode(doc2), "byte-exact after upsert")
    db.types.update_one({"_id": 2}, {"$set": {"dt2": when, "dec2": Decimal128("1.10")}})
    got = db.types.find_one({"_id": 2})
    check(got["dt2"] == when and str(got["dec2"]) == "1.10", "types via $set")
    check(db.types.find_one({"dec": Decimal128("12345678901234567890.123456789")})["_id"] == 1,
          "find by Decimal128")
    check(db.types.find_one({"bin": b"\x00\x01\x00nul\x00"})["_id"] == 1, "find by binary")
    check(db.types.find_one({"dt": when})["_id"] == 1, "find by datetime")
    db.types.create_index("dec", unique=True, partialFilterExpression={"_id": {"$gte": 10}})
    db.types.create_index("u", unique=True, sparse=True)
    db.types.insert_one({"_id": 10, "u": Decimal128("7.0"), "dec": 1})
    try:
        db.types.insert_one({"_id": 11, "u": 7})
        raise Failure("Decimal128 7.0 and int 7 considered different keys")
    except DuplicateKeyError:
        check(True, "Decimal128 keys compare by value")
    db.types.insert_one({"_id": 12, "u": datetime.datetime(2020, 1, 1), "dec": 2})
    db.types.insert_one({"_id": 13, "u": b"\x00", "dec": 3})
    db.types.insert_one({"_id": 14, "u": Binary(b"\x00", 5), "dec": 4})
    check(db.types.count_documents({"u": b"\x00"}) == 1, "binary subtype is part of the key")


def test_concurrency(ep):
    errors = []

    def worker(w):
        try:
            cl = ep.client(maxPoolSize=4)
            coll = cl.t.conc
            for b in range(10):
                coll.bulk_write([ReplaceOne({"id": w * 100000 + b * 100 + i},
                                            {"id": w * 100000 + b * 100 + i, "w": w},
                                            upsert=True) for i in range(100)], ordered=False)
                list(coll.find({"w": w}).limit(5))
            cl.close()
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    cl = ep.client()
    cl.t.conc.drop()
    cl.t.conc.create_index("id", unique=True)
    threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    check(not errors, "concurrent clients", errors)
    check(cl.t.conc.count_documents({}) == 8000, "concurrent upserts all stored",
          cl.t.conc.count_documents({}))
    cl.close()


def bench_upserts(c, n=50000, batch=1000):
    coll = c.bench.docs
    coll.drop()
    c.bench.command("createIndexes", "docs", indexes=[{"key": {"id": 1}, "name": "id_1",
                                                       "unique": True}])
    now = datetime.datetime(2024, 1, 2, 3, 4, 5, 678000)

    def make(i, rev):
        return {"id": i, "name": "row %d" % i, "qty": i % 1000, "price": Decimal128("%d.25" % i),
                "created": now, "active": bool(i % 2), "note": None, "rev": rev}

    times = []
    for rev in (1, 2):
        t0 = time.time()
        for start in range(0, n, batch):
            res = coll.bulk_write([ReplaceOne({"id": i}, make(i, rev), upsert=True)
                                   for i in range(start, start + batch)])
        times.append(time.time() - t0)
        if rev == 1:
            check(res.upserted_count == batch, "bench: first pass upserts")
        else:
            check(res.modified_count == batch, "bench: second pass modifies")
    check(coll.estimated_document_count() == n, "bench: document count")
    return times


def bench_discard(tmpdir):
    ep = Endpoint(tmpdir, "--discard-writes", "--keep-writes-for", "meta*")
    try:
        c = ep.client()
        coll = c.disc.docs
        docs = [{"id": i, "v": "x"} for i in range(1000)]
        raw = [RawBSONDocument(bson.encode(d)) for d in docs]
        t0 = time.time()
        total = 0
        for _ in range(100):
            coll.insert_many(raw, ordered=False)
            total += len(raw)
        dt = time.time() - t0
        check(coll.count_documents({}) == 0, "discard mode stores nothing")
        r = c.disc.command("insert", "docs", documents=docs[:10])
        check(r["n"] == 10 and r["ok"] == 1.0, "discard mode counts inline documents", r)
        r = coll.bulk_write([ReplaceOne({"id": i}, {"id": i}, upsert=True) for i in range(10)]
                            + [DeleteOne({"id": 1})])
        res = r.bulk_api_result
        check(res["nMatched"] == 10 and res["nModified"] == 0 and res["nRemoved"] == 1,
              "discard mode acknowledges updates and deletes", res)
        c.disc.meta.insert_one({"_id": "checkpoint", "pos": 42})
        check(c.disc.meta.find_one({"_id": "checkpoint"})["pos"] == 42,
              "--keep-writes-for stores matching collections")
        c.disc["_sync_metadata"].create_index("table_name", unique=True)
        c.disc["_sync_metadata"].replace_one({"table_name": "t1"}, {"table_name": "t1", "n": 1},
                                          upsert=True)
        c.disc["_sync_metadata"].update_one({"table_name": "t1"}, {"$set": {"checkpoint": ["5"]}},
                                         upsert=True)
        d = c.disc["_sync_metadata"].find_one({"table_name": "t1"}, {"_id": 0})
        check(d == {"table_name": "t1", "n": 1, "checkpoint": ["5"]},
              "discard mode keeps writes to _* collections (_sync_metadata)", d)
        c.disc.other.find_one_and_update({"_id": 1}, {"$set": {"a": 1}}, upsert=True)
        check(c.disc.other.count_documents({}) == 1, "discard mode: other commands work")
        c.close()
    finally:
        ep.stop()
    return total, dt


def main():
    t_start = time.time()
    tmpdir = tempfile.mkdtemp(prefix="mongo_endpoint_selftest.")
    ep = None
    try:
        ep = Endpoint(tmpdir)
        listener = Listener()
        c = ep.client(event_listeners=[listener])
        db = c.t
        c.drop_database("t")
        steps = [("handshake and misc", lambda: test_handshake_and_misc(c)),
                 ("inserts and unique indexes", lambda: test_insert_and_unique(db)),
                 ("updates and deletes", lambda: test_updates(db)),
                 ("find/getMore/killCursors/count/aggregate", lambda: test_find(db, listener)),
                 ("collections, rename, findAndModify", lambda: test_collections(c, db)),
                 ("BSON type round trips", lambda: test_types(db)),
                 ("concurrent connections", lambda: test_concurrency(ep))]
        selftest_limits.setup(check, Failure)
        steps += selftest_limits.all_tests(ep, c)
        for name, fn in steps:
            t0 = time.time()
            fn()
            print("PASS %-45s %.2fs" % (name, time.time() - t0))
        first, second = bench_upserts(c)
        print("BENCH 50k replaceOne upserts (batches of 1000): first pass %.2fs, second pass %.2fs"
              % (first, second))
        c.close()
        ep.stop()
        err = ep.read_stderr()
        check("Traceback" not in err and "internal error" not in err,
              "endpoint logged no internal errors", err[-2000:])
        ep = None
        total, dt = bench_discard(tmpdir)
        print("BENCH --discard-writes: %d inserts in %.2fs (%.0f docs/s, pymongo-bound)"
              % (total, dt, total / dt))
    except Failure as exc:
        sys.stdout.flush()
        sys.stderr.write("mongo_endpoint selftest FAILED: %s\n" % exc)
        if ep is not None:
            sys.stderr.write("--- end of the endpoint's stderr ---\n%s\n" % ep.read_stderr()[-4000:])
        return 1
    except Exception:  # noqa: BLE001
        sys.stdout.flush()
        sys.stderr.write("mongo_endpoint selftest FAILED with an unexpected exception:\n")
        traceback.print_exc()
        if ep is not None:
            sys.stderr.write("--- end of the endpoint's stderr ---\n%s\n" % ep.read_stderr()[-4000:])
        return 1
    finally:
        if ep is not None:
            try:
                ep.stop()
            except Failure:
                pass
        shutil.rmtree(tmpdir, ignore_errors=True)
    print("mongo_endpoint selftest: all checks passed in %.1fs" % (time.time() - t_start))
    return 0


if __name__ == "__main__":
    sys.exit(main())
