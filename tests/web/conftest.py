"""Fixtures of the web tests: the small cluster behind one app per module
(tests/support/world.py)."""

from __future__ import annotations

from tests.support.world import client, module_client, web_app, world

__all__ = ["client", "module_client", "web_app", "world"]
