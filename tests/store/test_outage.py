"""A database that goes away for a few seconds: episode writes wait and retry, nothing is lost or doubled."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select

from practicum.errors import StoreError
from practicum.store import open_store
from practicum.store.models import Episode, NodeRow
from tests.postgres import PostgresServer
from tests.store.factories import make_episode

pytestmark = pytest.mark.postgres


def test_writes_during_a_server_restart_retry_until_it_is_back(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    with open_store(postgres_url, connect_timeout_s=1) as store:
        run = store.create_run(config={}, seeds={})
        store.write_episode(make_episode(run, uid="before"))
        postgres_server.stop()
        restart = threading.Timer(3.0, postgres_server.start)
        restart.start()
        try:
            started = time.monotonic()
            episode_id = store.write_episode(make_episode(run, uid="during", n_nodes=21))
            waited = time.monotonic() - started
        finally:
            restart.join()
        assert waited >= 2.5  # it really waited for the server
        assert store.write_episode(make_episode(run, uid="during", n_nodes=21)) == episode_id  # no double write
        with store.session() as s:
            assert s.scalar(select(func.count(Episode.id))) == 2
            assert s.scalar(select(func.count()).where(NodeRow.episode_id == episode_id)) == 21


def test_a_server_that_stays_away_gives_a_clear_error_after_the_retry_window(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    store = open_store(postgres_url, connect_timeout_s=1, retry_for_s=2)
    try:
        run = store.create_run(config={}, seeds={})
        postgres_server.stop()
        try:
            with pytest.raises(StoreError, match="check that the database is up"):
                store.write_episode(make_episode(run, uid="lost"))
        finally:
            postgres_server.start()
        with store.session() as s:  # the failed write left nothing behind
            assert s.scalar(select(func.count(Episode.id))) == 0
    finally:
        store.close()
