"""Running the browse app: `serve(...)` opens an existing store and serves it with uvicorn on 127.0.0.1.

Binding any other address takes an explicit `host` and prints a warning: the pages show everything the agents
saw, and with `allow_edits` anyone who can reach the port can relabel training data.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from collections.abc import Callable

import uvicorn

from practicum.browse.app import create_app
from practicum.errors import ConfigError
from practicum.store import Store, open_store

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
LOOPBACK_NAMES = ("127.0.0.1", "localhost")


def open_existing_store(db_url: str | None) -> Store:
    """Open the store at `db_url` (default `sqlite:///practicum.db`) as it is: no store there, or an older one,
    is a `StoreError`, and nothing is created or upgraded (browsing is a read)."""
    return open_store(db_url, create=False, upgrade=False)


def is_loopback(host: str) -> bool:
    """Whether `host` is this machine only (127.0.0.0/8, ::1 or 'localhost')."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def allowed_hosts_for(host: str) -> list[str] | None:
    """Host header values to accept when bound to `host` (None: any).

    On loopback only this machine's names are accepted, which stops DNS-rebinding pages from reading the store
    through the user's browser. Bound to a wildcard address the server cannot know its public names.
    """
    if is_loopback(host):
        return sorted({*LOOPBACK_NAMES, host.strip("[]")})
    if host in ("0.0.0.0", "::", ""):
        return None
    return [host, *LOOPBACK_NAMES]


def check_bind(host: str, port: int) -> list[str]:
    """Validate the address; return the warnings to print (binding beyond loopback). `ConfigError` if bad."""
    if not 0 <= port <= 65535:
        raise ConfigError(f"port {port} is out of range; use a port between 1 and 65535 (0 picks a free one)")
    if not host:
        raise ConfigError("the host is empty; use 127.0.0.1 (the default) or the address to listen on")
    if is_loopback(host):
        return []
    return [
        f"WARNING: serving on {host}, not only on this machine: anyone who can reach port {port} can read every "
        "trajectory in the store. Use the default 127.0.0.1 unless you mean it."
    ]


def reserve_port(host: str, port: int) -> int:
    """Check that `host:port` can be bound now (port 0: pick a free one); return the port. `ConfigError` if not."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as e:
            raise ConfigError(
                f"cannot listen on {host}:{port} ({e.strerror or e}); pass another --port, or stop the program "
                "using this one"
            ) from None
        return int(probe.getsockname()[1])


def make_server(
    store: Store, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *, allow_edits: bool = False
) -> uvicorn.Server:
    """A uvicorn server for the browse app over an open store (not started; call `.run()`)."""
    app = create_app(store, allow_edits=allow_edits, allowed_hosts=allowed_hosts_for(host))
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, server_header=False)
    return uvicorn.Server(config)


def serve(
    db_url: str | None,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    allow_edits: bool = False,
    *,
    echo: Callable[[str], None] | None = None,
) -> None:
    """Serve the store at `db_url` on `host:port` until interrupted (Ctrl-C).

    Read-only unless `allow_edits`. A host other than loopback is allowed but warned about. `echo` prints the
    address and warnings (default: stderr). Raises `StoreError` / `ConfigError` before serving when the store
    or the address is unusable.
    """
    say = echo or (lambda line: print(line, file=sys.stderr))
    for warning in check_bind(host, port):
        say(warning)
    if allow_edits and not is_loopback(host):
        say("WARNING: edits are allowed and the server is reachable from other machines.")
    port = reserve_port(host, port)
    store = open_existing_store(db_url)
    try:
        server = make_server(store, host, port, allow_edits=allow_edits)
        shown = f"[{host}]" if ":" in host else host
        say(
            f"practicum browse: http://{shown}:{port}/ ({store.url}, "
            f"{'edits allowed' if allow_edits else 'read-only'}); Ctrl-C stops it"
        )
        server.run()
    finally:
        store.close()
