"""A fault-injecting HTTP/1.1 proxy for S3 tests (standard library only).

The proxy listens on 127.0.0.1 and forwards every request to one upstream S3
server byte for byte: the request line, the headers (the Host header included)
and the body are passed on unchanged, so SigV4 signatures made for the proxy's
address still verify at the server. Responses come back unchanged as well,
except that interim `100 Continue` answers from the server are dropped (the
proxy answers `Expect: 100-continue` itself).

Faults are described by `Rule`s. A rule matches requests by method and by the
query parameters they carry, counts the requests it matched, and decides from
that count whether to act on the current one:

    Rule(UPLOAD_PART, action="503", every=3)    # every 3rd UploadPart: 503 SlowDown
    Rule(UPLOAD_PART, action="reset", first=2)  # the first 2 UploadParts: connection reset
    Rule(UPLOAD_PART, action="503", after=4)    # UploadPart fails for good after 4 went through
    Rule(UPLOAD_PART, action="delay", delay=1.5)  # every UploadPart waits 1.5 s before forwarding

Actions: "503" (SlowDown error document), "500" (InternalError), "reset"
(the request is read, then the socket is closed with an RST and no answer),
"delay" (wait, then forward). The first rule that acts on a request decides.

`ListMultipartUploads` can be emulated for servers that answer it with 501
NotImplemented (s3s-fs does): give `uploads_root`, the server's data folder,
and the proxy answers such requests from the s3s-fs files of unfinished
uploads, after the server has checked the request's signature.

Every request is logged in `FaultProxy.log` as a dict: method, target, action,
the Range header if any and the Content-Length of its body (0 without one).
"""

from __future__ import annotations

import base64
import datetime as _dt
import os
import re
import socket
import socketserver
import struct
import threading
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit
from xml.sax.saxutils import escape

# Request shapes (method, query parameters that must all be present, parameters
# that must be absent).
UPLOAD_PART = ("PUT", ("partNumber", "uploadId"), ())
CREATE_MULTIPART = ("POST", ("uploads",), ())
COMPLETE_MULTIPART = ("POST", ("uploadId",), ())
ABORT_MULTIPART = ("DELETE", ("uploadId",), ())
LIST_MULTIPART = ("GET", ("uploads",), ())
PUT_OBJECT = ("PUT", (), ("partNumber", "uploadId"))
GET_OBJECT = ("GET", (), ("uploads", "uploadId", "list-type", "location"))
ANY = (None, (), ())

_MAX_HEAD = 64 * 1024
_CHUNK = 256 * 1024


@dataclass
class Rule:
    """One fault: which requests it matches and when it acts on them."""

    shape: tuple = ANY
    action: str = "503"
    first: int | None = None  # act on the first `first` matching requests
    every: int | None = None  # act on every `every`-th matching request
    after: int | None = None  # let `after` matching requests through, then act on all
    delay: float = 0.0  # seconds, for action "delay"
    path_contains: str | None = None  # also require this text in the request path
    seen: int = field(default=0, init=False)
    acted: int = field(default=0, init=False)

    def __post_init__(self):
        if self.action not in ("503", "500", "reset", "delay"):
            raise ValueError(f"unknown action {self.action!r}")

    def matches(self, method: str, path: str, query: dict) -> bool:
        want_method, present, absent = self.shape
        if want_method is not None and method != want_method:
            return False
        if any(p not in query for p in present) or any(p in query for p in absent):
            return False
        if self.path_contains is not None and self.path_contains not in path:
            return False
        return True

    def decide(self) -> bool:
        """Count one matching request and say whether to act on it."""
        self.seen += 1
        n = self.seen
        if self.first is not None:
            act = n <= self.first
        elif self.every is not None:
            act = n % self.every == 0
        elif self.after is not None:
            act = n > self.after
        else:
            act = True
        if act:
            self.acted += 1
        return act


class _Closed(Exception):
    """The peer closed the connection between requests."""


class _Conn:
    """Buffered reading of HTTP/1.1 messages from a socket."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buf = b""

    def _fill(self) -> bool:
        data = self.sock.recv(_CHUNK)
        if not data:
            return False
        self.buf += data
        return True

    def read_head(self) -> bytes:
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > _MAX_HEAD:
                raise ValueError("header block too large")
            if not self._fill():
                if self.buf:
                    raise ConnectionError("connection closed inside a header block")
                raise _Closed()
        end = self.buf.index(b"\r\n\r\n") + 4
        head, self.buf = self.buf[:end], self.buf[end:]
        return head

    def read_exact(self, n: int):
        """Yield exactly n bytes in pieces."""
        while n > 0:
            if not self.buf and not self._fill():
                raise ConnectionError("connection closed inside a body")
            piece, self.buf = self.buf[:n], self.buf[n:]
            n -= len(piece)
            yield piece

    def read_line(self) -> bytes:
        while b"\r\n" not in self.buf:
            if not self._fill():
                raise ConnectionError("connection closed inside a chunked body")
        end = self.buf.index(b"\r\n") + 2
        line, self.buf = self.buf[:end], self.buf[end:]
        return line

    def read_chunked(self):
        """Yield the raw bytes of a chunked body, framing included."""
        while True:
            line = self.read_line()
            yield line
            size = int(line.split(b";")[0].strip(), 16)
            if size == 0:
                while True:  # trailers, then the empty line
                    trailer = self.read_line()
                    yield trailer
                    if trailer == b"\r\n":
                        return
            yield from self.read_exact(size + 2)

    def read_to_close(self):
        if self.buf:
            yield self.buf
            self.buf = b""
        while True:
            data = self.sock.recv(_CHUNK)
            if not data:
                return
            yield data


def _parse_head(head: bytes):
    lines = head.decode("latin-1").split("\r\n")
    first = lines[0]
    headers = {}
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return first, headers


def _request_body(conn: _Conn, headers: dict):
    """The raw bytes of a request body, in pieces (a request without a length has none)."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return conn.read_chunked()
    if "content-length" in headers:
        return conn.read_exact(int(headers["content-length"]))
    return iter(())


