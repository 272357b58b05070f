"""Translated labels for the market's closed vocabularies (statuses, sides, roles, kinds)."""

from __future__ import annotations

import re
from typing import Any

from jinja2 import pass_context
from markupsafe import Markup

from web.ui import i18n
from web.ui.formatting import number
from web.ui.i18n import N_, context_locale, gettext

LABELS = {
    "open": N_("open"),
    "closed": N_("gate closed"),
    "clearing": N_("clearing"),
    "cleared": N_("cleared"),
    "failed": N_("failed"),
    "cancelled": N_("cancelled"),
    "filled": N_("filled"),
    "partly_filled": N_("partly filled"),
    "unfilled": N_("not filled"),
    "buy": N_("buy"),
    "sell": N_("sell"),
    "member": N_("member"),
    "coordinator": N_("coordinator"),
    "distributor": N_("distributor"),
    "household": N_("household"),
    "business": N_("business"),
    "municipal": N_("municipal"),
    "utility": N_("utility"),
    "generator": N_("generator"),
    "storage": N_("storage"),
    "operator": N_("operator"),
    "gpz": N_("main supply point (GPZ)"),
    "feeder": N_("15 kV feeder"),
    "station": N_("MV/LV station"),
    "lv": N_("LV circuit"),
    "optimal": N_("optimal"),
    "infeasible": N_("infeasible"),
}

#: Generation technologies of a metering point (`market.network.models.Technology`).
TECHNOLOGIES = {
    "pv": N_("photovoltaics"),
    "wind": N_("wind"),
    "hydro": N_("hydro"),
    "biogas": N_("biogas"),
    "landfill_gas": N_("landfill gas"),
    "biomass": N_("biomass"),
    "gas_chp": N_("gas CHP"),
    "storage": N_("energy storage"),
    "none": N_("no generation"),
}

#: Fees of the law (`market.statutory.rates.Fee`), as the fee-rates page names them.
FEES = {
    "oze": N_("OZE fee"),
    "cogeneration": N_("cogeneration fee"),
    "certificate": N_("certificate obligation"),
    "quality": N_("quality rate"),
    "distribution_variable": N_("variable distribution rate"),
}

#: The audit log's action and entity codes (`market.access.audit`) and its details' keys.
AUDIT = {
    "create": N_("created"),
    "update": N_("changed"),
    "set": N_("set"),
    "delete": N_("deleted"),
    "pause": N_("paused"),
    "resume": N_("resumed"),
    "place": N_("placed"),
    "modify": N_("changed"),
    "cancel": N_("cancelled"),
    "gate_closed": N_("gate closed"),
    "clear": N_("cleared"),
    "fail": N_("clearing failed"),
    "interval": N_("interval"),
    "order": N_("order"),
    "standing_order": N_("standing order"),
    "node": N_("node"),
    "line": N_("line"),
    "grid_connection": N_("grid connection"),
    "metering_point": N_("metering point"),
    "api_token": N_("API token"),
    "parameters": N_("market parameters"),
    "revoke": N_("revoked"),
    "halt": N_("market halted"),
    "import": N_("imported"),
    "seed": N_("demo data created"),
    "fee_rate": N_("fee rate"),
    "market": N_("market"),
    "cluster": N_("cluster"),
    "fee": N_("fee"),
    "rate": N_("rate (PLN/kWh)"),
    "valid_from": N_("valid from"),
    "valid_to": N_("valid to"),
    "member_id": N_("member"),
    "interval_id": N_("interval"),
    "mode": N_("quantity"),
    "weekdays": N_("days"),
    "hour_from": N_("from hour"),
    "hour_to": N_("to hour"),
    "kind": N_("kind"),
    "email": N_("e-mail"),
    "show_name": N_("name shown"),
    "password": N_("password"),
    "technology": N_("technology"),
    "contracted_power_kw": N_("contracted power (kW)"),
    "pv_kwp": N_("PV (kWp)"),
    "other_generation_kw": N_("other generation (kW)"),
    "storage_kwh": N_("storage (kWh)"),
    "annual_use_kwh": N_("annual use (kWh)"),
    "load_profile": N_("load profile"),
    "reactance": N_("reactance"),
    "members": N_("members"),
    "points": N_("metering points"),
    "rows": N_("rows"),
    "registry_number": N_("registry number (URE)"),
    "coordinator_name": N_("coordinator"),
    "interval_minutes": N_("interval length (minutes)"),
    "gate_closure_minutes": N_("gate closure (minutes)"),
    "horizon_intervals": N_("intervals open ahead"),
    "price_floor": N_("price floor"),
    "price_cap": N_("price cap"),
    "profile_seed": N_("profile seed"),
    "grid_prices": N_("grid prices"),
    "day_ahead_gate": N_("day-ahead gate"),
    "tariff_group": N_("tariff group"),
    "system": N_("system"),
    "code": N_("code"),
    "name": N_("name"),
    "role": N_("role"),
    "active": N_("active"),
    "side": N_("side"),
    "price": N_("price"),
    "quantity_kwh": N_("quantity (kWh)"),
    "capacity_kw": N_("capacity (kW)"),
    "import_price": N_("import price"),
    "export_price": N_("export price"),
    "ppe_code": N_("PPE"),
    "metering_point_code": N_("PPE"),
    "orders": N_("orders"),
    "reason": N_("reason"),
    "status": N_("status"),
    "worker": N_("worker"),
    "client_order_id": N_("client order id"),
    # the day-ahead auction's and the storage's entries (were shown as codes: local_day, …)
    "day_ahead": N_("day-ahead auction"),
    "block_group": N_("block group"),
    "storage_order": N_("storage order"),
    "storage_unit": N_("storage unit"),
    "simulation_run": N_("simulation run"),
    "reclear": N_("reopened to clear again"),
    "forecast_replaced": N_("forecast orders replaced"),
    "local_day": N_("day"),
    "daily_orders": N_("daily orders placed"),
    "version": N_("version"),
    "blocks": N_("blocks"),
    "energy_kwh": N_("energy (kWh)"),
    "soc_initial_kwh": N_("initial state of charge (kWh)"),
    "previous": N_("previous"),
    "metering_points": N_("metering points"),
    "input_hash": N_("input hash"),
    "result_hash": N_("result hash"),
}

