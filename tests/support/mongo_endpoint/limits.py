"""MongoDB's limits, and the refusals a real server (6.0/7.0) answers when one is broken.

The limits are those of MongoDB's "Limits and Thresholds" documentation; the codes and message
shapes are the server's, so that the mysql2mongo tool can classify a refusal by its code:

  limit                          refusal (code, codeName)                    where
  ------------------------------ ------------------------------------------- -------------------
  document size 16,777,216 bytes 2 BadValue "object to insert too large. ..." insert: per document
                                 17420 "Document to upsert is larger than ..." update: per statement
                                 17419 "Resulting document after update is    update: per statement
                                       larger than ..."                      (findAndModify: the
                                                                             whole command)
  a document in the message over 10334 BSONObjectTooLarge "BSONObj size: N   whole command (the
  16 MiB + 16 KiB (the server's   (0x..) is invalid. ..."                    message is refused
  internal limit)                                                            before it runs)
  nesting depth 100              45 Overflow "cannot insert document because insert: per document
                                 it exceeds 100 levels of nesting" /         update: per statement
                                 "Document exceeds maximum nesting depth
                                 of 100"
  maxWriteBatchSize 100,000      16 InvalidLength "Write batch sizes must be whole command
                                 between 1 and 100000. Got N operations."
  message size 48,000,000 bytes  none: the server closes the connection      connection
  namespace 255 bytes            73 InvalidNamespace "Fully qualified         whole command
                                 namespace is too long. ..."
  database / collection names    73 InvalidNamespace                         whole command
  $-prefixed top-level field in  52 DollarPrefixedFieldName "The dollar ($)  update: per statement
  a replacement document         prefixed field ... is not allowed in the
                                 context of an update's replacement
                                 document. ..."
  NUL in a field name            22 InvalidBSON (a NUL ends a BSON key, so    whole command
                                 the document cannot be parsed)
  _id                            53 InvalidIdField (an array or a regex);     insert: per document
                                 2 BadValue "can't have multiple _id fields
                                 in one document"
  index keys                     67 CannotCreateIndex "Error in              whole command
                                 specification ... :: caused by :: ...";
                                 13103 "too many compound keys" (> 32 fields)

Nesting depth.  MongoDB's documentation ("Limits and Thresholds", Nested Depth for BSON Documents)
says: "MongoDB supports no more than 100 levels of nesting for BSON documents. Each object or
array adds a level."  A real server counts the levels this way, on insert and on the result of
an update alike: the top-level document is level 1, every embedded document or array holding at
least one element adds a level, and an empty one adds none.  So {a: {b: 1}} is 2 levels deep,
{a: {}} is 1, and {a: [[1]]} is 3.  The hard limit a 6.0/7.0 server applies is higher: its
maxBSONDepth parameter (default 200, documented among the server parameters) less 20 levels it
keeps for the oplog, i.e. 180; 100 is the documented level every server supports.  This endpoint
enforces the documented 100 (accepted: 100 levels; refused: 101), so the mysql2mongo tool is held
to the limit it can rely on.
"""

from bson.int64 import Int64

from .bsonvalues import RE_TYPES, fmt_value
from .errors import CmdError

MAX_BSON_SIZE = 16 * 1024 * 1024            # maxBsonObjectSize (BSONObjMaxUserSize)
MAX_INTERNAL_BSON_SIZE = MAX_BSON_SIZE + 16 * 1024  # BSONObjMaxInternalSize: parse limit
MAX_MESSAGE_SIZE = 48000000                 # maxMessageSizeBytes, the whole message
MAX_WRITE_BATCH = 100000                    # maxWriteBatchSize
MAX_DEPTH = 100                             # documented nesting limit (see above)
MAX_NS_LEN = 255                            # "db.collection", in bytes
MAX_DB_NAME_LEN = 63                        # bytes
MAX_INDEX_FIELDS = 32                       # fields in a compound index key

# The smallest document nested MAX_DEPTH + 1 levels deep: 5 bytes of top-level document, 7 for
# each embedded level (type, empty key's NUL, length, terminator), 2 for the innermost element
# (type and NUL of a null).  Anything shorter cannot be too deep, so most documents skip the walk.
_MIN_TOO_DEEP_SIZE = 5 + 7 * MAX_DEPTH + 2

INDEX_PLUGINS = frozenset(["2d", "2dsphere", "text", "hashed", "geoHaystack"])
_BAD_DB_CHARS = frozenset('/\\. "$\x00')


# --------------------------------------------------------------------------------------------
# Documents


def object_too_large(size, first_element):
    """The parse-time refusal of a document beyond the internal limit (whole command)."""
    return CmdError(10334, "BSONObj size: %d (0x%X) is invalid. Size must be between 0 and "
                    "%d(16MB) First element: %s" % (size, size, MAX_INTERNAL_BSON_SIZE,
                                                    first_element))


def check_insert_size(size):
    if size > MAX_BSON_SIZE:
        raise CmdError(2, "object to insert too large. size in bytes: %d, max size: %d"
                       % (size, MAX_BSON_SIZE))