def _response_body(conn: _Conn, headers: dict, method: str, status: int):
    """The raw bytes of a response body in pieces, and whether the body ends at close."""
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return iter(()), False
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return conn.read_chunked(), False
    if "content-length" in headers:
        return conn.read_exact(int(headers["content-length"])), False
    return conn.read_to_close(), True


def _client_gone(sock: socket.socket) -> bool:
    """Whether the client has closed its side (checked without consuming data)."""
    try:
        sock.setblocking(False)
        try:
            return sock.recv(1, socket.MSG_PEEK) == b""
        finally:
            sock.setblocking(True)
    except BlockingIOError:
        return False
    except OSError:
        return True


def _error_response(status: int, reason: str, code: str, message: str, method: str) -> bytes:
    request_id = uuid.uuid4().hex[:16].upper()
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        f"<RequestId>{request_id}</RequestId></Error>"
    ).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Content-Type: application/xml\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"x-amz-request-id: {request_id}\r\n"
        "\r\n"
    ).encode()
    return head if method == "HEAD" else head + body


def _reset(sock: socket.socket):
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def _b64url(s: str) -> str:
    return base64.urlsafe_b64encode(s.encode()).decode().rstrip("=")


def _unb64url(s: str) -> str:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)).decode()


def s3s_fs_unfinished_uploads(root: str) -> list[dict]:
    """Unfinished multipart uploads of an s3s-fs data folder: bucket, key, upload id, initiated.

    s3s-fs keeps `.upload-<id>.json` for each open upload and the object's
    attributes in `.bucket-<b64>.object-<b64>.upload-<id>.metadata.json`.
    An upload whose attributes file is missing is listed with key None.
    """
    names = os.listdir(root)
    where = {}
    pat = re.compile(r"^\.bucket-([A-Za-z0-9_-]*)\.object-([A-Za-z0-9_-]*)\.upload-([0-9a-f-]{36})\.metadata\.json$")
    for name in names:
        m = pat.match(name)
        if m:
            where[m.group(3)] = (_unb64url(m.group(1)), _unb64url(m.group(2)))
    uploads = []
    for name in names:
        m = re.match(r"^\.upload-([0-9a-f-]{36})\.json$", name)
        if not m:
            continue
        upload_id = m.group(1)
        bucket, key = where.get(upload_id, (None, None))
        try:
            mtime = os.stat(os.path.join(root, name)).st_mtime
        except FileNotFoundError:
            continue
        uploads.append(
            {
                "bucket": bucket,
                "key": key,
                "upload_id": upload_id,
                "initiated": _dt.datetime.fromtimestamp(mtime, _dt.timezone.utc),
            }
        )
    uploads.sort(key=lambda u: (u["key"] or "", u["initiated"]))
    return uploads


