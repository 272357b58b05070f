"""Fixtures of the market domain tests (tests/support/market.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support.market import World, build_world


@pytest.fixture
async def world(db: Any) -> AsyncIterator[World]:
    yield await build_world(db)
