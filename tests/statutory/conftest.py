"""The web fixtures (one app per module) for the statutory pages' tests."""

from __future__ import annotations

from tests.support.world import client, module_client, web_app, world

__all__ = ["client", "module_client", "web_app", "world"]
