"""Fixtures of the market domain tests (helpers live in market_world.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from market_world import World, build_world


@pytest.fixture
async def world(db: Any) -> AsyncIterator[World]:
    yield await build_world(db)
