"""``/usr/bin/python3 tests/support/mongo_endpoint ARGS`` (or ``python3 -m mongo_endpoint`` with
tests/support on the path): the same as tests/support/mongo_endpoint.py."""

import os
import signal
import sys


def _stop_during_startup(signum, frame):
    os._exit(0)


# A stop request during start-up (the imports take a while) must not be lost, even when SIGINT
# was inherited as ignored (background jobs of a shell).
signal.signal(signal.SIGTERM, _stop_during_startup)
signal.signal(signal.SIGINT, _stop_during_startup)

if __package__ in (None, ""):
    # Run as a directory: make the package importable by its name.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import mongo_endpoint  # noqa: E402

mongo_endpoint.ensure_system_python(sys.argv if __package__ in (None, "") else
                                    ["-m", "mongo_endpoint"] + sys.argv[1:])

from mongo_endpoint.server import main  # noqa: E402

main()
