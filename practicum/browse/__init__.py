"""`practicum browse`: a local web app over the trajectory store.

    from practicum.browse import serve
    serve("sqlite:///practicum.db", host="127.0.0.1", port=8765, allow_edits=False)

Runs with their learning curves, practice iterations (exploration and validation) and held-out success per
policy; filtered and paged episodes; one episode's committed path and lazily loaded MCTS tree with its mined
pairs; a training round's datasets; policy lineage with evals and promotion decisions, two policies side by side
on a held-out task, and (only with `allow_edits`) relabelling of critic scores and pairs, each edit logged.
`create_app(store)` gives the FastAPI app itself (for tests or another server).
"""

from practicum.browse.app import create_app
from practicum.browse.errors import CsrfError, EditError, EditsDisabledError
from practicum.browse.server import DEFAULT_HOST, DEFAULT_PORT, make_server, open_existing_store, serve

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "CsrfError",
    "EditError",
    "EditsDisabledError",
    "create_app",
    "make_server",
    "open_existing_store",
    "serve",
]