#: Values of the audit log's details that are codes of the market (besides `LABELS`).
AUDIT_VALUES: dict[str | bool, str] = {
    "fixed": N_("fixed"),
    "forecast": N_("from forecast"),
    "changed": N_("changed"),
    "daily": N_("every day"),
    True: N_("yes"),
    False: N_("no"),
}
#: Details shown as technical identifiers (in `code`): the solver's words, process names.
AUDIT_TECHNICAL = {"worker", "reason", "input_hash", "result_hash"}
AUDIT_PRICES = {"price", "import_price", "export_price", "price_floor", "price_cap", "rate"}

WEEKDAYS = {
    "1234567": N_("every day"),
    "12345": N_("Monday to Friday"),
    "67": N_("weekends"),
}


@pass_context
def label(ctx: Any, value: Any) -> str:
    text = LABELS.get(str(value))
    return gettext(text, context_locale(ctx)) if text else str(value)


@pass_context
def audit_label(ctx: Any, value: Any) -> str:
    """An audit code in the reader's language: first the audit vocabulary, then the market's
    (member, buy, …); an unknown code as it is."""
    text = AUDIT.get(str(value)) or LABELS.get(str(value))
    return gettext(text, context_locale(ctx)) if text else str(value)


@pass_context
def audit_value(ctx: Any, key: str, value: Any) -> Markup:
    """A detail of an audit entry for the reader: codes in words, numbers with the reader's
    decimal mark, technical identifiers as code."""
    locale = context_locale(ctx)
    if value is None or value == "None":
        return Markup("–")
    if key in AUDIT_TECHNICAL:
        text = str(value)
        return Markup("<code>%s</code>") % (text[:12] if key.endswith("_hash") else text)
    if isinstance(value, bool) or (isinstance(value, str) and value in AUDIT_VALUES):
        return Markup.escape(gettext(AUDIT_VALUES[value], locale))
    if key == "weekdays" and str(value) in WEEKDAYS:
        return Markup.escape(gettext(WEEKDAYS[str(value)], locale))
    if key == "technology" and str(value) in TECHNOLOGIES:
        return Markup.escape(gettext(TECHNOLOGIES[str(value)], locale))
    if isinstance(value, str) and value in LABELS:
        return Markup.escape(gettext(LABELS[value], locale))
    if isinstance(value, str) and re.fullmatch(r"-?\d+\.\d+", value):
        places = 4 if key in AUDIT_PRICES else len(value.split(".")[1])
        return Markup.escape(number(value, places, locale))
    return Markup.escape(str(value))


@pass_context
def weekdays_label(ctx: Any, value: str) -> str:
    text = WEEKDAYS.get(value)
    return gettext(text, context_locale(ctx)) if text else value


@pass_context
def technology_label(ctx: Any, value: Any) -> str:
    text = TECHNOLOGIES.get(str(value))
    return gettext(text, context_locale(ctx)) if text else str(value)


def choices_label(values: str, locale: str) -> str:
    """A list of codes from an error ("household, business, …", the values a field takes)
    as the page's select names them: a Polish page said "wybierz jedną z wartości:
    household, business" under a select showing "gospodarstwo domowe", "firma". A code
    without a label stays as it is."""
    words = []
    for code in values.split(", "):
        text = LABELS.get(code) or TECHNOLOGIES.get(code) or FEES.get(code)
        words.append(gettext(text, locale) if text else code)
    return ", ".join(words)


i18n.choices_label = choices_label


def renewable(technology: Any) -> bool:
    """Whether the law counts this technology as renewable (the rule set decides)."""
    from market.statutory.rules import RULES

    return str(technology) in TECHNOLOGIES and RULES.is_renewable(str(technology))


GLOBALS = {
    "technologies": tuple(TECHNOLOGIES),
    "technology_label": technology_label,
    "renewable": renewable,
    "status_label": label,
    "side_label": label,
    "label": label,
    "weekdays_label": weekdays_label,
    "audit_label": audit_label,
    "audit_value": audit_value,
}
