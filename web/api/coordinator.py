"""/api/v1 for the coordinator (and, reading, the distributor): members, metering points,
the network, the market parameters and the audit log."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated, Any

from litestar import Request, Response, get, patch, post, put
from litestar.background_tasks import BackgroundTask
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from market.access import audit
from market.core.events import Publisher
from market.members import inputs as member_inputs
from market.members import service as member_service
from market.network import inputs as network_inputs
from market.network import service as network_service
from market.trading import halt as market_halt
from market.trading import parameters as market_parameters
from web.auth import requires_role
from web.config import app_services
from web.deps import ClockDep, CurrentActor, Db, PublisherDep

staff = [requires_role("coordinator", "distributor")]


@get("/members", guards=staff)
async def list_members(db: Db, actor: CurrentActor) -> list[member_service.MemberView]:
    return await member_service.list_members(db, actor)


@get("/all-metering-points", guards=staff)
async def list_points(db: Db, actor: CurrentActor) -> list[member_service.MeteringPointView]:
    return await member_service.list_metering_points(db, actor)


@patch("/parameters", guards=[requires_role("coordinator")])
async def update_parameters(
    db: Db, actor: CurrentActor, data: JSONBody[dict[str, Any]]
) -> market_parameters.ParametersView:
    """Change market parameters (coordinator): any of name, registry_number,
    coordinator_name, interval_minutes, gate_closure_minutes, horizon_intervals, price_floor,
    price_cap, profile_seed, grid_prices ("fixed" or "market": the day-ahead problem's grid
    prices per interval from the imported RCE), day_ahead_gate ("HH:MM" local time the day
    before delivery, or "off" for no day-ahead auction; applies to days whose auction has not
    opened yet)."""
    update = market_parameters.parse_parameters(data)
    return await market_parameters.update_parameters(db, actor, update)


coordinator_only = [requires_role("coordinator")]


@dataclass
class HaltReason:
    reason: str


def announce_halt(
    request: Request[Any, Any, Any], publisher: Publisher, state: market_halt.HaltState
) -> BackgroundTask:
    """After the request's commit: this process's banner cache, then the live views of every
    process (`market_halted`)."""

    async def announce() -> None:
        app_services(request.app).halt.set(state)
        await market_halt.publish_halt(publisher, state)

    return BackgroundTask(announce)


@post("/market/halt", guards=coordinator_only, status_code=200)
async def halt(
    request: Request[Any, Any, Any],
    db: Db,
    actor: CurrentActor,
    clock: ClockDep,
    publisher: PublisherDep,
    data: JSONBody[HaltReason],
) -> Response[market_halt.HaltState]:
    """Halt the market (coordinator): no order is placed, modified or cancelled until it is
    resumed; `reason` (at most 200 characters) is shown on every page."""
    reason = market_halt.parse_reason(asdict(data))
    state = await market_halt.halt_market(db, actor, clock.now(), reason)
    return Response(state, background=announce_halt(request, publisher, state))


@post("/market/resume", guards=coordinator_only, status_code=200)
async def resume(
    request: Request[Any, Any, Any], db: Db, actor: CurrentActor, publisher: PublisherDep
) -> Response[market_halt.HaltState]:
    """Resume trading after a halt (coordinator)."""
    state = await market_halt.resume_market(db, actor)
    return Response(state, background=announce_halt(request, publisher, state))


@dataclass
class NewMember:
    name: str
    kind: str
    role: str = "member"
    login: str | None = None
    password: str | None = None
    email: str | None = None
    show_name: bool = False


@dataclass
class MemberChange:
    name: str | None = None
    kind: str | None = None
    email: str | None = None
    password: str | None = None
    show_name: bool | None = None
    active: bool | None = None


@post("/members", guards=coordinator_only, status_code=201)
async def create_member(
    db: Db, actor: CurrentActor, data: JSONBody[NewMember]
) -> member_service.MemberView:
    """Add a member (coordinator). `role`: member, coordinator or distributor."""
    member = member_inputs.parse_member(asdict(data))
    return await member_service.create_member(db, actor, member)


@patch("/members/{member_id:int}", guards=coordinator_only)
async def update_member(
    db: Db, actor: CurrentActor, member_id: FromPath[int], data: JSONBody[MemberChange]
) -> member_service.MemberView:
    """Change a member's name, kind, e-mail, password, naming consent or `active`."""
    change = member_inputs.parse_member_change(asdict(data))
    return await member_service.update_member(db, actor, member_id, change)


@post("/members/{member_id:int}/deactivate", guards=coordinator_only, status_code=200)
async def deactivate_member(
    db: Db, actor: CurrentActor, member_id: FromPath[int]
) -> member_service.MemberView:
    """Deactivate a member: no new orders, sign-in refused; history kept."""
    return await member_service.deactivate_member(db, actor, member_id)


@dataclass
class NewMeteringPoint:
    ppe_code: str
    member_id: int
    node: str
    contracted_power_kw: str
    pv_kwp: str | None = None
    other_generation_kw: str | None = None
    storage_kwh: str | None = None
    annual_use_kwh: str | None = None
    load_profile: str | None = None
    name: str | None = None
    technology: str | None = None


