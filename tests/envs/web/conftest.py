"""Fixtures for the web environment tests: one Chromium per test module, local pages on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from practicum.envs.web.chromium import BrowserLease, acquire_browser
from practicum.envs.web.shop import ShopEnv


@pytest.fixture(scope="module")
def browser_lease() -> Iterator[BrowserLease]:
    """Keeps this module's browser running between tests; environments open their own contexts on it."""
    lease = acquire_browser()
    yield lease
    lease.release()


@pytest.fixture(scope="module")
def shop_env(browser_lease: BrowserLease) -> Iterator[ShopEnv]:
    """A shop environment for this module's tests (40 steps an episode), closed after them."""
    shop = ShopEnv(max_steps=40)
    yield shop
    shop.close()
