"""Command line, listening socket and one thread per connection.

Usage:
    /usr/bin/python3 tests/support/mongo_endpoint.py --host 127.0.0.1 --port 0 \\
        --port-file PATH [--discard-writes [--keep-writes-for PATTERN ...]]

The actual port is written to --port-file (atomically) once listening.  The process runs until
SIGTERM/SIGINT and then exits 0.
"""

import argparse
import os
import signal
import socket
import sys
import threading
import time
import traceback

from . import wire
from .commands import Endpoint
from .discard import DEFAULT_KEEP_PATTERNS, discard_reply
from .errors import CmdError, log


class Server(object):
    def __init__(self, endpoint, discard_writes=False, keep_patterns=()):
        self.ep = endpoint
        self.discard = discard_writes
        self.keep_patterns = list(keep_patterns)

    def serve_connection(self, sock):
        conn = {"id": next(self.ep.conn_ids)}
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        try:
            while True:
                try:
                    msg = wire.read_message(sock)
                except wire.ProtocolError as exc:
                    # What a real server does with a message it cannot frame: no reply, the
                    # connection is closed.
                    log("%s; closing the connection" % exc)
                    return
                if msg is None:
                    return
                req_id, opcode, body = msg
                try:
                    reply = self.handle_message(opcode, req_id, body, conn)
                except wire.ProtocolError as exc:
                    log("%s; closing the connection" % exc)
                    return
                except Exception as exc:  # noqa: BLE001
                    log("failed to handle opcode %d: %s" % (opcode, "".join(
                        traceback.format_exception(type(exc), exc, exc.__traceback__))))
                    if opcode != wire.OP_MSG:
                        return
                    reply = wire.op_msg_reply(req_id, CmdError(
                        9, "malformed message: %s" % exc).reply())
                if reply is not None:
                    sock.sendall(reply)
        except (ConnectionError, OSError):
            pass
        finally:
            try:
                sock.close()
            except OSError:
                pass

    def handle_message(self, opcode, req_id, body, conn):
        if opcode == wire.OP_MSG:
            return self.handle_op_msg(req_id, body, conn)
        if opcode == wire.OP_QUERY:
            return self.handle_op_query(req_id, body, conn)
        raise wire.ProtocolError("unsupported opcode %d (compression is not offered)" % opcode)

    def handle_op_query(self, req_id, body, conn):
        ns, query = wire.parse_op_query(body)
        if not ns.endswith(".$cmd"):
            return wire.op_reply(req_id, {"$err": "legacy OP_QUERY reads are not supported by the "
                                                  "mysql2mongo test endpoint (use OP_MSG)",
                                          "code": 59, "ok": 0.0}, flags=2)
        if "$query" in query and isinstance(query["$query"], dict):
            query = query["$query"]
        return wire.op_reply(req_id, self.ep.execute(wire.Command(ns[:-5], query), conn))

    def handle_op_msg(self, req_id, body, conn):
        flags = 0
        try:
            msg = wire.parse_op_msg(body)
            flags = msg.flags
            reply = discard_reply(msg, self.keep_patterns) if self.discard else None
            if reply is None:
                reply = self.ep.execute(wire.decode_op_msg(msg), conn)
        except CmdError as exc:
            reply = exc.reply()
        if flags & wire.MSG_MORE_TO_COME:
            return None  # unacknowledged (w:0): no reply
        return wire.op_msg_reply(req_id, reply)


class _Stop(BaseException):
    pass


def _write_port_file(path, port):
    d = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(d, ".%s.tmp.%d" % (os.path.basename(path), os.getpid()))
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description="MongoDB wire-protocol test endpoint (mysql2mongo)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--port-file", help="write the listening port here (atomically)")
    ap.add_argument("--discard-writes", action="store_true",
                    help="acknowledge insert/update/delete without storing them (benchmarks)")
    ap.add_argument("--keep-writes-for", action="append", default=[], metavar="PATTERN",
                    help="with --discard-writes: still store writes to collections matching this "
                         "glob (matched against 'coll' and 'db.coll'); repeatable; '_*' (e.g. "
                         "_sync_metadata) is always kept")
    args = ap.parse_args(argv)
    keep = list(DEFAULT_KEEP_PATTERNS) + args.keep_writes_for

    def on_signal(signum, frame):
        raise _Stop()

    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    lsock = socket.socket(family, socket.SOCK_STREAM)
    try:
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind((args.host, args.port))
        lsock.listen(256)
        port = lsock.getsockname()[1]
        server = Server(Endpoint(), args.discard_writes, keep)
        if args.port_file:
            _write_port_file(args.port_file, port)
        sys.stdout.write("mongo_endpoint: listening on %s:%d%s\n"
                         % (args.host, port, " (discarding writes)" if args.discard_writes else ""))
        sys.stdout.flush()
    except _Stop:
        os._exit(0)
    except OSError as exc:
        log("cannot listen on %s:%d or write the port file: %s" % (args.host, args.port, exc))
        os._exit(1)
    try:
        while True:
            try:
                sock, _addr = lsock.accept()
            except InterruptedError:
                continue
            except OSError as exc:
                log("accept failed: %s" % exc)
                time.sleep(0.05)
                continue
            t = threading.Thread(target=server.serve_connection, args=(sock,), daemon=True)
            t.start()
    except _Stop:
        pass
    try:
        lsock.close()
    except OSError:
        pass
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
