"""MongoDB wire-protocol endpoint for the mysql2mongo test suite.

A small MongoDB look-alike listening on loopback, used instead of a real MongoDB server (none is
packaged for Debian).  It speaks OP_MSG (including kind-1 document sequences) and legacy OP_QUERY
commands (for the driver handshake), stores data in memory, refuses what a real MongoDB refuses
(document size and nesting depth, write batch and message size, namespaces, field names, index
keys: see limits.py) and uses mongomock for query operators, update operators, projection and
aggregation.  Equality lookups on ``_id`` and on unique indexes go through hash indexes, so
replacing or upserting documents by key costs O(1).

Modules:
    wire        message framing: OP_MSG (kind-0 body, kind-1 sequences), OP_QUERY, OP_REPLY;
                OP_COMPRESSED is refused (compression is never offered in hello)
    bsonvalues  BSON values: decoding and encoding (whole int64 date range, duplicate field names
                kept as sent), MongoDB equality, ordering and path helpers
    limits      the server limits and the refusals a real MongoDB answers, with their codes
    errors      CmdError and the code names
    storage     databases, collections, documents (with the bytes as sent) and hash indexes
    mongomock_adapter
                the only module that touches mongomock
    commands    the command handlers
    discard     --discard-writes: counting writes without decoding them
    server      command line, listener, connection threads
    selftest.py the selftest (a ctest test), driving all of it through pymongo and raw sockets

Run it through tests/support/mongo_endpoint.py (the launcher the rig and the scripts use) or as
``/usr/bin/python3 tests/support/mongo_endpoint``.  This file imports nothing beyond the standard
library, so the launcher can re-run itself with /usr/bin/python3 before bson is imported.
"""

import os
import sys

SYSTEM_PYTHON = "/usr/bin/python3"


def ensure_system_python(argv):
    """Re-exec with /usr/bin/python3 when the running interpreter lacks Debian's python3-bson,
    python3-pymongo or python3-mongomock (e.g. a pyenv python3 first on PATH)."""
    try:
        import bson  # noqa: F401
        import mongomock  # noqa: F401
        import pymongo  # noqa: F401
        return
    except ImportError:
        pass
    if os.path.exists(SYSTEM_PYTHON) and \
            os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON):
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON] + list(argv))
    raise ImportError("the MongoDB test endpoint needs Debian's python3-pymongo, python3-bson and "
                      "python3-mongomock (scripts/install-deps.sh)")
