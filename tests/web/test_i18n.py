"""Translation: gettext and Polish plurals, and market errors translated by their message id
with each param formatted for the reader (`tests/web/test_catalogue.py` checks that every id
has Polish text)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from market.core.errors import GateClosed, OrderRejected
from tests.support.world import World
from web.ui import i18n
from web.ui.i18n import gettext, ngettext, translate_message

WARSAW = "Europe/Warsaw"


def test_gettext_and_polish_plurals() -> None:
    assert gettext("Sign in", "pl") == "Zaloguj się"
    assert gettext("Sign in", "en") == "Sign in"
    forms = [ngettext("%(num)s order", "%(num)s orders", n, "pl") for n in (1, 2, 5, 12, 22)]
    assert forms == ["1 zlecenie", "2 zlecenia", "5 zleceń", "12 zleceń", "22 zlecenia"]


@pytest.fixture
def catalogue(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A small Polish catalogue in place of pl.json."""
    messages = {
        "wrong login or password": "błędny login lub hasło",
        "must be greater than 0 kWh (got %(value)s)": (
            "musi być większa od 0 kWh (podano %(value)s)"
        ),
        "must be between the price floor %(floor)s and the cap %(cap)s PLN/kWh (got %(price)s)": (
            "cena musi być między %(floor)s a %(cap)s zł/kWh (podano %(price)s)"
        ),
        "the gate for the interval starting %(start)s closed at %(closed_at)s": (
            "bramka dla okresu od %(start)s zamknęła się o %(closed_at)s"
        ),
        "at most %(count)s orders in one batch": "najwyżej %(count)s zlecenie w jednej paczce",
        "at most %(count)s orders in one batch|1": "najwyżej %(count)s zlecenia w jednej paczce",
        "at most %(count)s orders in one batch|2": "najwyżej %(count)s zleceń w jednej paczce",
    }
    monkeypatch.setattr(i18n, "_catalog", lambda locale: messages if locale == "pl" else {})
    return messages


def test_market_errors_are_translated_by_id_with_their_values(catalogue: dict[str, str]) -> None:
    def pl(error: OrderRejected) -> str:
        return translate_message(error.message_id, error.params, "pl", WARSAW)

    greater = "must be greater than 0 kWh (got %(value)s)"
    assert (
        pl(OrderRejected("q", greater, value=Decimal(-1)))
        == "musi być większa od 0 kWh (podano -1)"
    )
    assert (
        translate_message("wrong login or password", {}, "pl", WARSAW) == "błędny login lub hasło"
    )
    assert translate_message("an unknown message", {}, "pl", WARSAW) == "an unknown message"
    price = OrderRejected(
        "price",
        "must be between the price floor %(floor)s and the cap %(cap)s PLN/kWh (got %(price)s)",
        floor=Decimal("0.2000"),
        cap=Decimal("0.8900"),
        price=Decimal(5),
    )
    assert pl(price) == "cena musi być między 0,2000 a 0,8900 zł/kWh (podano 5)"
    assert price.message.endswith("0.2000 and the cap 0.8900 PLN/kWh (got 5)")  # English: plain
    assert translate_message(price.message_id, price.params, "en", WARSAW) == (
        "must be between the price floor 0.2000 and the cap 0.8900 PLN/kWh (got 5)"
    )


def test_times_in_messages_are_in_the_cluster_zone(catalogue: dict[str, str]) -> None:
    gate = OrderRejected(
        "interval_id",
        "the gate for the interval starting %(start)s closed at %(closed_at)s",
        start=datetime(2026, 6, 15, 10, 0, tzinfo=UTC),
        closed_at=datetime(2026, 6, 15, 9, 55, tzinfo=UTC),
    )
    text = translate_message(gate.message_id, gate.params, "pl", WARSAW)
    assert text == "bramka dla okresu od 15.06.2026 12:00 zamknęła się o 15.06.2026 11:55"
    assert "UTC" not in translate_message(gate.message_id, gate.params, "en", WARSAW)
    late = {"day": date(2026, 1, 2), "t": datetime(2026, 1, 2, 23, 30, tzinfo=UTC)}
    winter = translate_message("%(day)s at %(t)s", late, "pl", WARSAW)
    assert winter == "02.01.2026 at 03.01.2026 00:30"


def test_messages_with_a_count_take_the_polish_plural_form(catalogue: dict[str, str]) -> None:
    batch = "at most %(count)s orders in one batch"
    texts = [translate_message(batch, {"count": n}, "pl", WARSAW) for n in (1, 3, 5, 22, 112)]
    assert texts == [
        "najwyżej 1 zlecenie w jednej paczce",
        "najwyżej 3 zlecenia w jednej paczce",
        "najwyżej 5 zleceń w jednej paczce",
        "najwyżej 22 zlecenia w jednej paczce",
        "najwyżej 112 zleceń w jednej paczce",
    ]
    assert translate_message(batch, {"count": 2}, "en", WARSAW) == "at most 2 orders in one batch"


def test_decimal_params_keep_their_places_and_group_thousands() -> None:
    assert i18n.format_param(Decimal("1234.50"), "pl", WARSAW) == "1234,50"
    assert i18n.format_param(Decimal("12345.5"), "pl", WARSAW) == "12\u00a0345,5"
    assert i18n.format_param(Decimal("12345.5"), "en", WARSAW) == "12,345.5"
    assert i18n.format_param(0.25, "pl", WARSAW) == "0,25"
    assert i18n.format_param(590543500000000018, "pl", WARSAW) == "590543500000000018"


@pytest.mark.anyio
async def test_pages_and_the_api_answer_a_market_error_by_its_id(
    client: Any, world: World, catalogue: dict[str, str]
) -> None:
    """The page shows the Polish text with the value in Polish form; the API answers the
    English message with its id and params."""
    from litestar import get

    gate = "the gate for the interval starting %(start)s closed at %(closed_at)s"

    def fail() -> None:
        raise GateClosed(
            "interval_id",
            gate,
            start=datetime(2026, 6, 15, 10, 0, tzinfo=UTC),
            closed_at=datetime(2026, 6, 15, 9, 55, tzinfo=UTC),
        )

    world.app.register(get("/i18n-test-error", sync_to_thread=False)(fail))
    world.app.register(get("/api/v1/i18n-test-error", sync_to_thread=False)(fail))
    page = client.get("/i18n-test-error")
    assert page.status_code == 409
    assert "bramka dla okresu od 15.06.2026 12:00 zamknęła się o 15.06.2026 11:55" in page.text
    body = client.get("/api/v1/i18n-test-error").json()
    assert body == {
        "error": "GateClosed",
        "field": "interval_id",
        "message": "the gate for the interval starting 2026-06-15T10:00:00+00:00 closed at "
        "2026-06-15T09:55:00+00:00",
        "message_id": gate,
        "params": {"start": "2026-06-15T10:00:00+00:00", "closed_at": "2026-06-15T09:55:00+00:00"},
    }
