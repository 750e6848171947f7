"""A loopback TCP relay that can cut or stall connections: drops and timeouts on demand."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
import time


class FlakyProxy:
    """Loopback TCP relay to ``target``; ``cut()`` drops live connections, ``stall`` freezes."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.stall = threading.Event()
        self.connections = 0
        self._live: set[socket.socket] = set()
        self._lock = threading.Lock()
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                proxy._relay(self.request)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _relay(self, client: socket.socket) -> None:
        upstream = socket.create_connection(self.target, timeout=30)
        with self._lock:
            self.connections += 1
            self._live.update((client, upstream))
        pump = threading.Thread(target=self._pump, args=(upstream, client), daemon=True)
        pump.start()
        try:
            self._pump(client, upstream)
            pump.join(timeout=5)
        finally:
            with self._lock:
                self._live.difference_update((client, upstream))
            upstream.close()  # the client socket is closed by socketserver

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while chunk := src.recv(65536):
                while self.stall.is_set():
                    time.sleep(0.01)
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Drop every live connection, as a NAT timeout or a server restart would."""
        with self._lock:
            live, self._live = self._live, set()
        for sock in live:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.stall.clear()
        self.cut()
        self._server.shutdown()
        self._server.server_close()
