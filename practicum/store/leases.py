"""Leases on episode uids: at most one live worker plays an episode, and a dead worker's episode is picked up.

A worker `claim`s a uid before playing it, renews the claim with `heartbeat` while it plays, and `release`s it
after the episode is written. A claim is refused while another holder's lease is live; it is granted when the
lease expired (no heartbeat for `ttl_s`) or when its holder is a process of this host that no longer exists,
so a crashed local worker's episode is played again at once and a lost remote one after `ttl_s`. The episode
write itself stays idempotent by uid, so even a worker that was wrongly presumed dead cannot double an episode.
"""

from __future__ import annotations

import socket
import threading
from datetime import timedelta

import psutil
from sqlalchemy import delete, exc, insert, select, update
from sqlalchemy.engine import Connection

from practicum.store.models import Lease, utcnow
from practicum.store.store import Store

DEFAULT_TTL_S = 30.0


def holder_id() -> str:
    """This process, named so that another process on the same host can tell whether it is still alive."""
    me = psutil.Process()
    return f"{socket.gethostname()}:{me.pid}:{me.create_time():.3f}"


def holder_alive(holder: str) -> bool:
    """False only for a holder of this host whose process is gone (a remote holder is presumed alive)."""
    host, _, rest = holder.partition(":")
    pid_text, _, started = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return True
    try:
        process = psutil.Process(int(pid_text))
        return not started or f"{process.create_time():.3f}" == started
    except psutil.NoSuchProcess:
        return False


def claim(store: Store, uid: str, holder: str, *, ttl_s: float = DEFAULT_TTL_S) -> bool:
    """Take the lease on `uid` for `holder`; False while another holder's lease is live."""

    def write(conn: Connection) -> bool:
        now = utcnow()
        expires = now + timedelta(seconds=ttl_s)
        row = conn.execute(select(Lease.holder, Lease.expires_at).where(Lease.uid == uid)).first()
        if row is None:
            conn.execute(
                insert(Lease).values(
                    uid=uid, holder=holder, acquired_at=now, heartbeat_at=now, expires_at=expires, attempts=1
                )
            )
            return True
        current, until = row
        if current != holder and until > now and holder_alive(current):
            return False
        taken = conn.execute(
            update(Lease)
            .where(Lease.uid == uid, Lease.holder == current)  # nobody took it over in between
            .values(
                holder=holder,
                acquired_at=now,
                heartbeat_at=now,
                expires_at=expires,
                attempts=Lease.attempts + (0 if current == holder else 1),
            )
        )
        return taken.rowcount == 1

    try:
        return store.retrying(write, what="lease claim")
    except exc.IntegrityError:  # another worker inserted the same uid first
        return False


def heartbeat(store: Store, uid: str, holder: str, *, ttl_s: float = DEFAULT_TTL_S) -> bool:
    """Renew `holder`'s lease on `uid`; False when it was lost (expired and taken over)."""

    def write(conn: Connection) -> bool:
        now = utcnow()
        renewed = conn.execute(
            update(Lease)
            .where(Lease.uid == uid, Lease.holder == holder)
            .values(heartbeat_at=now, expires_at=now + timedelta(seconds=ttl_s))
        )
        return renewed.rowcount == 1

    return store.retrying(write, what="lease heartbeat")


def release(store: Store, uid: str, holder: str) -> None:
    """Drop `holder`'s lease on `uid` (its episode is written, or it gives the episode up)."""
    store.retrying(
        lambda conn: conn.execute(delete(Lease).where(Lease.uid == uid, Lease.holder == holder)), what="lease release"
    )


class Heartbeat:
    """Renews a lease every `ttl_s / 3` seconds in a background thread while an episode plays."""

    def __init__(self, store: Store, uid: str, holder: str, *, ttl_s: float = DEFAULT_TTL_S) -> None:
        self.store, self.uid, self.holder, self.ttl_s = store, uid, holder, ttl_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{uid}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(self.ttl_s / 3):
            try:
                heartbeat(self.store, self.uid, self.holder, ttl_s=self.ttl_s)
            except Exception:  # a missed beat is not fatal: the write after the episode is what counts
                continue
