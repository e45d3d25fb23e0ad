"""Run the playground app under uvicorn: in the foreground (`wordgen serve`) or in a thread (tests, benchmarks).

The listening socket is bound here, before uvicorn starts, so that a port
already in use is one clear `ConfigError` (the CLI's exit 2) rather than a log
line, and so that port 0 (any free port, what the tests use) is known at once.

Not here: the routes (app.py), printing (wordgen.cli).
"""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from wordgen.errors import ConfigError

LOOPBACK = "127.0.0.1"


def bind(host: str = LOOPBACK, port: int = 8000) -> socket.socket:
    """A listening TCP socket on host:port (port 0: a free one, see `sock.getsockname()`)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
    sock.listen(128)
    return sock


def make_server(app) -> uvicorn.Server:
    # log_level "warning": no line per request. A stopping server gives open streams
    # 2 s to finish; then their tasks are cancelled, which stops their generations.
    return uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2, lifespan="off"))


def run(app, sock: socket.socket) -> None:
    """Serve until Ctrl-C (uvicorn handles the signal and shuts down gracefully)."""
    make_server(app).run(sockets=[sock])


class BackgroundServer:
    """A real uvicorn server in a daemon thread, on loopback: `with BackgroundServer(app) as s: s.url`."""

    def __init__(self, app, host: str = LOOPBACK, port: int = 0):
        self.sock = bind(host, port)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        self.server = make_server(app)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> BackgroundServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the playground server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()
