"""The one place that touches mongomock (Debian's python3-mongomock 4.x).

The endpoint stores documents itself (storage.py) and borrows from mongomock only what would be
long to write again: the query language (filter matching), update operators, projection and the
aggregation pipeline.  Everything here is used by composition; mongomock's modules are never
patched, so mongomock behaves the same for any other user in the process.

mongomock has no public entry point for four of these, so this module reaches into it (and only
this module):
  * filtering._Filterer: subclassed, so that $gt/$gte/$lt/$lte compare Decimal128 by value.
    mongomock orders numbers through numbers.Number, which Decimal128 is not (a filter on a
    DECIMAL column would fail with NotImplementedError); the subclass converts Decimal128 to
    decimal.Decimal around each comparison instead of replacing mongomock's bson_compare.
  * Collection._update and Collection._copy_only_fields on a private scratch collection: the
    update operators and projection, applied to one document at a time.
  * aggregate.process_pipeline: the pipeline stages, given a database view (_LookupDatabase)
    that reads $lookup's foreign collection from the endpoint's storage.
Decimal128 values pass through the pipeline as _Decimal (a decimal.Decimal that remembers its
Decimal128) for the same reason as above, and come out as Decimal128 again.
"""

import copy
import datetime
import decimal

import mongomock
from bson.decimal128 import Decimal128
from mongomock import aggregate as _mm_aggregate
from mongomock import filtering as _mm_filtering

from .errors import CmdError


def _error(exc):
    """mongomock's exception as the endpoint's CmdError."""
    if isinstance(exc, CmdError):
        return exc
    if isinstance(exc, mongomock.OperationFailure):
        code = getattr(exc, "code", None) or 2
        if code == 11000:
            return CmdError(11000, "E11000 duplicate key error: %s" % exc)
        return CmdError(code, str(exc))
    if isinstance(exc, NotImplementedError):
        return CmdError(238, "not supported by the mysql2mongo test endpoint (mongomock): %s"
                        % exc)
    return None


# --------------------------------------------------------------------------------------------
# $$NOW

def _uses_now(v):
    if isinstance(v, str):
        return v == "$$NOW"
    if isinstance(v, dict):
        return any(_uses_now(x) for x in v.values())
    if isinstance(v, list):
        return any(_uses_now(x) for x in v)
    return False


def _with_now(v, now):
    if isinstance(v, str):
        return now if v == "$$NOW" else v
    if isinstance(v, dict):
        out = {k: _with_now(x, now) for k, x in v.items()}
        # {$add: [date, ms...]} of constants: a date, as MongoDB computes it (mongomock's $add takes
        # numbers only).
        if len(out) == 1 and "$add" in out and isinstance(out["$add"], list):
            args = out["$add"]
            dates = [a for a in args if isinstance(a, datetime.datetime)]
            nums = [a for a in args if isinstance(a, (int, float)) and not isinstance(a, bool)]
            if len(dates) == 1 and len(dates) + len(nums) == len(args):
                return dates[0] + datetime.timedelta(milliseconds=sum(nums))
        return out
    if isinstance(v, list):
        return [_with_now(x, now) for x in v]
    return v


def resolve_now(v):
    """v (a filter or an update pipeline) with the system variable $$NOW replaced by the server's
    current time, the same instant for the whole command, as MongoDB 4.2+ evaluates it (mongomock
    knows no $$NOW)."""
    if not _uses_now(v):
        return v
    now = datetime.datetime.utcnow()
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)
    return _with_now(v, now)


# --------------------------------------------------------------------------------------------
# Filters


def _by_value(v):
    t = type(v)
    if t is Decimal128:
        return v.to_decimal()
    if t is list and any(type(x) is Decimal128 for x in v):
        return [x.to_decimal() if type(x) is Decimal128 else x for x in v]
    return v


def _decimal_aware(compare):
    def op(doc_val, search_val):
        return compare(_by_value(doc_val), _by_value(search_val))
    return op


class _Matcher(_mm_filtering._Filterer):
    def __init__(self):
        super(_Matcher, self).__init__()
        for name in ("$gt", "$gte", "$lt", "$lte"):
            self._operator_map[name] = _decimal_aware(self._operator_map[name])


_matcher = _Matcher()


def filter_applies(q, doc):
    """True when document doc matches filter q."""
    try:
        return _matcher.apply(q, doc)
    except Exception as exc:  # noqa: BLE001
        err = _error(exc)
        if err is None:
            raise
        raise err


# --------------------------------------------------------------------------------------------
# Update operators and projection, on a private scratch collection

_scratch = mongomock.MongoClient()["__scratch__"]["__scratch__"]


def apply_update(doc, update, query=None):
    """doc (not modified) after the update operators in update; query is the statement's
    filter, for the positional operator."""
    store = _scratch._store
    store._documents.clear()
    work = copy.deepcopy(doc)
    store._documents[0] = work
    try:
        _scratch._update(query or {}, update, upsert=False, multi=False)
    except Exception as exc:  # noqa: BLE001
        err = _error(exc)
        if err is None:
            raise
        raise err
    finally:
        result = store._documents.get(0, work)
        store._documents.clear()
    return result


def project(doc, fields):
    """doc with a find projection applied, fields in the stored order."""
    try:
        out = _scratch._copy_only_fields(doc, dict(fields), dict)
    except Exception as exc:  # noqa: BLE001
        err = _error(exc)
        if err is None:
            raise
        raise err
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


# --------------------------------------------------------------------------------------------
# Aggregation


class _Decimal(decimal.Decimal):
    """A Decimal128 on its way through mongomock's pipeline (compared and summed by value)."""


def _to_pipeline(v):
    t = type(v)
    if t is Decimal128:
        return _Decimal(v.to_decimal())
    if t is dict:
        return {k: _to_pipeline(x) for k, x in v.items()}
    if t is list:
        return [_to_pipeline(x) for x in v]
    return v


def _from_pipeline(v):
    if isinstance(v, decimal.Decimal):
        return Decimal128(v)
    if isinstance(v, dict):
        return {k: _from_pipeline(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_from_pipeline(x) for x in v]
    return v


class _LookupCollection(object):
    def __init__(self, docs):
        self._docs = docs

    def find(self, query):
        return [_to_pipeline(d) for d in self._docs if filter_applies(query, d)]


class _LookupDatabase(object):
    """What mongomock's $lookup/$graphLookup read from: the endpoint's collections."""

    def __init__(self, read_collection):
        self._read = read_collection

    def get_collection(self, name):
        return _LookupCollection(self._read(name))


def run_pipeline(docs, stages, read_collection):
    """The documents stages produce from docs; read_collection(name) lists the documents of a
    collection of the same database (for $lookup)."""
    if any(isinstance(s, dict) and ("$out" in s or "$merge" in s) for s in stages):
        raise CmdError(238, "$merge (and $out not in last position) are not supported by the "
                       "mysql2mongo test endpoint")
    try:
        res = list(_mm_aggregate.process_pipeline([_to_pipeline(d) for d in docs],
                                                  _LookupDatabase(read_collection), stages, None))
    except Exception as exc:  # noqa: BLE001
        err = _error(exc)
        if err is None:
            raise
        raise err
    return [_from_pipeline(d) for d in res]
