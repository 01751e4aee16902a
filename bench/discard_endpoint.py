#!/usr/bin/python3
"""Shim for tests/support/rig.sh (MYSQL2MONGO_RIG_MONGO_ENDPOINT=bench/discard_endpoint.py): rig.sh runs
the endpoint as `python3 SCRIPT --host H --port 0 --port-file PATH --discard-writes`; this replaces the
Python process (same pid, so the rig records and stops it as usual) with the C++ discard endpoint,
which forwards everything but the discarded writes to tests/support/mongo_endpoint.py.

The binary is $M2M_DISCARD_ENDPOINT, or build/bench/m2m_discard_endpoint in this checkout;
M2M_DISCARD_KEEP_DOCUMENTS=1 adds --keep-documents (the documents are kept in memory and read back)."""
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
repo = os.path.dirname(here)
binary = os.environ.get("M2M_DISCARD_ENDPOINT") or os.path.join(repo, "build", "bench", "m2m_discard_endpoint")
backend = os.path.join(repo, "tests", "support", "mongo_endpoint.py")
if not os.access(binary, os.X_OK):
    sys.stderr.write("discard_endpoint.py: %s is not built (cmake --build build --target m2m_discard_endpoint)\n" % binary)
    sys.exit(1)
extra = ["--keep-documents"] if os.environ.get("M2M_DISCARD_KEEP_DOCUMENTS") == "1" else []
os.execv(binary, [binary] + sys.argv[1:] + extra + ["--backend-script", backend, "--backend-python", sys.executable])
