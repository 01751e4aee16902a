"""Wire framing: messages in (OP_MSG with its kind-0 body and kind-1 document sequences, legacy
OP_QUERY commands for the driver handshake) and replies out (OP_MSG, OP_REPLY).

OP_COMPRESSED is not understood: hello never offers compression, so a driver never sends it; one
that arrives anyway closes the connection, as does a message longer than maxMessageSizeBytes
(what a real server does: it answers nothing and drops the connection).

The layouts follow MongoDB's wire protocol documentation (and mockupdb's OpMsg, OpQuery and
OpReply); the framing is written here because mockupdb serves one request at a time, too slowly
for a driver's connection pool.
"""

import itertools
import struct

import bson
from bson.errors import InvalidBSON

from .bsonvalues import CODEC, decode, elements, encode, unpack_int32
from .errors import CmdError
from .limits import MAX_INTERNAL_BSON_SIZE, MAX_MESSAGE_SIZE, object_too_large

OP_REPLY = 1
OP_QUERY = 2004
OP_COMPRESSED = 2012
OP_MSG = 2013

MSG_CHECKSUM_PRESENT = 1 << 0
MSG_MORE_TO_COME = 1 << 1

HEADER_SIZE = 16
_UNPACK_UINT = struct.Struct("<I").unpack_from
_UNPACK_HEADER = struct.Struct("<iiii").unpack_from
_PACK_HEADER = struct.Struct("<iiii").pack
_PACK_REPLY_PREFIX = struct.Struct("<iqii").pack

_reply_ids = itertools.count(1)


class ProtocolError(Exception):
    """The connection is to be closed without a reply."""


class OpMsg(object):
    """An OP_MSG: flags, the body section's bytes, and its kind-1 sequences as
    (identifier, bytes of the documents)."""

    __slots__ = ("flags", "body", "sequences")

    def __init__(self, flags, body, sequences):
        self.flags = flags
        self.body = body
        self.sequences = sequences


class Command(object):
    """A decoded command: its database, the command document (sequences merged into it), and
    the bytes of each document of the sequences (None for documents given inline), so that a
    write stores documents exactly as sent."""

    __slots__ = ("db", "doc", "raws")

    def __init__(self, db, doc, raws=None):
        self.db = db
        self.doc = doc
        self.raws = raws or {}

    def raw_of(self, field, i):
        r = self.raws.get(field)
        return r[i] if r is not None and i < len(r) else None


# --------------------------------------------------------------------------------------------
# Reading


def recv_exact(sock, n):
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        r = sock.recv_into(view[got:], n - got)
        if r == 0:
            return None
        got += r
    return bytes(buf)


def read_message(sock):
    """(request id, opcode, message body) of the next message, or None at end of stream."""
    header = recv_exact(sock, HEADER_SIZE)
    if header is None:
        return None
    length, req_id, _resp_to, opcode = _UNPACK_HEADER(header, 0)
    if length < HEADER_SIZE or length > MAX_MESSAGE_SIZE:
        raise ProtocolError("message length %d is invalid. Min %d Max: %d"
                            % (length, HEADER_SIZE, MAX_MESSAGE_SIZE))
    body = recv_exact(sock, length - HEADER_SIZE)
    if body is None:
        return None
    return req_id, opcode, body


def split_sequence(seq):
    """The documents of a kind-1 section (the bytes after its identifier), each as bytes."""
    out = []
    p = 0
    stop = len(seq)
    while p < stop:
        ln = unpack_int32(seq, p)[0] if stop - p >= 4 else 0
        if ln > MAX_INTERNAL_BSON_SIZE:
            raise object_too_large(ln, _first_element(seq, p))
        if ln < 5 or p + ln > stop:
            raise CmdError(22, "invalid document length %d in an OP_MSG document sequence" % ln)
        out.append(seq[p:p + ln])
        p += ln
    return out


def _first_element(buf, start):
    try:
        t, key, _e, _v, _x = next(elements(buf, start, start + unpack_int32(buf, start)[0]))
        return "%s: ..." % key
    except Exception:  # noqa: BLE001 - only for the message
        return "?"


def parse_op_msg(body):
    flags = _UNPACK_UINT(body, 0)[0]
    end = len(body) - (4 if flags & MSG_CHECKSUM_PRESENT else 0)
    pos = 4
    cmd = None
    seqs = []
    while pos < end:
        kind = body[pos]
        pos += 1
        size = unpack_int32(body, pos)[0]
        if kind == 0:
            if size > MAX_INTERNAL_BSON_SIZE:
                raise object_too_large(size, _first_element(body, pos))
            if size < 5 or pos + size > end:
                raise CmdError(22, "invalid OP_MSG body section size %d" % size)
            cmd = body[pos:pos + size]
        elif kind == 1:
            if size < 5 or pos + size > end:
                raise CmdError(22, "invalid OP_MSG document sequence size %d" % size)
            nul = body.index(0, pos + 4)
            ident = body[pos + 4:nul].decode("utf-8")
            seqs.append((ident, body[nul + 1:pos + size]))
        else:
            raise CmdError(22, "unknown OP_MSG section kind %d" % kind)
        pos += size
    if cmd is None:
        raise CmdError(22, "OP_MSG without a body section")
    return OpMsg(flags, cmd, seqs)


def decode_op_msg(msg):
    """The Command an OpMsg carries (CmdError 22 InvalidBSON when it cannot be parsed)."""
    try:
        doc = decode(msg.body)
        raws = {}
        for ident, seq in msg.sequences:
            docs_raw = split_sequence(seq)
            try:
                docs = bson.decode_all(seq, CODEC)
            except InvalidBSON:
                docs = [decode(r) for r in docs_raw]  # dates beyond datetime's range
            existing = doc.get(ident)
            if isinstance(existing, list):
                raws[ident] = [None] * len(existing) + docs_raw
                existing.extend(docs)
            else:
                doc[ident] = docs
                raws[ident] = docs_raw
    except CmdError:
        raise
    except Exception as exc:  # noqa: BLE001 - bson.errors.InvalidBSON, struct errors, ...
        raise CmdError(22, "invalid BSON in the message: %s" % exc)
    db = doc.get("$db")
    if not isinstance(db, str):
        raise CmdError(40571, "OP_MSG requests require a $db argument")
    return Command(db, doc, raws)


def parse_op_query(body):
    """(namespace, query document) of a legacy OP_QUERY."""
    nul = body.index(0, 4)
    ns = body[4:nul].decode("utf-8")
    pos = nul + 1 + 8  # numberToSkip, numberToReturn
    size = unpack_int32(body, pos)[0]
    return ns, decode(body[pos:pos + size])


# --------------------------------------------------------------------------------------------
# Writing


def op_msg_reply(resp_to, doc):
    payload = encode(doc)
    return b"".join([_PACK_HEADER(HEADER_SIZE + 5 + len(payload), next(_reply_ids), resp_to,
                                  OP_MSG),
                     b"\x00\x00\x00\x00\x00", payload])


def op_reply(resp_to, doc, flags=0):
    payload = encode(doc)
    return b"".join([_PACK_HEADER(HEADER_SIZE + 20 + len(payload), next(_reply_ids), resp_to,
                                  OP_REPLY),
                     _PACK_REPLY_PREFIX(flags, 0, 0, 1), payload])
