"""Shared bits of the market's CLI commands."""

from __future__ import annotations

import sys


def fail(message: str, status: int = 2) -> int:
    """One line on stderr, no traceback."""
    print(f"klaster: {message}", file=sys.stderr)
    return status


def database_url(explicit: str | None) -> str:
    from market.core.settings import get_settings, normalise_database_url

    return normalise_database_url(explicit) if explicit else get_settings().database_url
