"""The coordinator's fee-rate page: add, refuse bad or overlapping rates (422, nothing
stored), delete; members may not see it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.world import World, htmx_headers, sign_in

pytestmark = pytest.mark.anyio


async def test_add_refuse_and_delete(client: Any, world: World) -> None:
    sign_in(client, "coord")
    page = client.get("/coordinator/fee-rates/")
    assert page.status_code == 200 and "Stawki opłat" in page.text and "Brak stawek" in page.text
    good = {"fee": "quality", "tariff_group": "", "rate_pln_per_kwh": "0,0331",
            "valid_from": "2026-01-01", "valid_to": "", "note": "taryfa 2026"}  # fmt: skip
    r = client.post("/coordinator/fee-rates/", data=good, headers=htmx_headers(client))
    assert r.status_code == 200 and "stawka jakościowa" in r.text and "0,0331" in r.text
    for bad, field in (
        ({**good, "valid_from": "2027-02-01", "valid_to": "2027-01-01"}, "valid_to"),
        ({**good, "valid_from": "2026-06-01"}, "valid_from"),  # overlaps the open-ended one
        ({**good, "rate_pln_per_kwh": "abc", "valid_from": "2030-01-01"}, "rate_pln_per_kwh"),
    ):
        r = client.post("/coordinator/fee-rates/", data=bad, headers=htmx_headers(client))
        assert r.status_code == 422 and "field-error" in r.text, (field, r.text[:300])
    listed = client.get("/coordinator/fee-rates/").text
    assert listed.count("/delete") == 1  # nothing else was stored
    rate_id = listed.split("/coordinator/fee-rates/")[1].split("/delete")[0]
    r = client.post(f"/coordinator/fee-rates/{rate_id}/delete", headers=htmx_headers(client))
    assert r.status_code == 200 and "Brak stawek" in r.text


async def test_members_may_not(client: Any, world: World) -> None:
    sign_in(client, "alice")
    r = client.get("/coordinator/fee-rates/", follow_redirects=False)
    assert r.status_code in (302, 303, 403)
