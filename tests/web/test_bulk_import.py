"""Coordinator: bulk import of members and metering points from one CSV (all or nothing)."""

from __future__ import annotations

from typing import Any

import pytest

from market.members.ppe import make_ppe
from tests.support.world import ALICE_PPE, World, htmx_headers, sign_in

pytestmark = pytest.mark.anyio

HEADER = "name;kind;login;email;password;ppe_code;node;contracted_power_kw;pv_kwp;annual_use_kwh"
PPE = [make_ppe("5905435", 900 + i) for i in range(5)]


def _post(client: Any, body: bytes) -> Any:
    files = {"file": ("members.csv", body, "text/csv")}
    return client.post("/coordinator/members/import", files=files, headers=htmx_headers(client))


def _stored(client: Any) -> str:
    return str(client.get("/coordinator/members").text + client.get("/coordinator/points").text)


async def test_a_good_file_stores_every_member_and_point(client: Any, world: World) -> None:
    sign_in(client, "coord")
    rows = [
        HEADER,
        f"Ewa Nowak;household;ewa;ewa@example.pl;sekret123;{PPE[0]};S1;10;5;3000",
        f";;ewa;;;{PPE[1]};GPZ;12,5;;",  # a second point of the same member
        f"Gmina Test;municipal;;;;{PPE[2]};GPZ;40;;",
        "Bez punktu;business;;;;;;;;",
    ]
    r = _post(client, ("\ufeff" + "\r\n".join(rows)).encode())
    assert r.status_code == 200, r.text
    assert "Utworzono 3 członków i 3 punkty poboru." in r.text
    assert 'id="members-table"' in r.text and "Ewa Nowak" in r.text
    stored = _stored(client)
    assert all(name in stored for name in ("Ewa Nowak", "Gmina Test", "Bez punktu"))
    assert all(code in stored for code in PPE[:3])
    audit = client.get("/coordinator/audit").text
    assert "Ewa Nowak" in audit and PPE[1] in audit
    # the new member signs in with the password from the file (a member: coordinator pages 403)
    client.cookies.clear()
    sign_in(client, "ewa", "sekret123")
    assert client.get("/coordinator/members", follow_redirects=False).status_code == 403


async def test_three_bad_rows_store_nothing_and_name_lines_and_fields(
    client: Any, world: World
) -> None:
    sign_in(client, "coord")
    bad_check = PPE[3][:-1] + str((int(PPE[3][-1]) + 1) % 10)
    rows = [
        HEADER,
        f"Dobry;household;dobry;;sekret123;{PPE[0]};S1;10;;",
        f"Zły węzeł;household;;;;{PPE[1]};X9;10;;",  # line 3: unknown node
        f"Zła cyfra;household;;;;{bad_check};S1;10;;",  # line 4: PPE check digit
        f"Powtórka;household;;;;{PPE[0]};S1;abc;;",  # line 5: repeated PPE and bad power
        f"Istniejący;household;;;;{ALICE_PPE};S1;10;;",  # line 6: PPE already registered
    ]
    before = _stored(client)
    r = _post(client, "\n".join(rows).encode())
    assert r.status_code == 422
    text = r.text
    assert "Niczego nie zaimportowano" in text
    for line, field in (("3", "node"), ("4", "ppe_code"), ("5", "contracted_power_kw"),
                        ("6", "ppe_code")):  # fmt: skip
        assert f'<td class="num">{line}</td><td>{field}</td>' in text, (line, field)
    assert "cyfra kontrolna" in text or "cyfr" in text
    after = _stored(client)
    assert "Dobry" not in after and PPE[0] not in after
    assert after.count("<tr") == before.count("<tr")


async def test_duplicate_ppe_within_the_file_is_named(client: Any, world: World) -> None:
    sign_in(client, "coord")
    rows = [HEADER, f"A;household;;;;{PPE[0]};S1;10;;", f"B;household;;;;{PPE[0]};S1;10;;"]
    r = _post(client, "\n".join(rows).encode())
    assert r.status_code == 422
    assert '<td class="num">3</td><td>ppe_code</td>' in r.text and "w wierszu 2" in r.text


async def test_a_windows_1250_file_with_polish_letters(client: Any, world: World) -> None:
    sign_in(client, "coord")
    rows = ["name,kind,ppe_code,node,contracted_power_kw",
            f"Łucja Żółć-Gęś,household,{PPE[4]},S1,7"]  # fmt: skip
    r = _post(client, "\r\n".join(rows).encode("cp1250"))
    assert r.status_code == 200, r.text
    assert "Utworzono 1 członka i 1 punkt poboru." in r.text
    assert "Łucja Żółć-Gęś" in _stored(client)


async def test_a_member_cannot_import(client: Any, world: World) -> None:
    sign_in(client, "alice")
    r = _post(client, f"{HEADER}\nX;household;;;;;;;;".encode())
    assert r.status_code == 403


async def test_a_bad_header_or_a_binary_file_is_refused(client: Any, world: World) -> None:
    sign_in(client, "coord")
    r = _post(client, b"name;kind;colour\nA;household;red\n")
    assert r.status_code == 422 and '<td class="num">1</td><td>colour</td>' in r.text
    assert "nie jest kolumną importu" in r.text
    r = _post(client, b"\x89PNG\r\n\x1a\n\x00\x00")
    assert r.status_code == 422 and "field-error" in r.text and "CSV" in r.text
