"""Translated labels for the market's closed vocabularies (statuses, sides, roles, kinds)."""

from __future__ import annotations

from typing import Any

from jinja2 import pass_context

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
def weekdays_label(ctx: Any, value: str) -> str:
    text = WEEKDAYS.get(value)
    return gettext(text, context_locale(ctx)) if text else value


@pass_context
def technology_label(ctx: Any, value: Any) -> str:
    text = TECHNOLOGIES.get(str(value))
    return gettext(text, context_locale(ctx)) if text else str(value)


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
}
