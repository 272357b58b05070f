"""Fixtures of the operations tests: the web tests' small cluster and app
(tests/support/world.py)."""

from __future__ import annotations

from tests.support.world import client, module_client, web_app, world

__all__ = ["client", "module_client", "web_app", "world"]
