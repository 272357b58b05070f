"""What the coordinator sends to change the network, as typed inputs, and one parser per input
type (form strings or JSON values in; `ValidationFailed` naming the field out). Pages and the
API call the same parser, so they give the same message for the same bad value. Rules that
depend on stored state (unknown node, duplicate code, points still at a node) are the
service's."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from market.core.errors import ValidationFailed
from market.core.fields import (
    UNSET,
    Fields,
    Unset,
    blank,
    choice,
    flag,
    given,
    number,
    price_pln_per_kwh,
    text,
)
from market.network.models import NodeKind

MAX_CAPACITY_KW = Decimal(10**7)


@dataclass(frozen=True, slots=True)
class NodeInput:
    code: str
    name: str
    kind: NodeKind
    map_x: float | None = None
    map_y: float | None = None


@dataclass(frozen=True, slots=True)
class NodeChange:
    """Fields left UNSET stay as they are; a map coordinate of None clears it."""

    name: str | Unset = UNSET
    kind: NodeKind | Unset = UNSET
    active: bool | Unset = UNSET
    map_x: float | Unset | None = UNSET
    map_y: float | Unset | None = UNSET


@dataclass(frozen=True, slots=True)
class LineInput:
    code: str
    from_node: str
    to_node: str
    capacity_kw: Decimal
    reactance: Decimal | None = None
    name: str = ""


@dataclass(frozen=True, slots=True)
class LineChange:
    """Fields left UNSET stay as they are; a reactance of None clears it."""

    capacity_kw: Decimal | Unset = UNSET
    reactance: Decimal | Unset | None = UNSET
    name: str | Unset = UNSET
    active: bool | Unset = UNSET


@dataclass(frozen=True, slots=True)
class GridConnectionInput:
    node: str
    import_price: Decimal
    export_price: Decimal
    import_limit_kw: Decimal
    export_limit_kw: Decimal


def code(raw: object, field: str = "code") -> str:
    value = text(raw, field, max_len=40)
    if any(c.isspace() for c in value):
        raise ValidationFailed(field, "no spaces in a code (use - or _)")
    return value


def node_ref(raw: object) -> str:
    """A node's code (or id) as sent; the service looks it up (and names the field)."""
    return "" if raw is None else str(raw).strip()


def coordinate(raw: object, field: str) -> float | None:
    if blank(raw):
        return None
    return float(number(raw, field, places=6, minimum=Decimal(-(10**6)), maximum=Decimal(10**6)))


def capacity_kw(raw: object, field: str = "capacity_kw") -> Decimal:
    return number(raw, field, places=3, maximum=MAX_CAPACITY_KW, unit="kW")


def line_capacity_kw(raw: object, field: str = "capacity_kw") -> Decimal:
    """A line's capacity: more than 0 (a line of 0 kW cuts off every node behind it; switch
    the line off instead)."""
    return number(raw, field, places=3, exclusive_min=True, maximum=MAX_CAPACITY_KW, unit="kW")


def reactance(raw: object) -> Decimal | None:
    if blank(raw):
        return None
    return number(raw, "reactance", places=6, exclusive_min=True, maximum=Decimal(10**5))


def parse_node(fields: Fields) -> NodeInput:
    return NodeInput(
        code=code(fields.get("code")),
        name=text(fields.get("name"), "name"),
        kind=choice(fields.get("kind"), "kind", NodeKind),
        map_x=coordinate(fields.get("map_x"), "map_x"),
        map_y=coordinate(fields.get("map_y"), "map_y"),
    )


def parse_node_change(fields: Fields) -> NodeChange:
    _at_least_one(fields, ("name", "kind", "active", "map_x", "map_y"))
    return NodeChange(
        name=text(fields["name"], "name") if given(fields, "name") else UNSET,
        kind=choice(fields["kind"], "kind", NodeKind) if given(fields, "kind") else UNSET,
        active=flag(fields["active"], "active") if given(fields, "active") else UNSET,
        map_x=coordinate(fields["map_x"], "map_x") if given(fields, "map_x") else UNSET,
        map_y=coordinate(fields["map_y"], "map_y") if given(fields, "map_y") else UNSET,
    )


def parse_line(fields: Fields) -> LineInput:
    return LineInput(
        code=code(fields.get("code")),
        from_node=node_ref(fields.get("from_node")),
        to_node=node_ref(fields.get("to_node")),
        capacity_kw=line_capacity_kw(fields.get("capacity_kw")),
        reactance=reactance(fields.get("reactance")),
        name=text(fields.get("name"), "name", required=False),
    )


def parse_line_change(fields: Fields) -> LineChange:
    """An empty capacity leaves it as it is (the capacity box of the lines table)."""
    _at_least_one(fields, ("capacity_kw", "reactance", "name", "active"))
    raw_capacity = fields.get("capacity_kw")
    return LineChange(
        capacity_kw=UNSET if blank(raw_capacity) else line_capacity_kw(raw_capacity),
        reactance=reactance(fields["reactance"]) if given(fields, "reactance") else UNSET,
        name=text(fields["name"], "name", required=False) if given(fields, "name") else UNSET,
        active=flag(fields["active"], "active") if given(fields, "active") else UNSET,
    )


def parse_grid_connection(fields: Fields) -> GridConnectionInput:
    import_price = price_pln_per_kwh(fields.get("import_price"), "import_price")
    export_price = price_pln_per_kwh(fields.get("export_price"), "export_price")
    if export_price > import_price:
        raise ValidationFailed("export_price", "must not exceed the import price")
    return GridConnectionInput(
        node=node_ref(fields.get("node")),
        import_price=import_price,
        export_price=export_price,
        import_limit_kw=capacity_kw(fields.get("import_limit_kw"), "import_limit_kw"),
        export_limit_kw=capacity_kw(fields.get("export_limit_kw"), "export_limit_kw"),
    )


def _at_least_one(fields: Fields, names: tuple[str, ...]) -> None:
    if not any(given(fields, name) for name in names):
        raise ValidationFailed("", "send at least one field to change")