class FaultProxy:
    """Forward 127.0.0.1:<port> to an upstream S3 server, injecting faults per `rules`."""

    def __init__(self, upstream_host: str, upstream_port: int, rules=(), uploads_root: str | None = None):
        self.upstream = (upstream_host, upstream_port)
        self.rules = list(rules)
        self.uploads_root = uploads_root
        self.log: list[dict] = []
        self._lock = threading.Lock()
        self._socks: set[socket.socket] = set()
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                proxy._serve(self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = 128

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> "FaultProxy":
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            socks = list(self._socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def reset(self, rules=()):
        """Replaces the rules and empties the log: the same endpoint for a next run."""
        with self._lock:
            self.rules = list(rules)
            self.log.clear()
        return self

    def count(self, shape=ANY, action: str | None = None) -> int:
        """How many logged requests have this shape (and, if given, this action)."""
        rule = Rule(shape)
        with self._lock:
            entries = list(self.log)
        n = 0
        for e in entries:
            parts = urlsplit(e["target"])
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            if rule.matches(e["method"], unquote(parts.path), query) and (action is None or e["action"] == action):
                n += 1
        return n

    def entries(self, shape=ANY) -> list[dict]:
        rule = Rule(shape)
        with self._lock:
            entries = list(self.log)
        out = []
        for e in entries:
            parts = urlsplit(e["target"])
            if rule.matches(e["method"], unquote(parts.path), dict(parse_qsl(parts.query, keep_blank_values=True))):
                out.append(e)
        return out

    def upload_ids(self) -> set[str]:
        """The multipart upload ids that requests through the proxy named."""
        ids = set()
        for e in self.entries():
            query = dict(parse_qsl(urlsplit(e["target"]).query, keep_blank_values=True))
            if query.get("uploadId"):
                ids.add(query["uploadId"])
        return ids

    # -- one client connection ------------------------------------------------

    def _track(self, sock, add=True):
        with self._lock:
            (self._socks.add if add else self._socks.discard)(sock)

    def _serve(self, client_sock: socket.socket):
        self._track(client_sock)
        client = _Conn(client_sock)
        upstream = None
        try:
            while True:
                try:
                    head = client.read_head()
                except _Closed:
                    return
                first, headers = _parse_head(head)
                method, target, _version = first.split(" ", 2)
                parts = urlsplit(target)
                path = unquote(parts.path)
                query = dict(parse_qsl(parts.query, keep_blank_values=True))

                action = "forward"
                rule_delay = 0.0
                with self._lock:
                    for rule in self.rules:
                        if rule.matches(method, path, query) and rule.decide():
                            action = rule.action
                            rule_delay = rule.delay
                            break
                    self.log.append(
                        {
                            "method": method,
                            "target": target,
                            "action": action,
                            "range": headers.get("range"),
                            "length": int(headers.get("content-length") or 0),
                        }
                    )

                if headers.get("expect", "").lower() == "100-continue":
                    client_sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                body = _request_body(client, headers)

                if action in ("503", "500", "reset"):
                    for _ in body:  # consume the request so the client has sent it all
                        pass
                    if action == "reset":
                        _reset(client_sock)
                        return
                    if action == "503":
                        client_sock.sendall(
                            _error_response(503, "Slow Down", "SlowDown", "Please reduce your request rate.", method)
                        )
                    else:
                        client_sock.sendall(
                            _error_response(
                                500, "Internal Server Error", "InternalError", "We encountered an internal error. Please try again.", method
                            )
                        )
                    continue

                if action == "delay":
                    pieces = list(body)  # the whole request arrives, then waits
                    body = iter(pieces)
                    time.sleep(rule_delay)
                    if _client_gone(client_sock):
                        return  # the client gave up while the request waited: drop it

                if upstream is None:
                    upstream_sock = socket.create_connection(self.upstream)
                    self._track(upstream_sock)
                    upstream = _Conn(upstream_sock)
                upstream.sock.sendall(head)
                for piece in body:
                    upstream.sock.sendall(piece)

                keep_open = self._relay_response(upstream, client_sock, method, path, query)
                if not keep_open:
                    self._track(upstream.sock, add=False)
                    upstream.sock.close()
                    upstream = None
                    if headers.get("connection", "").lower() == "close":
                        return
        except (ConnectionError, OSError, ValueError):
            return
        finally:
            if upstream is not None:
                self._track(upstream.sock, add=False)
                upstream.sock.close()
            self._track(client_sock, add=False)
            try:
                client_sock.close()
            except OSError:
                pass

    def _relay_response(self, upstream: _Conn, client_sock, method, path, query) -> bool:
        """Copy one response to the client; say whether the upstream connection stays usable."""
        while True:
            head = upstream.read_head()
            status_line, headers = _parse_head(head)
            status = int(status_line.split(" ", 2)[1])
            if 100 <= status < 200:
                continue  # the proxy already answered Expect itself
            break
        body, to_close = _response_body(upstream, headers, method, status)

        if status == 501 and method == "GET" and "uploads" in query and self.uploads_root is not None:
            for _ in body:
                pass
            client_sock.sendall(self._list_uploads_response(path, query))
            return not to_close and headers.get("connection", "").lower() != "close"

        client_sock.sendall(head)
        for piece in body:
            client_sock.sendall(piece)
        return not to_close and headers.get("connection", "").lower() != "close"

    def _list_uploads_response(self, path: str, query: dict) -> bytes:
        bucket = path.strip("/").split("/", 1)[0]
        prefix = query.get("prefix", "")
        uploads = [
            u
            for u in s3s_fs_unfinished_uploads(self.uploads_root)
            if u["bucket"] == bucket and u["key"] is not None and u["key"].startswith(prefix)
        ]
        items = "".join(
            "<Upload>"
            f"<Key>{escape(u['key'])}</Key><UploadId>{u['upload_id']}</UploadId>"
            f"<Initiated>{u['initiated'].strftime('%Y-%m-%dT%H:%M:%S.000Z')}</Initiated>"
            "<StorageClass>STANDARD</StorageClass>"
            "</Upload>"
            for u in uploads
        )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"<Bucket>{escape(bucket)}</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>"
            f"<Prefix>{escape(prefix)}</Prefix><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>"
            f"{items}</ListMultipartUploadsResult>"
        ).encode()
        head = (
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: application/xml\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"x-amz-request-id: {uuid.uuid4().hex[:16].upper()}\r\n"
            "\r\n"
        ).encode()
        return head + body
