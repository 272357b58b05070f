"""Coordinator pages: members, metering points (PPE validated), network, parameters, audit.

Each form handler names the form to re-render on an error, parses the posted text into the
service's typed input (the same parser the API uses), calls one service and renders."""

from __future__ import annotations

import tempfile
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qs, urlencode, urlsplit

from litestar import Controller, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, FromQuery, MultipartBody, QueryParameter
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from market.access import audit
from market.core.errors import ValidationFailed
from market.core.fields import blank
from market.export.request import parse_month
from market.members import bulk as member_bulk
from market.members import inputs as member_inputs
from market.members import queries as member_queries
from market.members import service as member_service
from market.metering.textfile import open_text
from market.network import inputs as network_inputs
from market.network import service as network_service
from market.reports.service import default_month, member_statement
from market.trading import halt as market_halt
from market.trading import parameters as market_parameters
from web.api.coordinator import announce_halt
from web.auth import requires_role
from web.deps import ClockDep, CurrentActor, Db, PublisherDep
from web.pages.reports import unless_empty
from web.ui.formatting import polish_sort_key
from web.ui.render import expect_form, page, render

#: The kinds of record the audit log can be filtered by (`market.access.audit` entities).
AUDIT_ENTITIES = ("order", "standing_order", "interval", "member", "metering_point", "node",
                  "line", "grid_connection", "parameters", "market", "api_token")  # fmt: skip
MEMBER_FIELDS = ("name", "kind", "role", "login", "password", "email")
MEMBER_EDIT_FIELDS = ("name", "kind", "email", "password", "show_name")
POINT_FIELDS = ("ppe_code", "member_id", "node", "contracted_power_kw", "pv_kwp", "name",
                "annual_use_kwh", "load_profile", "technology")  # fmt: skip
LINE_FIELDS = ("code", "from_node", "to_node", "capacity_kw", "name")
GRID_FIELDS = ("node", "import_price", "export_price", "import_limit_kw", "export_limit_kw")
POINT_EDIT_FIELDS = ("name", "node", "contracted_power_kw", "pv_kwp", "annual_use_kwh",
                     "technology")  # fmt: skip
PARAM_FIELDS = ("name", "registry_number", "coordinator_name", "gate_closure_minutes",
                "horizon_intervals", "price_floor", "price_cap", "grid_prices",
                "day_ahead_gate")  # fmt: skip


#: A members CSV is small: a few hundred rows.
MAX_MEMBERS_CSV = 2 * 1024 * 1024


@dataclass
class MembersUpload:
    file: UploadFile


async def _upload_text(upload: UploadFile) -> str:
    """The uploaded CSV as text, decoded as `market.metering.textfile` decodes meter data."""
    raw = await upload.read(MAX_MEMBERS_CSV + 1)
    if len(raw) > MAX_MEMBERS_CSV:
        raise ValidationFailed("file", "the file is larger than %(size_mb)s MB", size_mb=2)
    with tempfile.NamedTemporaryFile(prefix="klaster-members-", suffix=".csv", delete=False) as out:
        out.write(raw)
    path = Path(out.name)
    try:
        with open_text(path) as stream:
            return stream.read()
    finally:
        path.unlink(missing_ok=True)


async def form_fields(request: HTMXRequest, names: tuple[str, ...]) -> dict[str, str]:
    """The named fields of a posted form, as text (an unticked checkbox is "")."""
    form = await request.form()
    return {name: str(form.get(name, "")).strip() for name in names}


def _filled(fields: dict[str, str], *keep: str) -> dict[str, str]:
    """The boxes filled in (an empty optional box means "the default" or "unchanged")."""
    return {k: v for k, v in fields.items() if v or k in keep}


async def _members(db: Db, actor: CurrentActor) -> list[member_service.MemberView]:
    """The members in Polish alphabetical order (Łukasz after Lucyna, not after Zofia)."""
    rows = await member_service.list_members(db, actor)
    return sorted(rows, key=lambda m: polish_sort_key(m.name))


T = TypeVar("T")

