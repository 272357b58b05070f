"""/api/v1: everything the pages do, for programs. Bearer tokens (POST /auth/token); errors
are `{"error", "field", "message"}` with the status of the market error. Each handler parses,
calls one market service and returns its view (Decimals as strings, times ISO 8601 UTC)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from litestar import Request, Response, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from market.access import audit
from market.access import auth as market_auth
from market.clearing import results
from market.members import inputs as member_inputs
from market.members import service as member_service
from market.members.queries import MyPointView, my_metering_points
from market.network import inputs as network_inputs
from market.network import service as network_service
from market.trading import book, intervals, orders, standing
from market.trading import parameters as market_parameters
from market.trading.order_input import parse_change, parse_order, parse_standing
from web import deps
from web.api.intake import OrderIntake, publish_later
from web.auth import requires_role, signed_in
from web.deps import CurrentActor, Db
from web.ratelimit import rate_limited

# Protocol-typed dependencies cannot be validated by Litestar; the app provides them.
ActorDep = NamedDependency[Any]
ClockDep = NamedDependency[Any]
PublisherDep = NamedDependency[Any]


@dataclass
class TokenRequest:
    login: str
    password: str
    name: str = "api"


@dataclass
class TokenResponse:
    token: str
    member_id: int
    role: str
    name: str


@dataclass
class Me:
    member_id: int
    role: str
    name: str


@dataclass
class NewOrder:
    interval_id: int
    metering_point_id: int
    side: str
    quantity_kwh: str
    price: str
    client_order_id: str | None = None


@dataclass
class OrderChange:
    quantity_kwh: str | None = None
    price: str | None = None


@dataclass
class NewStandingOrder:
    metering_point_id: int
    side: str
    price: str
    mode: str = "fixed"
    quantity_kwh: str | None = None
    weekdays: str = "1234567"
    hour_from: int = 0
    hour_to: int = 24
    valid_from: date | None = None
    valid_to: date | None = None


@dataclass
class Paused:
    paused: bool


@post("/auth/token", middleware=[rate_limited("signin_limit")], status_code=201)
async def issue_token(db: Db, data: JSONBody[TokenRequest]) -> TokenResponse:
    """Exchange a login and password for a bearer token (shown once; keep it secret)."""
    actor = await market_auth.authenticate(db, data.login, data.password)
    token = await market_auth.create_api_token(db, actor, data.name)
    return TokenResponse(token=token, member_id=actor.member_id, role=actor.role, name=actor.name)


@get("/me", guards=[signed_in])
async def me(actor: CurrentActor) -> Me:
    """Who the token belongs to."""
    return Me(member_id=actor.member_id, role=actor.role, name=actor.name)


@get("/intervals", guards=[signed_in])
async def list_intervals(db: deps.Db, clock: deps.ClockDep) -> intervals.IntervalsView:
    """The current interval, the ones open for orders (with gate closure) and recent ones."""
    return await intervals.list_intervals(db, clock)


@get("/intervals/{interval_id:int}/book", guards=[signed_in])
async def order_book(db: deps.Db, interval_id: FromPath[int]) -> book.OrderBookView:
    """Aggregated order book: volume by price step per side, no identities."""
    return await book.order_book(db, interval_id)


@get("/intervals/{interval_id:int}/result", guards=[signed_in])
async def interval_result(db: Db, interval_id: FromPath[int]) -> results.IntervalResultView:
    """Nodal prices, line flows, grid exchange and run details of a cleared interval."""
    return await results.interval_result(db, interval_id)


@get("/results", guards=[signed_in])
async def day_results(db: Db, day: FromQuery[date]) -> list[results.IntervalSummary]:
    """Every interval of a local day (Europe/Warsaw), in order."""
    return await results.day_results(db, day)


@get("/results/latest", guards=[signed_in])
async def latest_results(db: Db, limit: FromQuery[int] = 8) -> list[results.IntervalSummary]:
    return await results.latest_results(db, limit=limit)


member_only = [requires_role("member")]


@get("/metering-points", guards=member_only)
async def my_points(db: Db, actor: CurrentActor) -> list[MyPointView]:
    """My metering points."""
    return await my_metering_points(db, actor)


@get("/orders", guards=member_only)
async def my_orders(
    db: deps.Db,
    actor: deps.CurrentActor,
    interval_id: FromQuery[int | None] = None,
    status: FromQuery[str | None] = None,
    limit: FromQuery[int] = 100,
) -> list[book.OrderView]:
    """My orders, newest first."""
    return await orders.list_my_orders(
        db, actor, interval_id=interval_id, status=status, limit=limit
    )


@post("/orders", guards=member_only, middleware=[rate_limited("order_limit")], status_code=201)
async def place_order(
    request: Request[Any, Any, Any], actor: deps.CurrentActor, data: JSONBody[NewOrder]
) -> book.OrderView:
    """Place a bid (buy) or offer (sell). Retrying with the same `client_order_id` returns the
    order placed the first time. (Concurrent submissions are committed together.)"""
    intake: OrderIntake = request.app.state.services.intake
    return await intake.submit(actor, parse_order(asdict(data)))


@patch("/orders/{order_id:int}", guards=member_only)
async def modify_order(
    db: deps.Db,
    actor: deps.CurrentActor,
    clock: deps.ClockDep,
    publisher: deps.PublisherDep,
    order_id: FromPath[int],
    data: JSONBody[OrderChange],
) -> Response[book.OrderView]:
    """Change quantity and/or price until the gate closes."""
    change = parse_change(data.quantity_kwh, data.price)
    done = await orders.modify_order(db, actor, clock, order_id, change)
    return Response(done.view, background=publish_later(publisher, done.events))


@delete("/orders/{order_id:int}", guards=member_only, status_code=200)
async def cancel_order(
    db: deps.Db,
    actor: deps.CurrentActor,
    clock: deps.ClockDep,
    publisher: deps.PublisherDep,
    order_id: FromPath[int],
) -> Response[book.OrderView]:
    """Cancel until the gate closes."""
    done = await orders.cancel_order(db, actor, clock, order_id)
    return Response(done.view, background=publish_later(publisher, done.events))


@get("/fills", guards=member_only)
async def my_fills(
    db: deps.Db,
    actor: deps.CurrentActor,
    interval_id: FromQuery[int | None] = None,
    day: FromQuery[date | None] = None,
) -> list[book.FillView]:
    """My accepted quantities with price and amount."""
    return await book.my_fills(db, actor, interval_id=interval_id, day=day)


@get("/intervals/{interval_id:int}/trades", guards=member_only)
async def my_trades(db: Db, actor: ActorDep, interval_id: FromPath[int]) -> list[results.TradeView]:
    """My trades in an interval; counterparties by node unless they agreed to be named."""
    return await results.my_trades(db, actor, interval_id)


@get("/standing-orders", guards=member_only)
async def list_standing(db: deps.Db, actor: deps.CurrentActor) -> list[standing.StandingOrderView]:
    return await standing.list_standing_orders(db, actor)


@post("/standing-orders", guards=member_only, status_code=201)
async def create_standing(
    db: deps.Db,
    actor: deps.CurrentActor,
    clock: deps.ClockDep,
    data: JSONBody[NewStandingOrder],
) -> standing.StandingOrderView:
    """A rule that places an order into every matching upcoming interval."""
    return await standing.create_standing_order(db, actor, clock, parse_standing(asdict(data)))


@patch("/standing-orders/{rule_id:int}", guards=member_only)
async def pause_standing(
    db: deps.Db,
    actor: deps.CurrentActor,
    clock: deps.ClockDep,
    rule_id: FromPath[int],
    data: JSONBody[Paused],
) -> standing.StandingOrderView:
    """Pause (`{"paused": true}`) or resume a standing order."""
    return await standing.set_standing_paused(db, actor, clock, rule_id, data.paused)


@delete("/standing-orders/{rule_id:int}", guards=member_only, status_code=204)
async def delete_standing(
    db: deps.Db, actor: deps.CurrentActor, clock: deps.ClockDep, rule_id: FromPath[int]
) -> None:
    await standing.delete_standing_order(db, actor, clock, rule_id)


staff = [requires_role("coordinator", "distributor")]


@get("/members", guards=staff)
async def list_members(db: Db, actor: CurrentActor) -> list[member_service.MemberView]:
    return await member_service.list_members(db, actor)


@get("/all-metering-points", guards=staff)
async def list_points(db: Db, actor: CurrentActor) -> list[member_service.MeteringPointView]:
    return await member_service.list_metering_points(db, actor)


@get("/network", guards=[signed_in])
async def network(db: Db) -> network_service.NetworkView:
    """Nodes, lines with capacities and the grid connection."""
    return await network_service.list_network(db)


@get("/parameters", guards=[signed_in])
async def parameters(db: Db) -> market_parameters.ParametersView:
    return await market_parameters.get_parameters(db)


@patch("/parameters", guards=[requires_role("coordinator")])
async def update_parameters(
    db: Db, actor: CurrentActor, data: JSONBody[dict[str, Any]]
) -> market_parameters.ParametersView:
    """Change market parameters (coordinator): any of name, registry_number,
    coordinator_name, interval_minutes, gate_closure_minutes, horizon_intervals, price_floor,
    price_cap, profile_seed."""
    update = market_parameters.parse_parameters(data)
    return await market_parameters.update_parameters(db, actor, update)


coordinator_only = [requires_role("coordinator")]


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
    limit: FromQuery[int] = 100,
) -> list[audit.AuditView]:
    """The append-only audit log, newest first; page with `before_id`."""
    return await audit.list_audit(db, actor, limit=limit, before_id=before_id)


HANDLERS: list[Any] = [
    issue_token, me, list_intervals, order_book, interval_result, day_results, latest_results,
    my_points, my_orders, place_order, modify_order, cancel_order, my_fills, my_trades,
    list_standing, create_standing, pause_standing, delete_standing, list_members, list_points,
    network, parameters, update_parameters, audit_log, create_member, update_member,
    deactivate_member, create_point, update_point, deactivate_point, create_node, create_line,
    update_line, update_node, set_grid_connection,
]  # fmt: skip
