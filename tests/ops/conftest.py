"""Fixtures of the operations tests: the web tests' small cluster and app (re-exported)."""

from __future__ import annotations

from tests.web.conftest import client, world

__all__ = ["client", "world"]
