"""The tables of a distributor export: their columns, units and row types.

A row is a plain tuple (a `NamedTuple`) in column order, so writers can stream millions of
them without per-row dictionaries. Energy is kWh with 3 decimals (to the Wh), prices PLN/kWh
with 4 decimals, amounts PLN with 2 decimals (to the grosz); all are `Decimal`.
Sign convention for amounts: positive = the member pays, negative = the member receives.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

from market.core.settings import DEFAULT_TIMEZONE
from market.core.timegrid import label

ENERGY_SCALE = 3
NO_KWH = Decimal("0.000")
PRICE_SCALE = 4
AMOUNT_SCALE = 2


class Kind(StrEnum):
    TEXT = "text"
    INT = "int"
    DECIMAL = "decimal"
    BOOL = "bool"
    UTC = "utc"  # aware datetime, written as 2026-03-29T00:15:00Z
    LOCAL = "local"  # aware datetime, written with its offset: 2026-03-29T01:15:00+01:00
    DATE = "date"


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: Kind
    scale: int = 0
    unit: str = ""
    description: str = ""


@dataclass(frozen=True, slots=True)
class TableSpec:
    name: str
    title: str
    columns: tuple[Column, ...]

    @property
    def header(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _energy(name: str, description: str) -> Column:
    return Column(name, Kind.DECIMAL, ENERGY_SCALE, "kWh", description)


def _price(name: str, description: str) -> Column:
    return Column(name, Kind.DECIMAL, PRICE_SCALE, "PLN/kWh", description)


def _amount(name: str, description: str) -> Column:
    return Column(name, Kind.DECIMAL, AMOUNT_SCALE, "PLN", description)


_INTERVAL_COLUMNS = (
    Column("interval_start_utc", Kind.UTC, description="interval start, UTC"),
    Column("interval_end_utc", Kind.UTC, description="interval end, UTC"),
    Column("local_start", Kind.LOCAL, description="interval start, local time with offset"),
    Column("local_day", Kind.DATE, description="local trading day"),
    Column("interval_no", Kind.INT, description="number in the local day, 1…92/96/100"),
    Column("resolution", Kind.TEXT, description="ISO 8601 duration: PT15M or PT60M"),
)

#: The metering table's day-ahead columns, after its others (matched = day-ahead + intraday).
DAY_AHEAD_METERING_COLUMNS = (
    _energy("da_import_kwh", "bought in the day-ahead auction"),
    _energy("da_export_kwh", "sold in the day-ahead auction"),
    Column(
        "id_import_kwh",
        Kind.DECIMAL,
        ENERGY_SCALE,
        "kWh",
        "bought in the interval's intraday auction",
    ),
    Column(
        "id_export_kwh",
        Kind.DECIMAL,
        ENERGY_SCALE,
        "kWh",
        "sold in the interval's intraday auction",
    ),
    Column(
        "storage_charge_kwh",
        Kind.DECIMAL,
        ENERGY_SCALE,
        "kWh",
        "storage charging scheduled day-ahead",
    ),
    Column(
        "storage_discharge_kwh",
        Kind.DECIMAL,
        ENERGY_SCALE,
        "kWh",
        "storage discharging scheduled day-ahead",
    ),
)


METERING = TableSpec(
    "metering",
    "One row per metering point per interval",
    (
        Column("cluster_id", Kind.TEXT, description="cluster registry number"),
        Column("coordinator_id", Kind.TEXT, description="coordinator identifier"),
        Column("ppe", Kind.TEXT, description="metering point code (18-digit GSRN)"),
        Column("member_role", Kind.TEXT, description="consumer, producer, prosumer or storage"),
        Column("node", Kind.TEXT, description="grid node of the metering point"),
        *_INTERVAL_COLUMNS,
        _energy("matched_import_kwh", "energy bought in the local market"),
        _energy("matched_export_kwh", "energy sold in the local market"),
        _price("price_pln_per_kwh", "clearing (nodal) price at the metering point's node"),
        _amount("amount_pln", "local-market amount: + pays, − receives"),
        _energy("metered_import_kwh", "metered energy taken from the grid"),
        _energy("metered_export_kwh", "metered energy fed into the grid"),
        _energy("grid_import_kwh", "residual bought from the grid (metered − matched, net)"),
        _energy("grid_export_kwh", "residual sold to the grid (matched − metered, net)"),
        _amount("grid_amount_pln", "residual at the grid reference prices: + pays, − receives"),
        Column("binding_constraint", Kind.BOOL, description="a line or grid limit set the price"),
        Column("data_quality", Kind.TEXT, description="measured, estimated or substituted"),
        Column("version", Kind.TEXT, description="clearing run (and meter data) version"),
        Column("generated_at", Kind.UTC, description="when the data in this row was produced"),
        *DAY_AHEAD_METERING_COLUMNS,
    ),
)


class MeteringRow(NamedTuple):
    cluster_id: str
    coordinator_id: str
    ppe: str
    member_role: str
    node: str
    interval_start_utc: datetime
    interval_end_utc: datetime
    local_start: datetime
    local_day: date
    interval_no: int
    resolution: str
    matched_import_kwh: Decimal
    matched_export_kwh: Decimal
    price_pln_per_kwh: Decimal | None
    amount_pln: Decimal
    metered_import_kwh: Decimal | None
    metered_export_kwh: Decimal | None
    grid_import_kwh: Decimal | None
    grid_export_kwh: Decimal | None
    grid_amount_pln: Decimal | None
    binding_constraint: bool
    data_quality: str | None
    version: str
    generated_at: datetime
    # The day-ahead columns (`DAY_AHEAD_METERING_COLUMNS`).
    da_import_kwh: Decimal = NO_KWH
    da_export_kwh: Decimal = NO_KWH
    id_import_kwh: Decimal = NO_KWH
    id_export_kwh: Decimal = NO_KWH
    storage_charge_kwh: Decimal = NO_KWH
    storage_discharge_kwh: Decimal = NO_KWH


_INTERVAL_KEY = (
    Column("cluster_id", Kind.TEXT),
    Column("interval_start_utc", Kind.UTC),
    Column("local_day", Kind.DATE),
    Column("interval_no", Kind.INT),
)

TRADES = TableSpec(
    "trades",
    "Trades per interval: seller → buyer (PPE or GRID)",
    (
        *_INTERVAL_KEY,
        Column("trade_no", Kind.INT, description="1-based within the interval"),
        Column("seller_ppe", Kind.TEXT, description="selling metering point, or GRID"),
        Column("seller_node", Kind.TEXT),
        Column("buyer_ppe", Kind.TEXT, description="buying metering point, or GRID"),
        Column("buyer_node", Kind.TEXT),
        _energy("quantity_kwh", "energy traded"),
        _price("seller_price_pln_per_kwh", "price the seller receives (its nodal price)"),
        _price("buyer_price_pln_per_kwh", "price the buyer pays (its nodal price)"),
        Column("version", Kind.TEXT),
    ),
)


class TradeRow(NamedTuple):
    cluster_id: str
    interval_start_utc: datetime
    local_day: date
    interval_no: int
    trade_no: int
    seller_ppe: str
    seller_node: str
    buyer_ppe: str
    buyer_node: str
    quantity_kwh: Decimal
    seller_price_pln_per_kwh: Decimal
    buyer_price_pln_per_kwh: Decimal
    version: str


NODES = TableSpec(
    "nodes",
    "Nodal prices per interval",
    (
        *_INTERVAL_KEY,
        Column("node", Kind.TEXT),
        _price("price_pln_per_kwh", "nodal clearing price"),
        Column("version", Kind.TEXT),
    ),
)


class NodeRow(NamedTuple):
    cluster_id: str
    interval_start_utc: datetime
    local_day: date
    interval_no: int
    node: str
    price_pln_per_kwh: Decimal
    version: str


LINES = TableSpec(
    "lines",
    "Line flows and limits per interval",
    (
        *_INTERVAL_KEY,
        Column("line", Kind.TEXT),
        Column("from_node", Kind.TEXT),
        Column("to_node", Kind.TEXT),
        _energy("flow_kwh", "energy over the interval, + from → to"),
        _energy("limit_kwh", "line limit over the interval (capacity kW × hours)"),
        Column("congested", Kind.BOOL, description="the limit is binding"),
        Column("version", Kind.TEXT),
    ),
)


class LineRow(NamedTuple):
    cluster_id: str
    interval_start_utc: datetime
    local_day: date
    interval_no: int
    line: str
    from_node: str
    to_node: str
    flow_kwh: Decimal
    limit_kwh: Decimal
    congested: bool
    version: str


GRID = TableSpec(
    "grid",
    "Grid import and export per connection per interval",
    (
        *_INTERVAL_KEY,
        Column("node", Kind.TEXT, description="node of the grid connection"),
        _energy("import_kwh", "energy taken from the upstream grid"),
        _energy("export_kwh", "energy fed into the upstream grid"),
        _price("import_price_pln_per_kwh", "grid import reference price"),
        _price("export_price_pln_per_kwh", "grid export reference price"),
        _amount("import_cost_pln", "import × import price"),
        _amount("export_revenue_pln", "export × export price"),
        Column("version", Kind.TEXT),
    ),
)


class GridRow(NamedTuple):
    cluster_id: str
    interval_start_utc: datetime
    local_day: date
    interval_no: int
    node: str
    import_kwh: Decimal
    export_kwh: Decimal
    import_price_pln_per_kwh: Decimal
    export_price_pln_per_kwh: Decimal
    import_cost_pln: Decimal
    export_revenue_pln: Decimal
    version: str


STORAGE = TableSpec(
    "storage",
    "Storage schedules from the day-ahead auction, per metering point per interval",
    (
        Column("cluster_id", Kind.TEXT),
        Column("ppe", Kind.TEXT, description="the storage unit's metering point"),
        Column("interval_start_utc", Kind.UTC),
        Column("local_day", Kind.DATE),
        Column("interval_no", Kind.INT),
        _energy("charge_kwh", "energy taken in to charge"),
        _energy("discharge_kwh", "energy delivered by discharging"),
        _energy("soc_kwh", "state of charge at the interval's end"),
        Column("version", Kind.TEXT, description="day-ahead clearing version (da-N)"),
    ),
)


class StorageRow(NamedTuple):
    cluster_id: str
    ppe: str
    interval_start_utc: datetime
    local_day: date
    interval_no: int
    charge_kwh: Decimal
    discharge_kwh: Decimal
    soc_kwh: Decimal
    version: str


TABLES: dict[str, TableSpec] = {t.name: t for t in (METERING, TRADES, NODES, LINES, GRID, STORAGE)}
#: Row type per table, in the same column order as its spec.
ROW_TYPES: dict[str, type[tuple[object, ...]]] = {
    "metering": MeteringRow,
    "trades": TradeRow,
    "nodes": NodeRow,
    "lines": LineRow,
    "grid": GridRow,
    "storage": StorageRow,
}

#: The marker used for the upstream grid in the trades table.
GRID_PARTY = "GRID"


class IntervalFields(NamedTuple):
    """The interval columns shared by every row of one interval (computed once)."""

    start_utc: datetime
    end_utc: datetime
    local_start: datetime
    local_day: date
    number: int
    resolution: str


def interval_fields(
    start_utc: datetime, minutes: int, tz: str = DEFAULT_TIMEZONE
) -> IntervalFields:
    """Local day, number (1…92/96/100) and resolution of the interval starting at `start_utc`."""
    lab = label(start_utc, minutes, tz)
    return IntervalFields(
        lab.start_utc,
        lab.end_utc,
        lab.local_start,
        lab.local_day,
        lab.number,
        f"PT{minutes}M",
    )


# The statutory table (issue 14) sits apart from the interval tables: hourly figures per
# metering point under the law (market.statutory), built in `market.export.statutory`.
STATUTORY = TableSpec(
    "statutory",
    "One row per metering point per local hour: the fee exemption under the law",
    (
        Column("cluster_id", Kind.TEXT, description="cluster registry number"),
        Column("ppe", Kind.TEXT, description="metering point code (18-digit GSRN)"),
        Column("hour_start_utc", Kind.UTC, description="hour start, UTC"),
        Column("local_start", Kind.LOCAL, description="hour start, local time with offset"),
        Column("local_day", Kind.DATE, description="local day"),
        Column("hour_no", Kind.INT, description="number of the hour in the local day, 1…23/24/25"),
        Column("technology", Kind.TEXT, description="generation technology of the point"),
        Column("renewable", Kind.BOOL, description="its feed-in counts as renewable"),
        Column("source", Kind.TEXT, description="meter_data, cleared_positions or mixed"),
        _energy("consumption_kwh", "energy the point took in the hour"),
        _energy("fed_in_kwh", "energy the point fed in in the hour"),
        _energy("exempt_kwh", "its share of the hour's exempt energy (pro rata to consumption)"),
        Column(
            "avoided_fees_pln",
            Kind.DECIMAL,
            4,
            "PLN",
            "OZE, cogeneration (and certificate) fees avoided on the exempt energy",
        ),
        Column("rules_version", Kind.TEXT, description="version of the statutory rule set"),
        Column("version", Kind.TEXT, description="export version (clearing runs, meter data)"),
    ),
)


class StatutoryRow(NamedTuple):
    cluster_id: str
    ppe: str
    hour_start_utc: datetime
    local_start: datetime
    local_day: date
    hour_no: int
    technology: str
    renewable: bool
    source: str
    consumption_kwh: Decimal
    fed_in_kwh: Decimal
    exempt_kwh: Decimal
    avoided_fees_pln: Decimal
    rules_version: str
    version: str


TABLES[STATUTORY.name] = STATUTORY
ROW_TYPES[STATUTORY.name] = StatutoryRow
