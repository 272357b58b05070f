"""Distributor page, export API, meter upload, report and statement pages over HTTP."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from tests.support.exports import PASSWORD, PPE_A, PPE_B, build_cluster

HX = {"HX-Request": "true"}

pytestmark = pytest.mark.anyio

STARTS = [datetime(2026, 10, 25, 0, 0, tzinfo=UTC), datetime(2026, 10, 25, 1, 0, tzinfo=UTC)]


@pytest.fixture
async def app(db: Any) -> Litestar:
    from market.core.clock import ManualClock
    from market.core.settings import Settings
    from web.app import create_app
    from web.config import WebConfig

    async with db.session() as s:
        await build_cluster(s, STARTS)
    settings = Settings(data_dir=Path("."), database_url=db.url, secret_key="test-secret")
    config = WebConfig(secure_cookies=False, signin_rate=("minute", 50))
    return create_app(
        settings, config=config, clock=ManualClock(datetime(2026, 10, 26, tzinfo=UTC))
    )


@pytest.fixture
def client(app: Litestar) -> Iterator[TestClient[Litestar]]:
    with TestClient(app=app) as c:
        yield c


def sign_in(client: TestClient[Litestar], login: str) -> None:
    page = client.get("/login")
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert token
    r = client.post(
        "/login",
        data={"login": login, "password": PASSWORD, "_csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert r.status_code < 400


def token_for(client: TestClient[Litestar], login: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", json={"login": login, "password": PASSWORD})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


async def test_distributor_page_and_streamed_csv(client: TestClient[Litestar]) -> None:
    sign_in(client, "dso")
    page = client.get("/distributor/")
    assert page.status_code == 200 and 'action="/distributor/export"' in page.text
    r = client.get("/distributor/export", params={"start": "2026-10-25", "decimal_comma": "true"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert 'filename="klaster-2026-10-25-metering-' in r.headers["content-disposition"]
    assert r.content.startswith(b"\xef\xbb\xbf")
    lines = r.content.decode("utf-8-sig").strip().split("\r\n")
    assert len(lines) == 1 + 6 and PPE_A in lines[1] and ";-0,55;" in lines[1]
    again = client.get(
        "/distributor/export", params={"start": "2026-10-25", "decimal_comma": "true"}
    )
    assert again.content == r.content and again.headers["etag"] == r.headers["etag"]
    xlsx = client.get("/distributor/export", params={"start": "2026-10-25", "format": "xlsx"})
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"


async def test_members_get_403_and_api_roles(client: TestClient[Litestar]) -> None:
    sign_in(client, "anna")
    assert client.get("/distributor/export", params={"start": "2026-10-25"}).status_code == 403
    member = token_for(client, "anna")
    r = client.get("/api/v1/exports", params={"start": "2026-10-25"}, headers=member)
    assert r.status_code == 403 and r.json()["field"] == "role"
    dso = token_for(client, "dso")
    r = client.get("/api/v1/exports", params={"start": "2026-10-25", "format": "json"}, headers=dso)
    assert r.status_code == 200
    doc = json.loads(r.content)
    assert len(doc["metering"]) == 6 and len(doc["trades"]) == 4
    empty = client.get("/api/v1/exports", params={"start": "2026-06"}, headers=dso)
    assert empty.status_code == 404 and "no cleared intervals" in empty.json()["message"]
    bad = client.get(
        "/api/v1/exports",
        params={"start": "2026-10-25", "plain": "true", "decimal_comma": "true"},
        headers=dso,
    )
    assert bad.status_code == 422 and bad.json()["field"] == "decimal_comma"
    too_long = client.get(
        "/api/v1/exports", params={"start": "2026-01-01", "end": "2026-12-31"}, headers=dso
    )
    assert too_long.status_code == 422 and "longer than" in too_long.json()["message"]


async def test_meter_upload_reports_lines_and_imports_nothing(client: TestClient[Litestar]) -> None:
    sign_in(client, "dso")
    csv = (
        "ppe;interval_start;import_kwh;export_kwh;quality;resolution\n"
        f"{PPE_A};2026-10-25T02:00:00+02:00;0;2,8;measured;PT15M\n"
        f"{PPE_B};2026-10-25T02:00:00;2,7;0;measured;PT15M\n"
    ).encode()
    headers = {"HX-Request": "true", "x-csrftoken": str(client.cookies.get("csrftoken") or "")}
    r = client.post(
        "/distributor/meter-data", files={"file": ("m.csv", csv, "text/csv")}, headers=headers
    )
    assert r.status_code == 422, r.text
    # line 3 in the error table, its message in the page's language (Polish)
    assert "niejednoznaczn" in r.text and "ambiguous" not in r.text and ">3<" in r.text
    assert "<html" not in r.text  # htmx gets the fragment
    plain = client.post(
        "/distributor/meter-data",
        files={"file": ("m.csv", csv, "text/csv")},
        headers={"x-csrftoken": headers["x-csrftoken"]},
    )
    assert plain.status_code == 422 and "<html" in plain.text and "niejednoznaczn" in plain.text
    r = client.post(
        "/distributor/meter-data",
        files={"file": ("m.csv", csv, "text/csv")},
        data={"skip_bad_rows": "true"},
        headers=headers,
    )
    assert r.status_code == 200 and "m.csv" in r.text


async def test_report_with_svg_charts_and_statement(client: TestClient[Litestar]) -> None:
    sign_in(client, "coord")
    r = client.get("/reports/", params={"start": "2026-10"})
    assert r.status_code == 200, r.text
    assert r.text.count("<svg") >= 3 and "L2" in r.text
    sign_in(client, "anna")
    assert client.get("/reports/", params={"start": "2026-10"}).status_code == 403
    page = client.get("/statement/", params={"month": "2026-10"})
    assert page.status_code == 200 and "Anna Prosument" in page.text
    csv = client.get("/statement/csv", params={"month": "2026-10"})  # Polish page, Polish CSV
    assert csv.content.decode("utf-8-sig").startswith("Członek;Okres;Pozycja;Jednostka;Wartość")
    assert "Kwota za aukcje śróddzienne;zł;-1,10" in csv.content.decode("utf-8-sig")
    assert "Kwota za aukcję dnia następnego;zł;0,00" in csv.content.decode("utf-8-sig")
    client.cookies.set("lang", "en")
    csv = client.get("/statement/csv", params={"month": "2026-10"})
    assert csv.content.startswith(b"\xef\xbb\xbfmember;period;item;unit;value")
    assert "local_amount;PLN;-1,10" in csv.content.decode("utf-8-sig")
    # the benefits and the month without the cluster follow the statement's own rows
    values = {
        row.split(";")[2]: Decimal(row.split(";")[4].replace(",", "."))
        for row in csv.content.decode("utf-8-sig").splitlines()[1:]
    }
    assert values["day_ahead_amount"] == 0  # no day-ahead auction in this cluster
    assert values["total"] == (
        values["day_ahead_amount"] + Decimal("-1.10") + values["grid_cost"] - values["grid_revenue"]
    )
    assert values["with_cluster"] == (
        values["total"] - values["avoided_fees"] - values["distribution_discount"]
    )
    assert values["without_cluster"] == (
        values["without_cluster_import_cost"] - values["without_cluster_export_revenue"]
    )
    assert values["total_benefit"] == values["without_cluster"] - values["with_cluster"]
    assert "without_cluster_export" in values and "exempt" in values
    client.cookies.delete("lang")
    polish = client.get("/statement/csv", params={"month": "2026-10"}).content.decode("utf-8-sig")
    assert ";Łączna korzyść z klastra;zł;" in polish
    part = client.get("/statement/statutory", params={"month": "2026-10"}, headers=HX)
    assert part.status_code == 200 and 'id="statement-benefit-chart"' in part.text
    assert "<svg" in part.text and "Bez klastra" in part.text
    other = client.get("/statement/", params={"month": "2026-10", "member": 4})
    assert other.status_code == 403


async def test_meter_data_api(client: TestClient[Litestar]) -> None:
    body = (
        "ppe;interval_start;import_kwh;export_kwh;quality;resolution\n"
        f"{PPE_A};2026-10-25T00:00:00Z;0;2,8;measured;PT15M\n"
        "590543500000000019;2026-10-25T00:00:00Z;1;0;measured;PT15M\n"
    ).encode()
    dso = {**token_for(client, "dso"), "Content-Type": "text/csv"}
    r = client.post("/api/v1/meter-data", content=body, headers=dso)
    assert r.status_code == 422 and r.json()["stored"] == 0
    assert r.json()["errors"][0]["line"] == 3 and "check digit" in r.json()["errors"][0]["message"]
    r = client.post("/api/v1/meter-data?skip_bad_rows=true", content=body, headers=dso)
    assert r.status_code == 200 and r.json()["stored"] == 1
    member = {**token_for(client, "anna"), "Content-Type": "text/csv"}
    assert client.post("/api/v1/meter-data", content=body, headers=member).status_code == 403


async def _pipes(document: Any) -> Any:
    """A made-up one-table format: the header, then one `|`-separated line per row."""
    (table,) = document.tables
    yield ("|".join(table.header) + "\n").encode()
    async for batch in document.batches(table):
        yield b"".join(("|".join(map(str, row)) + "\n").encode() for row in batch)


@pytest.fixture
def pipes_format() -> Iterator[Any]:
    from market.export.formats.encoder import Encoder
    from market.export.formats.registry import FORMATS

    encoder = FORMATS.register(Encoder("pipes", "Pipes", "text/plain", "txt", False, _pipes))
    yield encoder
    FORMATS.unregister("pipes")


async def test_a_registered_format_is_offered_everywhere(
    client: TestClient[Litestar], pipes_format: Any
) -> None:
    """A format registered here, and nowhere else, is a `--format` choice, an option on the
    distributor page, and a value the page and the API accept, with its content type."""
    import argparse

    from market.commands.export import add_arguments
    from market.export.formats.registry import FORMATS

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--from", "2026-10", "-o", "x", "--format", "pipes"])
    assert args.format == "pipes"
    sign_in(client, "dso")
    page = client.get("/distributor/").text
    assert '<option value="pipes">Pipes</option>' in page
    assert "Tabela (CSV, Pipes: jedna na plik)" in page  # the one-table formats
    dso = token_for(client, "dso")
    params = {"start": "2026-10-25", "format": "pipes", "table": "trades"}
    r = client.get("/api/v1/exports", params=params, headers=dso)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert re.search(
        r'filename="klaster-2026-10-25-trades-[0-9a-f]{12}\.txt"', r.headers["content-disposition"]
    )
    lines = r.text.splitlines()
    assert lines[0].startswith("cluster_id|interval_start_utc|") and len(lines) == 1 + 4
    assert client.get("/distributor/export", params=params).text == r.text
    both = client.get("/api/v1/exports", params={**params, "table": "all"}, headers=dso)
    assert both.status_code == 422 and both.json()["field"] == "table"
    assert both.json()["message"] == "a Pipes file holds one table; pick one"
    FORMATS.unregister(pipes_format.name)  # and it is offered no more
    assert 'value="pipes"' not in client.get("/distributor/").text
    gone = client.get("/api/v1/exports", params=params, headers=dso)
    assert gone.status_code == 422 and gone.json()["field"] == "format"
    assert gone.json()["message"] == "unknown format pipes; use one of csv, json, xlsx"
