"""The SQL trajectory store: runs, tasks, episodes with their search trees, pairs, policies, rounds, evals.

    from practicum.store import open_store, queries

    with open_store("sqlite:///practicum.db") as store:      # or postgresql://user:pw@host/db
        run_id = store.create_run(config=cfg, seeds=seeds, command=cmd, versions=versions, git_rev=rev)
        episode_id = store.write_episode(EpisodeRecord(run_id=run_id, task=..., nodes=[...], ...))
        with store.session() as s:
            summary = queries.run_summary(s, run_id)

Writes take the plain records of `practicum.store.records`; reads return the ORM rows of
`practicum.store.models` (usable after the session closes) or small dataclasses.
"""

from practicum.store.db import DEFAULT_URL, make_engine, open_store, parse_url
from practicum.store.errors import RecordError
from practicum.store.paths import store_url
from practicum.store.records import (
    EpisodeRecord,
    EvalRecord,
    EvalTaskResult,
    NodeRecord,
    PairRecord,
    TaskRecord,
)
from practicum.store.store import Store, StoreInfo

__all__ = [
    "DEFAULT_URL",
    "EpisodeRecord",
    "EvalRecord",
    "EvalTaskResult",
    "NodeRecord",
    "PairRecord",
    "RecordError",
    "Store",
    "StoreInfo",
    "TaskRecord",
    "make_engine",
    "open_store",
    "parse_url",
    "store_url",
]
