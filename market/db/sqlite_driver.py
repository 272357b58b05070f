"""SQLite for asyncio with one thread hop per statement (used under SQLAlchemy's aiosqlite
dialect in place of aiosqlite's own connection).

SQLite's calls block, so they run on a thread of the connection's own. aiosqlite makes every
DB-API call its own round trip to that thread: SQLAlchemy's adapter creates a cursor,
executes, fetches and closes, four trips a statement. Each trip costs a thread switch and a
turn of the event loop, and under load a turn of the loop is long: four of them per trivial
SELECT made the statement, not SQLite, the cost of a request. Here a statement runs and
fetches its first rows in one trip; bigger results (server-side cursors for exports) are
fetched from the thread in chunks as they are read.

Inside `inline()` (for one task: a context variable) statements do not travel at all: they run
on the event loop's thread, for the hot paths whose statements are all short (the batched
order intake). A trip costs a turn of a busy event loop and a wait for the GIL, ~1 ms each
under load, where the statement itself takes microseconds. Inline statements never wait for
a lock, which would stop the loop and maybe the lock's holder with it: `busy_timeout` is 0
for them, and a statement that finds the database locked goes to the thread after all,
where it waits as usual. Their commits run inline too, so such a connection should not
checkpoint the WAL as it commits (`market.db.no_autocheckpoint`; `market.db.checkpoint`
does it on another connection).

It has the subset of aiosqlite's API that SQLAlchemy's adapter uses (see `market.db`).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from typing import Any

#: Rows fetched together with the statement; the rest come in later trips.
FIRST_ROWS = 2000
CHUNK_ROWS = 2000


_INLINE: ContextVar[bool] = ContextVar("klaster_sqlite_inline", default=False)


@contextlib.contextmanager
def inline() -> Iterator[None]:
    """Run this task's statements on the event loop's thread (see the module's doc)."""
    token = _INLINE.set(True)
    try:
        yield
    finally:
        _INLINE.reset(token)


class _Busy(Exception):
    """An inline statement found the database locked; it had no effect."""


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return bool(code & 0xFF == sqlite3.SQLITE_BUSY)
    return "locked" in str(exc)


class _Worker(threading.Thread):
    """The connection's thread: runs submitted calls one at a time, in order."""

    def __init__(self) -> None:
        super().__init__(name="klaster-sqlite", daemon=True)
        self.calls: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def run(self) -> None:
        while True:
            item = self.calls.get()
            if item is None:
                return
            loop, future, fn, args = item
            try:
                result, error = fn(*args), None
            except BaseException as exc:  # handed to the awaiting task
                result, error = None, exc
            # RuntimeError: the loop is closed, nobody is waiting any more
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, future, result, error)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _execute(
    conn: sqlite3.Connection, sql: str, params: Any, many: bool
) -> tuple[sqlite3.Cursor | None, Any, int, int | None, list[Any]]:
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(sql, params)
        else:
            cursor.execute(sql, params)
        rows = cursor.fetchmany(FIRST_ROWS) if cursor.description is not None else []
    except BaseException:
        cursor.close()
        raise
    more = len(rows) == FIRST_ROWS  # maybe: keep the cursor open for the rest
    result = (cursor if more else None, cursor.description, cursor.rowcount, cursor.lastrowid, rows)
    if not more:
        cursor.close()
    return result


def _with_busy_timeout(
    conn: sqlite3.Connection, busy_ms: int, fn: Callable[..., Any], *args: Any
) -> Any:
    conn.execute(f"PRAGMA busy_timeout = {int(busy_ms)}")
    return fn(*args)


def _fetch(cursor: sqlite3.Cursor, size: int | None) -> list[Any]:
    rows = cursor.fetchall() if size is None else cursor.fetchmany(size)
    if size is None or len(rows) < size:
        cursor.close()
    return rows


