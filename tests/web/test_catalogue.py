"""Every message id in the code has Polish text in `web/locale/pl.json`.

Ids are collected from the source by syntax, not by running it: the 2nd positional argument
of any `KlasterError` subclass call in `market/` and `web/` (`raise ValidationFailed("field",
"id", ...)`), string literals passed to `N_()`, `_()`, `gettext()` and `ngettext()` in `web/`,
and `_()` / `ngettext()` in the templates. A plural id (an `ngettext` pair, or a market
message with a `count` param) needs all three Polish forms. A market message built at run time
(an f-string, `%` or `.format`) can never be looked up, so it is reported too.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, nodes

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "web" / "locale" / "pl.json"
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
WEB_FUNCTIONS = {"N_", "_", "gettext"}


@dataclass(frozen=True)
class MessageId:
    text: str
    where: str
    #: The English plural of an `ngettext` pair ("" for a plain id); a market message with a
    #: `count` param is its own plural (keys `id`, `id|1`, `id|2`).
    plural: str = ""
    counted: bool = False

    def catalogue_keys(self) -> list[str]:
        if self.plural:
            return [self.text, f"{self.plural}|1", f"{self.plural}|2"]
        if self.counted:
            return [self.text, f"{self.text}|1", f"{self.text}|2"]
        return [self.text]


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _literal(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def error_classes(trees: Iterable[ast.Module]) -> set[str]:
    """`KlasterError` and every class that derives from it (by name, to a fixed point)."""
    bases: dict[str, set[str]] = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases.setdefault(node.name, set()).update(_name(b) for b in node.bases)
    found = {"KlasterError"}
    while True:
        more = {name for name, parents in bases.items() if parents & found} - found
        if not more:
            return found
        found |= more


def market_ids(
    sources: Mapping[str, str], classes: set[str] | None = None
) -> tuple[list[MessageId], list[str]]:
    """(message ids, raise sites whose message is built at run time) of `sources`
    (path → Python text)."""
    trees = {path: ast.parse(text, filename=path) for path, text in sources.items()}
    classes = error_classes(trees.values()) if classes is None else classes
    ids: list[MessageId] = []
    built: list[str] = []
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and _name(node.func) in classes):
                continue
            if len(node.args) < 2:
                continue
            where = f"{path}:{node.lineno}"
            text = _literal(node.args[1])
            if text is not None:
                counted = any(k.arg == "count" for k in node.keywords)
                ids.append(MessageId(text, where, counted=counted))
            elif isinstance(node.args[1], ast.JoinedStr | ast.BinOp | ast.Call):
                built.append(where)
    return ids, built


def web_ids(sources: Mapping[str, str]) -> list[MessageId]:
    ids: list[MessageId] = []
    for path, text in sources.items():
        for node in ast.walk(ast.parse(text, filename=path)):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name, where = _name(node.func), f"{path}:{node.lineno}"
            first = _literal(node.args[0])
            if name in WEB_FUNCTIONS and first is not None:
                ids.append(MessageId(first, where))
            elif name == "ngettext" and first is not None and len(node.args) > 1:
                plural = _literal(node.args[1])
                if plural is not None:
                    ids.append(MessageId(first, where, plural=plural))
    return ids


def template_ids(sources: Mapping[str, str]) -> list[MessageId]:
    env = Environment()
    ids: list[MessageId] = []
    for path, text in sources.items():
        for call in env.parse(text).find_all(nodes.Call):
            if not isinstance(call.node, nodes.Name) or not call.args:
                continue
            args = [a.value if isinstance(a, nodes.Const) else None for a in call.args]
            texts = [a for a in args if isinstance(a, str)]
            where = f"{path}:{call.lineno}"
            if call.node.name == "_" and isinstance(args[0], str):
                ids.append(MessageId(args[0], where))
            elif call.node.name == "ngettext" and texts[:2] == args[:2] and len(texts) >= 2:
                ids.append(MessageId(texts[0], where, plural=texts[1]))
    return ids


def problems(ids: Iterable[MessageId], catalogue: Mapping[str, str]) -> list[str]:
    """One line per id without Polish text (or a plural form), or whose Polish text has
    other placeholders than the id."""
    found: list[str] = []
    for msg in ids:
        missing = [key for key in msg.catalogue_keys() if not catalogue.get(key)]
        if missing:
            found.append(f"{msg.where}: no Polish for {', '.join(map(repr, missing))}")
            continue
        wanted = set(PLACEHOLDER.findall(msg.text)) | set(PLACEHOLDER.findall(msg.plural))
        exact = not msg.plural and not msg.counted  # plural forms may leave the number out
        for key in msg.catalogue_keys():
            polish = set(PLACEHOLDER.findall(catalogue[key]))
            if polish - wanted - {"num", "count"} or (exact and polish != wanted):
                found.append(f"{msg.where}: {key!r} and its Polish differ in placeholders")
    return sorted(set(found))


def _read(paths: Iterable[Path]) -> dict[str, str]:
    return {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in sorted(paths)}


def catalogue() -> dict[str, str]:
    messages: dict[str, str] = json.loads(CATALOGUE.read_text(encoding="utf-8"))["messages"]
    return messages


def all_ids() -> tuple[list[MessageId], list[str]]:
    python = _read([*(ROOT / "market").rglob("*.py"), *(ROOT / "web").rglob("*.py")])
    market, built = market_ids(python)  # web/ raises market errors too (form parsing)
    web = web_ids({path: text for path, text in python.items() if path.startswith("web")})
    templates = template_ids(_read((ROOT / "web" / "templates").rglob("*.html")))
    return [*market, *web, *templates], built


def test_every_message_id_has_polish_text() -> None:
    ids, built = all_ids()
    assert len({m.text for m in ids}) > 100  # the collector still finds the ids
    report = problems(ids, catalogue())
    report += [
        f"{where}: message built at run time (pass a literal id and params)" for where in built
    ]
    assert not report, "message ids without Polish text:\n" + "\n".join(report)


def test_the_catalogue_keys_are_sorted() -> None:
    keys = list(catalogue())
    assert keys == sorted(keys)


#: The real hierarchy: the synthetic module's raises are recognised through it.
ERRORS = _read([ROOT / "market" / "core" / "errors.py"])
SYNTHETIC = """
from market.core.errors import ValidationFailed, KlasterError

