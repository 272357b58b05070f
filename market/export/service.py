"""Export services: who may export, which range, and the bytes in the requested format.

Used by `klaster export` (files, with progress) and by the web (streamed responses). The
format is an `Encoder` from `market.export.formats.registry`; this module never names one.
Only the distributor and the coordinator may export (`Forbidden` otherwise).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import IO

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.access.actor import Actor, require_role
from market.access.models import Role
from market.core.errors import ValidationFailed
from market.export.formats.encoder import Document
from market.export.formats.registry import FORMATS
from market.export.query import BATCHES
from market.export.request import ExportRequest
from market.export.scope import ExportScope, load_scope
from market.export.tables import TableSpec
from market.export.writers import Row

EXPORT_ROLES = (Role.DISTRIBUTOR, Role.COORDINATOR)
#: Longest range a web request may ask for (formats that stream; others are limited by rows).
WEB_MAX_DAYS = 92

Progress = Callable[[str, int, int], None]  # (table, batches done, rows written)


def authorize(actor: Actor) -> None:
    """Exports are for the distributor and the coordinator only."""
    require_role(actor, *EXPORT_ROLES)


async def open_export(
    session: AsyncSession, actor: Actor | None, request: ExportRequest, *, web: bool = False
) -> ExportScope:
    """Check the actor (None: the command line, trusted) and load the scope.

    For a web request, the range is limited to `WEB_MAX_DAYS` and a format with a row limit
    (`Encoder.web_max_rows`) to that many rows, with a message saying what to do instead
    (never a timeout or a full memory).
    """
    if actor is not None:
        authorize(actor)
    scope = await load_scope(
        session, request.start, request.end, max_days=WEB_MAX_DAYS if web else None
    )
    limit = request.encoder.web_max_rows
    if web and limit is not None:
        rows = max(
            scope.metering_rows_estimate if "metering" in request.tables else 0,
            scope.interval_count,
        )
        if rows > limit:
            raise ValidationFailed(
                "format",
                "about %(rows)s rows are too many for one %(format)s download (at most "
                "%(limit)s); download %(streamed)s, or use `klaster export --format %(name)s`",
                rows=rows,
                format=request.encoder.label,
                limit=limit,
                streamed=", ".join(e.label for e in FORMATS if e.web_max_rows is None),
                name=request.encoder.name,
            )
    return scope


class _Batches:
    """The rows of each table from the database, counted for the progress callback."""

    def __init__(
        self, session: AsyncSession, scope: ExportScope, progress: Progress | None
    ) -> None:
        self.session, self.scope, self.progress = session, scope, progress
        self.rows = 0

    async def __call__(self, table: TableSpec) -> AsyncIterator[Sequence[Row]]:
        done = 0
        async for batch in BATCHES[table.name](self.session, self.scope):
            done += 1
            self.rows += len(batch)
            if self.progress:
                self.progress(table.name, done, self.rows)
            yield batch


async def stream_export(
    session: AsyncSession,
    scope: ExportScope,
    request: ExportRequest,
    progress: Progress | None = None,
) -> AsyncIterator[bytes]:
    """The export in the request's format as byte chunks, produced as the database is read."""
    batches = _Batches(session, scope, progress)
    document = Document(scope.meta(), request.specs, batches, request.dialect)
    async for chunk in request.encoder.write(document):
        yield chunk


async def write_export(
    session: AsyncSession,
    scope: ExportScope,
    request: ExportRequest,
    target: str | IO[bytes],
    progress: Progress | None = None,
) -> int:
    """Write the export to a file (a path or a binary stream); returns the number of rows."""
    rows = 0

    def counting(table: str, done: int, written: int) -> None:
        nonlocal rows
        rows = written
        if progress:
            progress(table, done, written)

    if isinstance(target, str):
        with open(target, "wb") as out:
            async for chunk in stream_export(session, scope, request, counting):
                out.write(chunk)
    else:
        async for chunk in stream_export(session, scope, request, counting):
            target.write(chunk)
    return rows


async def stream_in_own_session(
    sessions: async_sessionmaker[AsyncSession], scope: ExportScope, request: ExportRequest
) -> AsyncIterator[bytes]:
    """The export's bytes for an HTTP response. It reads in its own session, because a
    streamed response outlives the request handler (and its session)."""
    async with sessions() as session:
        async for chunk in stream_export(session, scope, request):
            yield chunk
