"""Every user-visible string is translated: each message id used in templates and marked in
Python has a Polish translation, with the same placeholders."""

from __future__ import annotations

import json
import re
from pathlib import Path

from web.ui.i18n import LOCALE_DIR, gettext, ngettext, translate_error

WEB = Path(__file__).resolve().parents[2] / "web"
CALL = re.compile(r"""(?:\b_|\bN_|\bgettext)\(\s*(["'])((?:\\.|(?!\1).)*)\1""", re.S)
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def message_ids() -> set[str]:
    found: set[str] = set()
    files = [*WEB.rglob("*.html"), *WEB.rglob("*.py")]
    for path in files:
        if "static" in path.parts:
            continue
        for match in CALL.finditer(path.read_text(encoding="utf-8")):
            found.add(match.group(2))
    return found


def test_every_message_has_a_polish_translation() -> None:
    catalog = json.loads((LOCALE_DIR / "pl.json").read_text(encoding="utf-8"))["messages"]
    ids = message_ids()
    assert len(ids) > 100
    missing = sorted(m for m in ids if not catalog.get(m))
    assert not missing, "untranslated: " + json.dumps(missing, ensure_ascii=False, indent=1)
    for msgid in ids:
        assert set(PLACEHOLDER.findall(msgid)) == set(PLACEHOLDER.findall(catalog[msgid])), msgid


def test_gettext_and_polish_plurals() -> None:
    assert gettext("Sign in", "pl") == "Zaloguj się"
    assert gettext("Sign in", "en") == "Sign in"
    forms = [ngettext("%(num)s order", "%(num)s orders", n, "pl") for n in (1, 2, 5, 12, 22)]
    assert forms == ["1 zlecenie", "2 zlecenia", "5 zleceń", "12 zleceń", "22 zlecenia"]


def test_market_error_messages_are_translated_with_their_values() -> None:
    text = translate_error("must be greater than 0 kWh (got -1)", "pl")
    assert text == "musi być większa od 0 kWh (podano -1)"
    assert translate_error("wrong login or password", "pl") == "błędny login lub hasło"
    assert translate_error("an unknown message", "pl") == "an unknown message"
    price = "must be between the price floor 0.2000 and the cap 0.8900 PLN/kWh (got 5)"
    assert translate_error(price, "pl") == "cena musi być między 0,2000 a 0,8900 zł/kWh (podano 5)"
    ppe = ("invalid check digit: the last digit should be 8 (GS1 mod 10); "
           "check the code on the bill")  # fmt: skip
    assert translate_error(ppe, "pl").startswith(
        "błędna cyfra kontrolna: ostatnia cyfra powinna być 8"
    )
