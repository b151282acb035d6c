#!/usr/bin/env python3
"""Enqueue a weir job from Python with no dependency, through the protocol of
docs/PROTOCOL.md ("Enqueue now"): the envelope and its attempt limit into the
queue's `jobs` hash, the id into `pending`, the doorbell rung, the queue
listed, in one MULTI/EXEC. A tiny RESP client is included; with redis-py the
same commands go through `r.pipeline(transaction=True)`.

    WEIR_REDIS_URL=redis://127.0.0.1:6379 python3 examples/enqueue.py send_invoice '{"id": 7}'

Prints the job's id. WEIR_PREFIX sets the key prefix (default `weir`),
WEIR_QUEUE the queue (default `default`). A weir worker runs the job, e.g.
`weir work --exec send_invoice='cat'`.
"""
import json
import os
import secrets
import socket
import sys
import time
from urllib.parse import unquote, urlparse

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ulid(now_ms):
    """A ULID: 48 bits of ms time then 80 random bits, in Crockford base32."""
    n = (now_ms << 80) | secrets.randbits(80)
    return "".join(CROCKFORD[(n >> (5 * i)) & 31] for i in reversed(range(26)))


class Redis:
    """Just enough RESP to send commands and read their replies."""

    def __init__(self, url):
        u = urlparse(url)
        if u.scheme != "redis":
            raise SystemExit(f"enqueue.py: only redis:// URLs are supported, not {u.scheme}://")
        self.sock = socket.create_connection((u.hostname or "127.0.0.1", u.port or 6379), timeout=10)
        self.buf = self.sock.makefile("rb")
        if u.password is not None:
            auth = [unquote(u.username)] if u.username else []
            self.call("AUTH", *auth, unquote(u.password))
        db = (u.path or "/").lstrip("/")
        if db:
            self.call("SELECT", db)

    def send(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            b = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(b), b))
        self.sock.sendall(b"".join(out))

    def reply(self):
        line = self.buf.readline()
        if not line:
            raise SystemExit("enqueue.py: Redis closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"-":
            raise SystemExit(f"enqueue.py: Redis said {rest.decode()}")
        if kind in (b"+", b":"):
            return rest.decode()
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.buf.read(n + 2)[:-2].decode()
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise SystemExit(f"enqueue.py: unexpected reply {line!r}")

    def call(self, *args):
        self.send(*args)
        return self.reply()


def enqueue(r, prefix, queue, kind, payload, max_attempts=25):
    now = int(time.time() * 1000)
    job_id = ulid(now)
    envelope = {
        "id": job_id,
        "queue": queue,
        "kind": kind,
        "payload": payload,
        "max_attempts": max_attempts,
        "enqueued_at": now,
    }
    q = f"{prefix}:{{{queue}}}"
    commands = [
        ("MULTI",),
        ("HSET", f"{q}:jobs", f"j:{job_id}", json.dumps(envelope), f"m:{job_id}", max_attempts),
        ("ZADD", f"{q}:pending", now, job_id),
        ("RPUSH", f"{q}:wake", 1),
        ("LTRIM", f"{q}:wake", 0, 0),
        ("SADD", f"{prefix}:queues", queue),
        ("EXEC",),
    ]
    for c in commands:
        r.send(*c)
    replies = [r.reply() for _ in commands]
    if replies[-1] is None:
        raise SystemExit("enqueue.py: the transaction was aborted")
    return job_id


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: enqueue.py KIND PAYLOAD_JSON")
    kind = sys.argv[1]
    try:
        payload = json.loads(sys.argv[2])
    except json.JSONDecodeError as e:
        raise SystemExit(f"enqueue.py: the payload is not JSON: {e}")
    r = Redis(os.environ.get("WEIR_REDIS_URL", "redis://127.0.0.1:6379"))
    prefix = os.environ.get("WEIR_PREFIX", "weir")
    queue = os.environ.get("WEIR_QUEUE", "default")
    print(enqueue(r, prefix, queue, kind, payload))


if __name__ == "__main__":
    main()
