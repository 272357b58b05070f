"""Bulk import of members and their metering points from one CSV text, all or nothing.

The file (`;` or `,` separated; the caller decodes it, see `market.metering.textfile`) has a
header line naming its columns, in any order, case ignored:

- member: `name`, `kind`, `login`, `email`, `password`, `show_name`
- metering point: `ppe_code`, `node`, `contracted_power_kw`, `pv_kwp`, `other_generation_kw`,
  `storage_kwh`, `annual_use_kwh`, `load_profile`, `technology`, `point_name`

One row is one member with at most one metering point. Rows with the same `login` belong to
one member: the first such row creates it, later rows add points (their member columns may be
empty; a filled one must match the first row). A row without a login is a member of its own
(without a login). A row with no point column filled creates a member without a point.

Each row goes through the single forms' parsers (`market.members.inputs`) and the services
(`create_member`, `create_metering_point`: PPE check digit, unknown node, login or PPE taken),
plus a check for a PPE code repeated in the file. Every error is collected with its line and
column; if there is any, everything is rolled back (a savepoint) and `BulkImportFailed`
carries the list. The caller's transaction is the unit of work, as for every service.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from market.access import audit
from market.access.actor import WRITE, Actor, require_role
from market.core.errors import KlasterError, Param, ValidationFailed, render_message
from market.members import inputs, service

MEMBER_COLUMNS = ("name", "kind", "login", "email", "password", "show_name")
POINT_COLUMNS = (
    "ppe_code",
    "node",
    "contracted_power_kw",
    "pv_kwp",
    "other_generation_kw",
    "storage_kwh",
    "annual_use_kwh",
    "load_profile",
    "technology",
    "point_name",
)
COLUMNS = MEMBER_COLUMNS + POINT_COLUMNS
#: Most rows one file may hold (a cluster is a few hundred members).
MAX_ROWS = 5000


@dataclass(frozen=True, slots=True)
class LineError:
    """A bad row: its line in the file, the column, a message id with params."""

    line: int
    field: str
    message_id: str
    params: Mapping[str, Param]

    @property
    def message(self) -> str:
        return render_message(self.message_id, self.params)


class BulkImportFailed(ValidationFailed):
    """Nothing stored; `errors` lists every bad row by line and column."""

    def __init__(self, errors: list[LineError]) -> None:
        super().__init__(
            "file", "the file has %(count)s errors; nothing was stored", count=len(errors)
        )
        self.errors = errors


@dataclass(frozen=True, slots=True)
class BulkSummary:
    members: int
    points: int


@dataclass
class _Row:
    line: int
    cells: dict[str, str]


@dataclass
class _Group:
    rows: list[_Row] = field(default_factory=list)


def _error(line: int, exc: KlasterError) -> LineError:
    return LineError(line, exc.field, exc.message_id, dict(exc.params))


def _check_header(names: list[str], line: int) -> None:
    unknown = [
        LineError(line, n, "not a column of the import", {}) for n in names if n not in COLUMNS
    ]
    if "name" not in names:
        unknown.append(
            LineError(line, "name", "the header has no %(column)s column", {"column": "name"})
        )
    if unknown:
        raise BulkImportFailed(unknown)


def read_rows(text: str) -> list[_Row]:
    """The non-empty rows with their line numbers; `BulkImportFailed` for a bad header."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = ";" if header.count(";") >= header.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    names: list[str] | None = None
    rows: list[_Row] = []
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue
        if names is None:
            names = [cell.strip().lstrip("\ufeff").lower() for cell in cells]
            _check_header(names, reader.line_num)
            continue
        if len(rows) >= MAX_ROWS:
            raise BulkImportFailed(
                [LineError(reader.line_num, "", "at most %(count)s rows", {"count": MAX_ROWS})]
            )
        values = {n: (cells[i].strip() if i < len(cells) else "") for i, n in enumerate(names)}
        rows.append(_Row(reader.line_num, values))
    if not rows:
        raise BulkImportFailed([LineError(1, "file", "the file has no rows", {})])
    return rows


def _groups(rows: list[_Row]) -> list[_Group]:
    """Rows by member: the same login is one member, a row without a login its own."""
    by_login: dict[str, _Group] = {}
    groups: list[_Group] = []
    for row in rows:
        login = row.cells.get("login", "")
        group = by_login.get(login) if login else None
        if group is None:
            group = _Group()
            groups.append(group)
            if login:
                by_login[login] = group
        group.rows.append(row)
    return groups


def _member_fields(row: _Row) -> dict[str, str]:
    return {k: row.cells[k] for k in MEMBER_COLUMNS if row.cells.get(k)}


def _point_fields(row: _Row) -> dict[str, str] | None:
    """The point columns filled in, or None when the row has no point."""
    filled = {k: row.cells[k] for k in POINT_COLUMNS if row.cells.get(k)}
    if not filled:
        return None
    if "point_name" in filled:
        filled["name"] = filled.pop("point_name")
    return filled


async def _member(
    session: AsyncSession, actor: Actor, group: _Group, errors: list[LineError]
) -> int | None:
    """Create the group's member (its first row); the id, or None after an error."""
    first = group.rows[0]
    expected = _member_fields(first)
    for row in group.rows[1:]:
        for key, value in _member_fields(row).items():
            if value != expected.get(key):
                errors.append(LineError(row.line, key, "differs from line %(line)s for the same "
                                        "login", {"line": first.line}))  # fmt: skip
    try:
        data = inputs.parse_member(expected)
        return (await service.create_member(session, actor, data)).id
    except KlasterError as exc:
        errors.append(_error(first.line, exc))
        return None


async def _points(
    session: AsyncSession,
    actor: Actor,
    group: _Group,
    member_id: int | None,
    seen: dict[str, int],
    errors: list[LineError],
) -> int:
    """Create the group's points (the member's id, or a stand-in only to parse when the member
    failed); how many were created."""
    created = 0
    for row in group.rows:
        fields = _point_fields(row)
        if fields is None:
            continue
        fields["member_id"] = str(member_id or 1)
        try:
            data = inputs.parse_metering_point(fields)
            if data.ppe_code in seen:
                raise ValidationFailed(
                    "ppe_code",
                    "%(ppe_code)s is already in line %(line)s",
                    ppe_code=data.ppe_code,
                    line=seen[data.ppe_code],
                )
            seen[data.ppe_code] = row.line
            if member_id is not None:
                await service.create_metering_point(session, actor, data)
                created += 1
        except KlasterError as exc:
            errors.append(_error(row.line, exc))
    return created


async def import_members(session: AsyncSession, actor: Actor, text: str) -> BulkSummary:
    """Store every member and point of the CSV `text`, or nothing (`BulkImportFailed`)."""
    require_role(actor, *WRITE)
    rows = read_rows(text)
    errors: list[LineError] = []
    seen: dict[str, int] = {}
    members = points = 0
    await session.flush()
    async with session.begin_nested():  # an error leaves the block: all of it rolled back
        for group in _groups(rows):
            member_id = await _member(session, actor, group, errors)
            members += member_id is not None
            points += await _points(session, actor, group, member_id, seen, errors)
        if errors:
            raise BulkImportFailed(sorted(errors, key=lambda e: e.line))
        audit.record(session, actor, "import", "member", None, members=members, points=points,
                     rows=len(rows))  # fmt: skip
        await session.flush()
    return BulkSummary(members, points)