class Connection:
    def __init__(self, worker: _Worker) -> None:
        self._worker = worker
        self._conn: sqlite3.Connection | None = None
        #: busy_timeout (ms) as configured, and whether inline calls set it to 0 since
        self._busy_ms = 0
        self._busy_off = False

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self._conn is not None and _INLINE.get():
            try:
                return self._inline(self._conn, fn, args)
            except _Busy:
                pass  # wait for the lock on the thread
        if self._busy_off:
            self._busy_off = False
            fn, args = _with_busy_timeout, (self._conn, self._busy_ms, fn, *args)
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._worker.calls.put((loop, future, fn, args))
        return await future

    def _inline(self, conn: sqlite3.Connection, fn: Callable[..., Any], args: Any) -> Any:
        # Read it each time (microseconds): a statement may have set it since.
        busy_ms = int(conn.execute("PRAGMA busy_timeout").fetchone()[0])
        if busy_ms:
            self._busy_ms = busy_ms
            conn.execute("PRAGMA busy_timeout = 0")
        self._busy_off = True
        was_in_transaction = conn.in_transaction
        try:
            return fn(*args)
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc):
                raise
            if not was_in_transaction and conn.in_transaction:
                conn.rollback()  # the BEGIN sqlite3 issued for this statement
            raise _Busy from exc

    async def _open(self, database: str, kwargs: dict[str, Any]) -> Connection:
        kwargs = {**kwargs, "check_same_thread": False}
        self._conn = await self._call(lambda: sqlite3.connect(database, **kwargs))
        return self

    @property
    def _connection(self) -> sqlite3.Connection | None:  # aiosqlite's name, checked by SQLAlchemy
        return self._conn

    @property
    def isolation_level(self) -> str | None:
        assert self._conn is not None
        return self._conn.isolation_level

    @property
    def _tx(self) -> _Submit:  # SQLAlchemy sets the isolation level through aiosqlite's queue
        return _Submit(self._worker)

    def cursor(self) -> Cursor:
        return Cursor(self)

    async def execute(self, sql: str, parameters: Any = ()) -> Cursor:
        cursor = Cursor(self)
        await cursor.execute(sql, parameters)
        return cursor

    async def commit(self) -> None:
        assert self._conn is not None
        await self._call(self._conn.commit)

    async def rollback(self) -> None:
        assert self._conn is not None
        await self._call(self._conn.rollback)

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        assert self._conn is not None
        conn = self._conn
        await self._call(lambda: conn.create_function(*args, **kwargs))

    async def close(self) -> None:
        if self._conn is None:
            return
        conn, self._conn = self._conn, None
        self._busy_off = False  # closing: no busy timeout to restore (and no connection to)
        try:
            await self._call(conn.close)
        finally:
            self._worker.calls.put(None)

    def stop(self) -> None:
        """Close without waiting (SQLAlchemy's terminate)."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            self._worker.calls.put((_NoLoop, None, conn.close, ()))
        self._worker.calls.put(None)


class _NoLoop:
    @staticmethod
    def call_soon_threadsafe(*_: Any) -> None:
        return None


class _Submit:
    def __init__(self, worker: _Worker) -> None:
        self._worker = worker

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        self._worker.calls.put((future.get_loop(), future, function, ()))


class Cursor:
    arraysize = 1

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._open: sqlite3.Cursor | None = None
        self._rows: deque[Any] = deque()
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None

    async def __aenter__(self) -> Cursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _run(self, sql: str, params: Any, many: bool) -> Cursor:
        conn = self._connection._conn
        if conn is None:
            raise ValueError("no active connection")
        await self._discard()
        (
            self._open,
            self.description,
            self.rowcount,
            self.lastrowid,
            rows,
        ) = await self._connection._call(_execute, conn, sql, params, many)
        self._rows = deque(rows)
        return self

    async def execute(self, sql: str, parameters: Any = None) -> Cursor:
        return await self._run(sql, () if parameters is None else parameters, False)

    async def executemany(self, sql: str, seq_of_parameters: Sequence[Any]) -> Cursor:
        return await self._run(sql, seq_of_parameters, True)

    async def _more(self, size: int | None) -> None:
        if self._open is not None:
            cursor = self._open
            rows = await self._connection._call(_fetch, cursor, size)
            if size is None or len(rows) < size:
                self._open = None
            self._rows.extend(rows)

    async def fetchone(self) -> Any:
        if not self._rows:
            await self._more(CHUNK_ROWS)
        return self._rows.popleft() if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        size = size or self.arraysize
        if len(self._rows) < size:
            await self._more(max(size - len(self._rows), CHUNK_ROWS))
        return [self._rows.popleft() for _ in range(min(size, len(self._rows)))]

    async def fetchall(self) -> list[Any]:
        await self._more(None)
        rows, self._rows = list(self._rows), deque()
        return rows

    async def _discard(self) -> None:
        self._rows.clear()
        if self._open is not None:
            cursor, self._open = self._open, None
            await self._connection._call(cursor.close)

    async def close(self) -> None:
        await self._discard()


async def connect(database: str, **kwargs: Any) -> Connection:
    """Open `database` (arguments as for `sqlite3.connect`) on a new thread of its own."""
    worker = _Worker()
    worker.start()
    try:
        return await Connection(worker)._open(database, kwargs)
    except BaseException:
        worker.calls.put(None)
        raise
