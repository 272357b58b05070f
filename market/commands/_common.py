"""Shared bits of the market's CLI commands."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path


def fail(message: str, status: int = 2) -> int:
    """One line on stderr, no traceback."""
    print(f"klaster: {message}", file=sys.stderr)
    return status


def database_url(explicit: str | None) -> str:
    from market.core.settings import get_settings, normalise_database_url

    return normalise_database_url(explicit) if explicit else get_settings().database_url


def run_file_import(
    command: str,
    file: str,
    main: Callable[[Path], Awaitable[int]],
) -> int:
    """Run an import command's `main(path)`: a missing file, bad input (`KlasterError`), a
    database that isn't there or not migrated, and a file that isn't UTF-8 each give one
    line on stderr naming what to fix and exit 2 — no traceback, nothing stored."""
    import anyio
    from sqlalchemy.exc import SQLAlchemyError

    from market.core.errors import KlasterError

    def bad(message: str) -> int:
        print(f"klaster {command}: {message}", file=sys.stderr)
        return 2

    path = Path(file)
    if not path.is_file():
        return bad(f"file: {file!r} not found")
    try:
        return int(anyio.run(main, path))
    except KlasterError as exc:
        return bad(str(exc))
    except SQLAlchemyError as exc:
        return bad(
            f"database: {type(exc).__name__}: {str(exc).splitlines()[0][:160]} "
            "(is DATABASE_URL right, and has `klaster migrate` run?)"
        )
    except UnicodeDecodeError:
        return bad("file: not UTF-8 text; save the CSV as UTF-8")
