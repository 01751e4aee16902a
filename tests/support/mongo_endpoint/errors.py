"""Command errors, shaped like a real server's: {ok: 0, errmsg, code, codeName} for a whole
command, {index, code, errmsg} for one statement of a write command."""

import sys
import traceback

# Code numbers and names as MongoDB's error_codes.yml has them.
CODE_NAMES = {
    1: "InternalError", 2: "BadValue", 9: "FailedToParse", 11: "UserNotFound",
    13: "Unauthorized", 14: "TypeMismatch", 16: "InvalidLength", 20: "IllegalOperation",
    22: "InvalidBSON", 26: "NamespaceNotFound", 27: "IndexNotFound", 43: "CursorNotFound",
    45: "Overflow", 48: "NamespaceExists", 52: "DollarPrefixedFieldName", 53: "InvalidIdField",
    59: "CommandNotFound", 66: "ImmutableField", 67: "CannotCreateIndex", 72: "InvalidOptions",
    73: "InvalidNamespace", 85: "IndexOptionsConflict", 86: "IndexKeySpecsConflict",
    115: "CommandNotSupported", 238: "NotImplemented", 10334: "BSONObjectTooLarge",
    11000: "DuplicateKey", 40415: "Location40415", 40571: "Location40571",
}


def log(msg):
    sys.stderr.write("mongo_endpoint: %s\n" % msg)
    sys.stderr.flush()


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


def not_supported(what):
    return CmdError(238, "%s not supported by the mysql2mongo test endpoint" % what)


def translate(exc):
    """Map an exception raised while running a command to a CmdError (the adapter has already
    turned mongomock's own exceptions into CmdErrors)."""
    if isinstance(exc, CmdError):
        return exc
    if isinstance(exc, NotImplementedError):
        return CmdError(238, "not supported by the mysql2mongo test endpoint (mongomock): %s" % exc)
    if isinstance(exc, ValueError):
        return CmdError(9, str(exc))
    log("internal error: %s" % "".join(traceback.format_exception(type(exc), exc,
                                                                   exc.__traceback__)))
    return CmdError(2, "%s: %s" % (type(exc).__name__, exc))