@dataclass
class MeteringPointChange:
    member_id: int | None = None
    node: str | None = None
    name: str | None = None
    contracted_power_kw: str | None = None
    pv_kwp: str | None = None
    other_generation_kw: str | None = None
    storage_kwh: str | None = None
    annual_use_kwh: str | None = None
    load_profile: str | None = None
    technology: str | None = None
    active: bool | None = None


@post("/all-metering-points", guards=coordinator_only, status_code=201)
async def create_point(
    db: Db, actor: CurrentActor, data: JSONBody[NewMeteringPoint]
) -> member_service.MeteringPointView:
    """Register a metering point (PPE code checked) at a node of the network."""
    point = member_inputs.parse_metering_point(asdict(data))
    return await member_service.create_metering_point(db, actor, point)


@patch("/all-metering-points/{point_id:int}", guards=coordinator_only)
async def update_point(
    db: Db, actor: CurrentActor, point_id: FromPath[int], data: JSONBody[MeteringPointChange]
) -> member_service.MeteringPointView:
    """Change a metering point (node, owner, powers, profile, `active`)."""
    change = member_inputs.parse_metering_point_change(asdict(data))
    return await member_service.update_metering_point(db, actor, point_id, change)


@post("/all-metering-points/{point_id:int}/deactivate", guards=coordinator_only, status_code=200)
async def deactivate_point(
    db: Db, actor: CurrentActor, point_id: FromPath[int]
) -> member_service.MeteringPointView:
    return await member_service.deactivate_metering_point(db, actor, point_id)


@dataclass
class NewNode:
    code: str
    name: str
    kind: str
    map_x: float | None = None
    map_y: float | None = None


@dataclass
class NewLine:
    code: str
    from_node: str
    to_node: str
    capacity_kw: str
    reactance: str | None = None
    name: str | None = None


@dataclass
class LineChange:
    capacity_kw: str | None = None
    reactance: str | None = None
    name: str | None = None
    active: bool | None = None


@post("/network/nodes", guards=coordinator_only, status_code=201)
async def create_node(
    db: Db, actor: CurrentActor, data: JSONBody[NewNode]
) -> network_service.NodeView:
    """Add a node of the cluster's network (kind: gpz, station, ...)."""
    node = network_inputs.parse_node(asdict(data))
    return await network_service.create_node(db, actor, node)


@post("/network/lines", guards=coordinator_only, status_code=201)
async def create_line(
    db: Db, actor: CurrentActor, data: JSONBody[NewLine]
) -> network_service.LineView:
    """Add a line between two nodes (by code) with its capacity in kW."""
    line = network_inputs.parse_line(asdict(data))
    return await network_service.create_line(db, actor, line)


@dataclass
class NodeChange:
    name: str | None = None
    kind: str | None = None
    active: bool | None = None
    map_x: float | None = None
    map_y: float | None = None


@dataclass
class GridConnection:
    node: str
    import_price: str
    export_price: str
    import_limit_kw: str
    export_limit_kw: str


@patch("/network/nodes/{node_id:int}", guards=coordinator_only)
async def update_node(
    db: Db, actor: CurrentActor, node_id: FromPath[int], data: JSONBody[NodeChange]
) -> network_service.NodeView:
    """Rename a node, change its kind or map position, or set `active`."""
    change = network_inputs.parse_node_change(asdict(data))
    return await network_service.update_node(db, actor, node_id, change)


@put("/network/grid-connection", guards=coordinator_only)
async def set_grid_connection(
    db: Db, actor: CurrentActor, data: JSONBody[GridConnection]
) -> network_service.GridConnectionView:
    """The cluster's connection to the distribution grid: the node, the prices of energy
    bought from and sold to the grid (PLN/kWh) and the transformer's limits (kW)."""
    connection = network_inputs.parse_grid_connection(asdict(data))
    return await network_service.set_grid_connection(db, actor, connection)


@patch("/network/lines/{line_id:int}", guards=coordinator_only)
async def update_line(
    db: Db, actor: CurrentActor, line_id: FromPath[int], data: JSONBody[LineChange]
) -> network_service.LineView:
    """Change a line's capacity, reactance, name or `active`."""
    change = network_inputs.parse_line_change(asdict(data))
    return await network_service.update_line(db, actor, line_id, change)


@get("/audit", guards=staff)
async def audit_log(
    db: Db,
    actor: CurrentActor,
    before_id: FromQuery[int | None] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
) -> list[audit.AuditView]:
    """The append-only audit log, newest first; page with `before_id`."""
    return await audit.list_audit(db, actor, limit=limit, before_id=before_id)


HANDLERS: list[Any] = [
    list_members,
    list_points,
    update_parameters,
    halt,
    resume,
    create_member,
    update_member,
    deactivate_member,
    create_point,
    update_point,
    deactivate_point,
    create_node,
    create_line,
    update_node,
    set_grid_connection,
    update_line,
    audit_log,
]