def check_update_size(size, upsert):
    if size > MAX_BSON_SIZE:
        if upsert:
            raise CmdError(17420, "Document to upsert is larger than %d" % MAX_BSON_SIZE)
        raise CmdError(17419, "Resulting document after update is larger than %d"
                       % MAX_BSON_SIZE)


def too_deep(doc, size):
    """True when doc (whose encoding is size bytes long) is nested deeper than MAX_DEPTH."""
    if size < _MIN_TOO_DEEP_SIZE:
        return False
    stack = [(doc, 1)]
    while stack:
        v, level = stack.pop()
        for x in (v.values() if isinstance(v, dict) else v):
            if isinstance(x, (dict, list)) and x:
                if level == MAX_DEPTH:
                    return True
                stack.append((x, level + 1))
    return False


def check_insert_depth(doc, size):
    if too_deep(doc, size):
        raise CmdError(45, "cannot insert document because it exceeds %d levels of nesting"
                       % MAX_DEPTH)


def check_update_depth(doc, size):
    if too_deep(doc, size):
        raise CmdError(45, "Document exceeds maximum nesting depth of %d" % MAX_DEPTH)


def check_id_value(v):
    if isinstance(v, (list, tuple)):
        raise CmdError(53, "The '_id' value cannot be of type array")
    if isinstance(v, RE_TYPES):
        raise CmdError(53, "The '_id' value cannot be of type regex")


def duplicate_id():
    return CmdError(2, "can't have multiple _id fields in one document")


def check_replacement_fields(u):
    """Top-level $-prefixed fields are refused in a replacement document (the first field
    decides that u is a replacement, so only later ones can start with '$'); embedded ones are
    stored, as MongoDB 5.0 and later do."""
    if "$" not in "".join(u):  # the common case, without a loop
        return
    for k in u:
        if k[:1] == "$":
            raise CmdError(52, "The dollar ($) prefixed field '%s' in '%s' is not allowed in the "
                           "context of an update's replacement document. Consider using an "
                           "aggregation pipeline with $replaceWith." % (k, k))


# --------------------------------------------------------------------------------------------
# Commands


def check_batch_size(n):
    if n < 1 or n > MAX_WRITE_BATCH:
        raise CmdError(16, "Write batch sizes must be between 1 and %d. Got %d operations."
                       % (MAX_WRITE_BATCH, n))


def check_db_name(db):
    if not db or len(db.encode("utf-8")) > MAX_DB_NAME_LEN or any(c in _BAD_DB_CHARS for c in db):
        raise CmdError(73, "Invalid database name: '%s'" % db)


def check_collection_name(db, name):
    if not name:
        raise CmdError(73, "Invalid namespace specified '%s.'" % db)
    if "$" in name or "\x00" in name or name[0] == ".":
        raise CmdError(73, "Invalid collection name: %s" % name)


def check_ns_length(db, name):
    """For commands that create a collection (a real server checks the length there)."""
    ns = "%s.%s" % (db, name)
    if len(ns.encode("utf-8")) > MAX_NS_LEN:
        raise CmdError(73, "Fully qualified namespace is too long. Namespace: %s Max: %d"
                       % (ns, MAX_NS_LEN))


# --------------------------------------------------------------------------------------------
# Index keys


def _bson_type_name(v):
    if isinstance(v, bool):
        return "bool"
    if v is None:
        return "null"
    if isinstance(v, dict):
        return "object"
    if isinstance(v, list):
        return "array"
    return type(v).__name__


def validate_index_spec(spec):
    """Refuse an index specification whose key a real server refuses."""
    key = spec.get("key")

    def bad(why):
        return CmdError(67, "Error in specification %s :: caused by :: %s" % (fmt_value(spec), why))

    if not isinstance(key, dict) or not key:
        raise bad("Index keys cannot be empty.")
    if len(key) > MAX_INDEX_FIELDS:
        raise CmdError(13103, "too many compound keys")
    plugin = None
    for field, value in key.items():
        if isinstance(value, bool) or not isinstance(value, (int, float, Int64, str)) \
                and type(value).__name__ != "Decimal128":
            raise bad("Values in v:2 index key pattern cannot be of type %s. Only numbers > 0, "
                      "numbers < 0, and strings are allowed." % _bson_type_name(value))
        if isinstance(value, str):
            if value not in INDEX_PLUGINS:
                raise bad("Unknown index plugin '%s'" % value)
            if plugin is not None and plugin != value:
                raise bad("Can't use more than one index plugin for a single index.")
            plugin = value
        else:
            number = float(value.to_decimal()) if type(value).__name__ == "Decimal128" \
                else float(value)
            if number != number:
                raise bad("Values in the index key pattern cannot be NaN.")
            if number == 0:
                raise bad("Values in the index key pattern cannot be 0.")
        if field == "$**":
            continue  # wildcard / all-fields text index
        if not field:
            raise bad("Index keys cannot be an empty field.")
        for i, part in enumerate(field.split(".")):
            if not part:
                raise bad("Index keys cannot contain an empty field.")
            if part[0] == "$" and not (i and part in ("$id", "$ref", "$db")):
                raise bad("Index key contains an illegal field name: field name starts with "
                          "'$'.")
    name = spec.get("name")
    if name is not None and (not isinstance(name, str) or not name):
        raise bad("The index name cannot be empty")