class TooLate(KlasterError):
    pass

class WayTooLate(TooLate):
    pass

def check(q, n, when):
    if q < 1:
        raise ValidationFailed("quantity_kwh", "must be at least %(minimum)s kWh", minimum=1)
    if n > 3:
        raise ValidationFailed("orders", "at most %(count)s orders at once", count=3)
    if when:
        raise WayTooLate("interval_id", "the gate closed at %(closed_at)s", closed_at=when)
    raise ValidationFailed("quantity_kwh", f"must be at least {q} kWh")
"""


def test_a_reworded_message_without_polish_fails() -> None:
    """The checker on a small source: translated ids pass; rewording one, a missing plural
    form, a subclass's message and a message built at run time are all reported."""
    polish = {
        "must be at least %(minimum)s kWh": "musi wynosić co najmniej %(minimum)s kWh",
        "at most %(count)s orders at once": "najwyżej %(count)s zlecenie naraz",
        "at most %(count)s orders at once|1": "najwyżej %(count)s zlecenia naraz",
        "at most %(count)s orders at once|2": "najwyżej %(count)s zleceń naraz",
        "the gate closed at %(closed_at)s": "bramka zamknęła się o %(closed_at)s",
    }
    ids, built = market_ids({**ERRORS, "synthetic.py": SYNTHETIC})
    assert {m.text for m in ids} == {k for k in polish if "|" not in k}
    assert built == ["synthetic.py:17"]
    assert problems(ids, polish) == []

    reworded = SYNTHETIC.replace("must be at least %(minimum)s kWh", "needs %(minimum)s kWh")
    ids, _ = market_ids({**ERRORS, "synthetic.py": reworded})
    assert problems(ids, polish) == ["synthetic.py:12: no Polish for 'needs %(minimum)s kWh'"]

    one_form_short = {k: v for k, v in polish.items() if not k.endswith("|2")}
    ids, _ = market_ids({**ERRORS, "synthetic.py": SYNTHETIC})
    assert problems(ids, one_form_short) == [
        "synthetic.py:14: no Polish for 'at most %(count)s orders at once|2'"
    ]

    subclass_untranslated = {k: v for k, v in polish.items() if "gate" not in k}
    assert problems(ids, subclass_untranslated) == [
        "synthetic.py:16: no Polish for 'the gate closed at %(closed_at)s'"
    ]


def test_web_and_template_ids_with_plurals() -> None:
    py = 'X = N_("Sign in")\ny = ngettext("%(num)s order", "%(num)s orders", n, loc)\n'
    html = '{{ _("Sign out") }} {{ ngettext("%(num)s point", "%(num)s points", n) }}'
    ids = [*web_ids({"a.py": py}), *template_ids({"b.html": html})]
    polish = {
        "Sign in": "Zaloguj się",
        "%(num)s order": "%(num)s zlecenie",
        "%(num)s orders|1": "%(num)s zlecenia",
        "Sign out": "Wyloguj",
        "%(num)s point": "%(num)s punkt",
        "%(num)s points|1": "%(num)s punkty",
        "%(num)s points|2": "%(num)s punktów",
    }
    assert problems(ids, polish) == ["a.py:2: no Polish for '%(num)s orders|2'"]
