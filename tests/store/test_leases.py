"""Leases on episode uids in a real store: one live holder at a time; expired or dead holders are replaced."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import psutil
from sqlalchemy import select

from practicum.store import Store, leases
from practicum.store.models import Lease


def attempts(store: Store, uid: str) -> int:
    with store.session() as s:
        return int(s.scalar(select(Lease.attempts).where(Lease.uid == uid)) or 0)


def test_a_live_lease_is_exclusive_until_released(store: Store) -> None:
    assert leases.claim(store, "r1/e1", "host-a:1:1")
    assert not leases.claim(store, "r1/e1", "host-b:2:2")  # another host's live lease: wait
    assert leases.claim(store, "r1/e1", "host-a:1:1")  # its own holder renews
    assert leases.heartbeat(store, "r1/e1", "host-a:1:1")
    leases.release(store, "r1/e1", "host-a:1:1")
    assert leases.claim(store, "r1/e1", "host-b:2:2")
    assert attempts(store, "r1/e1") == 1  # a fresh lease after a release


def test_an_expired_lease_is_taken_over_and_its_old_holder_learns_it(store: Store) -> None:
    assert leases.claim(store, "r1/e2", "host-a:1:1", ttl_s=0.2)
    time.sleep(0.4)  # no heartbeat came
    assert leases.claim(store, "r1/e2", "host-b:2:2")
    assert attempts(store, "r1/e2") == 2
    assert not leases.heartbeat(store, "r1/e2", "host-a:1:1")  # lost: the old holder must not write on
    leases.release(store, "r1/e2", "host-a:1:1")  # a stale release does not drop the new holder's lease
    assert not leases.claim(store, "r1/e2", "host-c:3:3")


def test_a_dead_local_holder_is_replaced_at_once(store: Store) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    dead = f"{socket.gethostname()}:{child.pid}:{psutil.Process(child.pid).create_time():.3f}"
    assert leases.claim(store, "r1/e3", dead, ttl_s=600)
    assert not leases.claim(store, "r1/e3", leases.holder_id())  # alive: its lease holds
    child.kill()
    child.wait()
    assert leases.claim(store, "r1/e3", leases.holder_id())  # gone: no need to wait 600 s
    assert attempts(store, "r1/e3") == 2


def test_a_heartbeat_thread_keeps_a_short_lease_alive(store: Store) -> None:
    me = leases.holder_id()
    assert leases.claim(store, "r1/e4", me, ttl_s=0.3)
    with leases.Heartbeat(store, "r1/e4", me, ttl_s=0.3):
        time.sleep(1.0)
        assert not leases.claim(store, "r1/e4", "host-b:2:2")
    time.sleep(0.5)
    assert leases.claim(store, "r1/e4", "host-b:2:2")  # beats stopped: it expired
