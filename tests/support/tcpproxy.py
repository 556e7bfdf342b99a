"""A threaded TCP proxy for fault tests: cut, reset, stall, flip a bit, or answer 503 SlowDown."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

_SLOWDOWN_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)


@dataclass
class Fault:
    """One armed fault; ``times`` connections get it (None: every connection)."""

    kind: str  # "cut", "stall", "flip" or "slowdown"
    at: int = 0  # client->server byte offset within a connection where it fires
    seconds: float = 0.0
    rst: bool = False
    times: int | None = 1
    fired: int = 0


class TcpProxy:
    """Forward 127.0.0.1:port to an upstream address, injecting the armed faults.

    Byte offsets count the client-to-server bytes of one connection (request headers
    included), so pick offsets well past the headers (a few KiB) to hit a request body.
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._sockets: set[socket.socket] = set()
        self.connections = 0
        self.bytes_down = 0  # server-to-client bytes, e.g. to show a reader fetched little
        self.up_rate: float | None = None  # bytes/s each connection may send upstream
        self._thread = threading.Thread(target=self._accept_loop, name="tcpproxy", daemon=True)
        self._thread.start()

    @classmethod
    def for_url(cls, endpoint_url: str) -> TcpProxy:
        """Return a proxy in front of ``http://host:port``."""
        parts = urlsplit(endpoint_url)
        return cls((parts.hostname or "127.0.0.1", parts.port or 80))

    @property
    def endpoint_url(self) -> str:
        """Return the URL clients should use to go through the proxy."""
        return f"http://127.0.0.1:{self.port}"

    # -- arming faults -----------------------------------------------------------------

    def cut_after(self, n_bytes: int, *, times: int | None = 1, rst: bool = False) -> Fault:
        """Close (or reset) a connection once ``n_bytes`` have gone from client to server."""
        return self._arm(Fault("cut", at=n_bytes, rst=rst, times=times))

    def stall(self, seconds: float, *, after: int = 0, times: int | None = 1) -> Fault:
        """Hold a connection's client-to-server bytes for ``seconds`` once ``after`` have passed."""
        return self._arm(Fault("stall", at=after, seconds=seconds, times=times))

    def flip_bit(self, offset: int, *, times: int | None = 1) -> Fault:
        """Flip the low bit of the byte at ``offset`` of a connection's client-to-server bytes."""
        return self._arm(Fault("flip", at=offset, times=times))

    def slowdown(self, *, times: int | None = 1) -> Fault:
        """Answer the next connections' first request with 503 SlowDown and close them."""
        return self._arm(Fault("slowdown", times=times))

    def limit_rate(self, bytes_per_s: float | None) -> None:
        """Pace every connection's client-to-server bytes to ``bytes_per_s`` (None: no limit).

        Makes an upload last long enough, whatever the machine's load, for a fault to land
        inside it.
        """
        self.up_rate = bytes_per_s

    def clear(self) -> None:
        """Disarm every fault."""
        with self._lock:
            self._faults.clear()

    def _arm(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def _claim(self, kind: str, lo: int, hi: int) -> Fault | None:
        """Take one use of an armed ``kind`` fault whose offset lies in [lo, hi)."""
        with self._lock:
            for fault in self._faults:
                if fault.kind != kind or not lo <= fault.at < hi:
                    continue
                if fault.times is not None and fault.fired >= fault.times:
                    continue
                fault.fired += 1
                return fault
        return None

    # -- forwarding --------------------------------------------------------------------

    def _accept_loop(self) -> None:
        # A short accept timeout lets stop() end this loop: close() does not wake accept().
        self._listener.settimeout(0.1)
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            self.connections += 1
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        self._track(client)
        if self._claim("slowdown", 0, 1) is not None:
            self._answer_slowdown(client)
            return
        try:
            upstream = socket.create_connection(self.upstream, timeout=10)
        except OSError:
            self._close(client)
            return
        upstream.settimeout(None)
        self._track(upstream)
        down = threading.Thread(target=self._pump_down, args=(upstream, client), daemon=True)
        down.start()
        self._pump_up(client, upstream)
        down.join(timeout=60)

    def _pump_up(self, client: socket.socket, upstream: socket.socket) -> None:
        """Copy client bytes to the server, applying cut, stall and flip faults."""
        offset = 0
        due = 0.0  # when the bytes sent so far may have gone at up_rate (no idle credit)
        try:
            while True:
                data = client.recv(65536)
                if not data:
                    break
                lo, hi = offset, offset + len(data)
                if (fault := self._claim("stall", lo, hi)) is not None:
                    time.sleep(fault.seconds)
                if (fault := self._claim("flip", lo, hi)) is not None:
                    buf = bytearray(data)
                    buf[fault.at - lo] ^= 0x01
                    data = bytes(buf)
                if (fault := self._claim("cut", lo, hi)) is not None:
                    upstream.sendall(data[: fault.at - lo])
                    self._kill(client, upstream, rst=fault.rst)
                    return
                upstream.sendall(data)
                offset = hi
                if self.up_rate:
                    due = max(due, time.monotonic()) + len(data) / self.up_rate
                    time.sleep(max(0.0, due - time.monotonic()))
        except OSError:
            pass
        self._close(client, upstream)

    def _pump_down(self, upstream: socket.socket, client: socket.socket) -> None:
        """Copy server bytes back to the client unchanged."""
        try:
            while data := upstream.recv(65536):
                with self._lock:
                    self.bytes_down += len(data)
                client.sendall(data)
        except OSError:
            pass
        self._close(client, upstream)

    def _answer_slowdown(self, client: socket.socket) -> None:
        """Read one request (body too, unless it waits for 100-continue) and answer 503."""
        try:
            client.settimeout(10)
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(65536)
                if not chunk:
                    break
                head += chunk
            headers, _, body = head.partition(b"\r\n\r\n")
            lines = headers.decode("latin-1").lower().split("\r\n")
            length = next(
                (int(v.split(":")[1]) for v in lines if v.startswith("content-length:")), 0
            )
            expects = any(v.startswith("expect:") for v in lines)
            remaining = 0 if expects else length - len(body)
            while remaining > 0:
                chunk = client.recv(min(remaining, 65536))
                if not chunk:
                    break
                remaining -= len(chunk)
            client.sendall(
                b"HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\n"
                + f"Content-Length: {len(_SLOWDOWN_BODY)}\r\n".encode()
                + b"Connection: close\r\n\r\n"
                + _SLOWDOWN_BODY
            )
        except OSError:
            pass
        self._close(client)

    # -- sockets -----------------------------------------------------------------------

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def _kill(self, *socks: socket.socket, rst: bool) -> None:
        if not rst:
            self._close(*socks)
            return
        for sock in socks:
            # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            with contextlib.suppress(OSError):
                sock.close()
            with self._lock:
                self._sockets.discard(sock)

    def _close(self, *socks: socket.socket) -> None:
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
            with self._lock:
                self._sockets.discard(sock)

    def drop_connections(self) -> None:
        """Close every open connection (clients reconnect), so byte offsets start again at 0."""
        with self._lock:
            socks = list(self._sockets)
        self._close(*socks)

    def stop(self) -> None:
        """Stop accepting and close every open connection."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            socks = list(self._sockets)
        self._close(*socks)
        self._thread.join(timeout=5)