#: Rows per page of the members' and the metering points' tables (a 5,000-point cluster's
#: whole table was 3.8 MB of HTML and 1.5 s).
PAGE_ROWS = 200


@dataclass(frozen=True, slots=True)
class Pager:
    """Where a table page lies in the (searched) rows: `first`..`last` of `total`."""

    page: int
    pages: int
    total: int
    first: int
    last: int
    q: str
    #: The table's page (its search form's action) and the links to the pages either side.
    action: str
    extra: dict[str, str]
    prev_href: str | None
    next_href: str | None


def paged(
    rows: Sequence[T],
    page_no: int | None,
    q: str | None,
    text: Callable[[T], str],
    action: str,
    extra: dict[str, str] | None = None,
) -> tuple[list[T], Pager]:
    """The rows of page `page_no` (1-based, clamped) among those whose `text` contains `q`
    (case- and accent-insensitive); `extra`: the page's other query parameters, kept."""
    q = (q or "").strip()
    needle = fold(q)
    found = [r for r in rows if needle in fold(text(r))] if needle else list(rows)
    pages = max(1, -(-len(found) // PAGE_ROWS))
    page_no = min(max(page_no or 1, 1), pages)
    start = (page_no - 1) * PAGE_ROWS
    shown = found[start : start + PAGE_ROWS]
    extra = extra or {}

    def href(n: int) -> str:
        return action + "?" + urlencode({**extra, **({"q": q} if q else {}), "page": n})

    return shown, Pager(
        page_no, pages, len(found), start + 1 if shown else 0, start + len(shown), q,
        action, extra, href(page_no - 1) if page_no > 1 else None,
        href(page_no + 1) if page_no < pages else None,
    )  # fmt: skip


def _shown(request: HTMXRequest) -> tuple[int | None, str | None]:
    """The page and search of the table the browser shows (htmx sends the page's URL), so
    that adding, editing or deactivating a row answers with that page, not the first."""
    query = parse_qs(urlsplit(request.headers.get("hx-current-url") or "").query)
    page_no = (query.get("page") or [""])[0]
    return (int(page_no) if page_no.isascii() and page_no.isdigit() else None), (
        query.get("q") or [None]
    )[0]


async def _member_rows(
    request: HTMXRequest, db: Db, actor: CurrentActor
) -> tuple[list[member_service.MemberView], Pager]:
    return paged(await _members(db, actor), *_shown(request), _member_text, "/coordinator/members")


async def _point_rows(request: HTMXRequest, db: Db, actor: CurrentActor) -> tuple[list[Any], Pager]:
    listed = await member_service.list_metering_points(db, actor)
    return paged(listed, *_shown(request), _point_text, "/coordinator/points")


def fold(text: str) -> str:
    """Lower case without diacritics (`Łódź` → `lodz`), for searching."""
    decomposed = unicodedata.normalize("NFKD", text.replace("ł", "l").replace("Ł", "L"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().strip()


def _member_text(m: member_service.MemberView) -> str:
    return f"{m.name} {m.login or ''}"


def _point_text(p: Any) -> str:
    return f"{p.ppe_code} {p.name} {p.member_name} {p.node}"


class CoordinatorController(Controller):
    path = "/coordinator"
    guards = [requires_role("coordinator")]  # noqa: RUF012 - Litestar's declaration style

    @get("/")
    async def index(self, request: HTMXRequest, db: Db, actor: CurrentActor) -> Template:
        return render(
            request,
            "coordinator/index.html",
            section="coordinator",
            members=await _members(db, actor),
            params=await market_parameters.get_parameters(db),
        )

    @get("/members")
    async def members(
        self,
        request: HTMXRequest,
        db: Db,
        actor: CurrentActor,
        q: FromQuery[str | None] = None,
        page_no: Annotated[int | None, QueryParameter(name="page", ge=1)] = None,
    ) -> Template:
        rows, pager = paged(
            await _members(db, actor), page_no, q, _member_text, "/coordinator/members"
        )
        return page(request, "coordinator/members.html", section="coordinator", members=rows,
                    pager=pager)  # fmt: skip

    @post("/members")
    async def add_member(self, request: HTMXRequest, db: Db, actor: CurrentActor) -> Template:
        fields = await form_fields(request, MEMBER_FIELDS)

        def parse(f: dict[str, str]) -> member_inputs.MemberInput:
            return member_inputs.parse_member(_filled(f))

        expect_form(request, "coordinator/_member_form.html", form=fields, check=(parse, fields))
        data = parse(fields)
        await member_service.create_member(db, actor, data)
        rows, pager = await _member_rows(request, db, actor)
        return render(request, "coordinator/_member_added.html", members=rows, pager=pager, form={})

    @post("/members/import")
    async def import_members(
        self,
        request: HTMXRequest,
        db: Db,
        actor: CurrentActor,
        data: MultipartBody[MembersUpload],
    ) -> Template:
        expect_form(request, "coordinator/_bulk_import.html")
        text = await _upload_text(data.file)
        try:
            summary = await member_bulk.import_members(db, actor, text)
        except member_bulk.BulkImportFailed as failed:
            return render(request, "coordinator/_bulk_import.html", status_code=422,
                          failed=failed)  # fmt: skip
        rows, pager = await _member_rows(request, db, actor)
        return render(request, "coordinator/_bulk_imported.html", members=rows, pager=pager,
                      summary=summary)  # fmt: skip

    @post("/members/{member_id:int}/deactivate")
    async def deactivate_member(
        self, request: HTMXRequest, db: Db, actor: CurrentActor, member_id: FromPath[int]
    ) -> Template:
        await member_service.deactivate_member(db, actor, member_id)
        rows, pager = await _member_rows(request, db, actor)
        return render(request, "coordinator/_members_table.html", members=rows, pager=pager)

    @get("/members/{member_id:int}")
    async def member_detail(
        self,
        request: HTMXRequest,
        db: Db,
        clock: ClockDep,
        actor: CurrentActor,
        member_id: FromPath[int],
    ) -> Template:
        """One member: details, metering points, the latest month's statement, the audit."""
        member = await member_queries.member_view(db, actor, member_id)
        month = await default_month(db, clock.now())
        statement = await unless_empty(member_statement(db, actor, parse_month(month), member_id))
        return page(
            request,
            "coordinator/member.html",
            section="coordinator",
            m=member,
            points=await member_service.list_metering_points(db, actor, member_id=member_id),
            statement=statement,
            month=month,
            entries=await audit.list_audit(
                db, actor, limit=50, entity="member", entity_id=str(member_id)
            ),
        )

    @get("/members/{member_id:int}/edit")
    async def edit_member_form(
        self, request: HTMXRequest, db: Db, actor: CurrentActor, member_id: FromPath[int]
    ) -> Template:
        member = await member_queries.member_view(db, actor, member_id)
        return render(request, "coordinator/_member_edit.html", m=member)

    @post("/members/{member_id:int}")
    async def edit_member(
        self, request: HTMXRequest, db: Db, actor: CurrentActor, member_id: FromPath[int]
    ) -> Template:
        fields = await form_fields(request, MEMBER_EDIT_FIELDS)
        member = await member_queries.member_view(db, actor, member_id)

        def parse(f: dict[str, str]) -> member_inputs.MemberChange:
            return member_inputs.parse_member_change(_filled(f, "name", "email", "show_name"))

        expect_form(request, "coordinator/_member_edit.html", m=member, form=fields,
                    check=(parse, fields))  # fmt: skip
        change = parse(fields)
        await member_service.update_member(db, actor, member_id, change)
        rows, pager = await _member_rows(request, db, actor)
        return render(request, "coordinator/_members_table.html", members=rows, pager=pager)

    @get("/points/{point_id:int}/edit")
    async def edit_point_form(
        self, request: HTMXRequest, db: Db, actor: CurrentActor, point_id: FromPath[int]
    ) -> Template:
        point = await member_queries.metering_point_view(db, actor, point_id)
        network = await network_service.list_network(db)
        return render(request, "coordinator/_point_edit.html", p=point, network=network)

    @post("/points/{point_id:int}")
    async def edit_point(
        self, request: HTMXRequest, db: Db, actor: CurrentActor, point_id: FromPath[int]
    ) -> Template:
        fields = await form_fields(request, POINT_EDIT_FIELDS)
        point = await member_queries.metering_point_view(db, actor, point_id)
        network = await network_service.list_network(db)
        expect_form(request, "coordinator/_point_edit.html", p=point, network=network, form=fields,
                    check=(member_inputs.parse_metering_point_change, fields))  # fmt: skip
        change = member_inputs.parse_metering_point_change(fields)
        await member_service.update_metering_point(db, actor, point_id, change)
        rows, pager = await _point_rows(request, db, actor)
        return render(request, "coordinator/_points_table.html", points=rows, pager=pager)

    @get("/points")
    async def points(
        self,
        request: HTMXRequest,
        db: Db,
        actor: CurrentActor,
        member: FromQuery[int | None] = None,
        q: FromQuery[str | None] = None,
        page_no: Annotated[int | None, QueryParameter(name="page", ge=1)] = None,
    ) -> Template:
        listed = await member_service.list_metering_points(db, actor, member_id=member)
        keep = {"member": str(member)} if member is not None else {}
        rows, pager = paged(listed, page_no, q, _point_text, "/coordinator/points", keep)
        return page(request, "coordinator/points.html", section="coordinator", points=rows,
                    pager=pager, members=await _members(db, actor),
                    network=await network_service.list_network(db))  # fmt: skip

    @post("/points")
    async def add_point(self, request: HTMXRequest, db: Db, actor: CurrentActor) -> Template:
        fields = await form_fields(request, POINT_FIELDS)
        context: dict[str, Any] = {"members": await _members(db, actor),
                   "network": await network_service.list_network(db)}  # fmt: skip
        check = (member_inputs.parse_metering_point, fields)
        expect_form(request, "coordinator/_point_form.html", form=fields, check=check, **context)
        data = member_inputs.parse_metering_point(fields)
        await member_service.create_metering_point(db, actor, data)
        rows, pager = await _point_rows(request, db, actor)
        return render(request, "coordinator/_point_added.html", points=rows, pager=pager, form={},
                      **context)  # fmt: skip

    @post("/points/{point_id:int}/deactivate")
    async def deactivate_point(
        self, request: HTMXRequest, db: Db, actor: CurrentActor, point_id: FromPath[int]
    ) -> Template:
        await member_service.deactivate_metering_point(db, actor, point_id)
        rows, pager = await _point_rows(request, db, actor)
        return render(request, "coordinator/_points_table.html", points=rows, pager=pager)

    @get("/network")
    async def network(self, request: HTMXRequest, db: Db) -> Template:
        view = await network_service.list_network(db)
        return page(request, "coordinator/network.html", section="coordinator", network=view)

    @post("/network/lines")
    async def add_line(self, request: HTMXRequest, db: Db, actor: CurrentActor) -> Template:
        fields = await form_fields(request, LINE_FIELDS)
        expect_form(request, "coordinator/_line_form.html", form=fields,
                    network=await network_service.list_network(db),
                    check=(network_inputs.parse_line, fields))  # fmt: skip
        data = network_inputs.parse_line(fields)
        await network_service.create_line(db, actor, data)
        view = await network_service.list_network(db)
        return render(request, "coordinator/_line_added.html", network=view, form={})

    @post("/network/nodes")
    async def add_node(self, request: HTMXRequest, db: Db, actor: CurrentActor) -> Template:
        fields = await form_fields(request, ("code", "name", "kind"))
        expect_form(request, "coordinator/_node_form.html", form=fields,
                    check=(network_inputs.parse_node, fields))  # fmt: skip
        await network_service.create_node(db, actor, network_inputs.parse_node(fields))
        view = await network_service.list_network(db)
        return render(request, "coordinator/_node_added.html", network=view, form={})

    @post("/network/lines/{line_id:int}")
    async def change_line(
        self, request: HTMXRequest, db: Db, actor: CurrentActor, line_id: FromPath[int]
    ) -> Template:
        fields = await form_fields(request, ("capacity_kw",))
        expect_form(
            request, "coordinator/_lines_table.html", network=await network_service.list_network(db)
        )
        if blank(fields.get("capacity_kw")):  # the table's box: emptied is not "unchanged"
            raise ValidationFailed("capacity_kw", "give the line's capacity in kW")
        change = network_inputs.parse_line_change(fields)
        await network_service.update_line(db, actor, line_id, change)
        view = await network_service.list_network(db)
        return render(request, "coordinator/_lines_table.html", network=view, saved=line_id)

    @post("/network/grid")
    async def set_grid(self, request: HTMXRequest, db: Db, actor: CurrentActor) -> Template:
        fields = await form_fields(request, GRID_FIELDS)
        network = await network_service.list_network(db)
        expect_form(request, "coordinator/_grid_form.html", form=fields, network=network,
                    check=(network_inputs.parse_grid_connection, fields))  # fmt: skip
        data = network_inputs.parse_grid_connection(fields)
        await network_service.set_grid_connection(db, actor, data)
        view = await network_service.list_network(db)
        return render(request, "coordinator/_grid_form.html", network=view, saved=True)

    @get("/parameters")
    async def parameters_page(self, request: HTMXRequest, db: Db) -> Template:
        params = await market_parameters.get_parameters(db)
        halt = await market_halt.halt_state(db)
        return page(request, "coordinator/parameters.html", section="coordinator",
                    params=params, halt=halt)  # fmt: skip

    @post("/halt")
    async def halt_or_resume(
        self,
        request: HTMXRequest,
        db: Db,
        actor: CurrentActor,
        clock: ClockDep,
        publisher: PublisherDep,
    ) -> Template:
        """Halt the market with a reason, or resume it (the form's `action`)."""
        fields = await form_fields(request, ("action", "reason"))
        halt = await market_halt.halt_state(db)
        expect_form(request, "coordinator/_halt_form.html", halt=halt, form=fields)
        if fields["action"] == "resume":
            halt = await market_halt.resume_market(db, actor)
        else:
            reason = market_halt.parse_reason(fields)
            halt = await market_halt.halt_market(db, actor, clock.now(), reason)
        done = render(request, "coordinator/_halt_form.html", halt=halt)
        done.background = announce_halt(request, publisher, halt)
        return done

    @post("/parameters")
    async def save_parameters(self, request: HTMXRequest, db: Db, actor: CurrentActor) -> Template:
        fields = await form_fields(request, PARAM_FIELDS)
        if "day_ahead_gate" not in await request.form():
            del fields["day_ahead_gate"]  # a form without the box leaves the gate as it is
        expect_form(request, "coordinator/_params_form.html", params=fields, form=fields,
                    check=(market_parameters.parse_parameters, fields))  # fmt: skip
        update = market_parameters.parse_parameters(fields)
        params = await market_parameters.update_parameters(db, actor, update)
        return render(request, "coordinator/_params_form.html", params=params, saved=True)

    @get("/audit")
    async def audit_log(
        self,
        request: HTMXRequest,
        db: Db,
        actor: CurrentActor,
        before: FromQuery[int | None] = None,
        entity: FromQuery[str | None] = None,
        entity_id: FromQuery[str | None] = None,
    ) -> Template:
        """The audit log, newest first, optionally of one kind of record (and one record)."""
        kind = entity if entity in AUDIT_ENTITIES else None
        record = (entity_id or "").strip() or None
        entries = await audit.list_audit(
            db, actor, limit=50, before_id=before, entity=kind, entity_id=record
        )
        return page(request, "coordinator/audit.html", "coordinator/_audit_rows.html",
                    section="coordinator", entries=entries, entities=AUDIT_ENTITIES,
                    entity=kind or "", entity_id=record or "")  # fmt: skip


HANDLERS = [CoordinatorController]
