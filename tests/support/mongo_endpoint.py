#!/usr/bin/python3
"""Launcher of the MongoDB wire-protocol test endpoint: the package mongo_endpoint/ beside this
file (see its __init__.py).  tests/support/rig.sh, scripts/demo.sh, bench/ and the selftest start
the endpoint through this file:

    /usr/bin/python3 tests/support/mongo_endpoint.py --host 127.0.0.1 --port 0 \\
        --port-file PATH [--discard-writes [--keep-writes-for PATTERN ...]]

Run by another interpreter (e.g. a pyenv python3 first on PATH, without Debian's python3-pymongo
and python3-mongomock), it re-executes itself with /usr/bin/python3.
"""

import os
import signal
import sys


def _stop_during_startup(signum, frame):
    os._exit(0)


if __name__ == "__main__":
    # A stop request during start-up (the imports take a while) must not be lost, even when
    # SIGINT was inherited as ignored (background jobs of a shell).
    signal.signal(signal.SIGTERM, _stop_during_startup)
    signal.signal(signal.SIGINT, _stop_during_startup)
    # This file's directory is sys.path[0], so "mongo_endpoint" is the package beside it
    # (a package directory takes precedence over a module of the same name).
    import mongo_endpoint
    mongo_endpoint.ensure_system_python(sys.argv)
    from mongo_endpoint.server import main
    main()
