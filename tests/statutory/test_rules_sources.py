"""The rule set's sources: a rule not flagged as a draft names what confirms it, every quote
found is kept with its address, and docs/statutory.md lists the same addresses."""

from __future__ import annotations

from pathlib import Path

from market.statutory.rules import RULES, Source

DOCS = Path(__file__).resolve().parents[2] / "docs" / "statutory.md"


def _sources() -> list[tuple[str, Source]]:
    out = [("renewable", RULES.renewable_source), ("basis", RULES.self_consumption_source)]
    out += [(f"exemption {e.valid_from}", e.source) for e in RULES.exemptions]
    out += [(f"{c.name} {c.valid_from}", c.source) for c in RULES.conditions]
    out += [(f"tier {t.above}", t.source) for t in RULES.tiers]
    return out


def test_every_final_rule_has_evidence_and_every_quote_an_address() -> None:
    for name, source in _sources():
        if not source.draft:
            assert source.evidence, f"{name}: not a draft, but nothing confirms it"
        for found in source.evidence:
            assert found.url.startswith(("https://", "http://")), name
            assert len(found.quote) > 30, name


def test_still_from_drafts() -> None:
    """What no public source checked confirmed stays flagged (docs/statutory.md)."""
    drafts = {name.split()[0] for name, source in _sources() if source.draft}
    assert {"renewable_share", "demand_coverage", "installed_capacity_mw", "storage_share",
            "tier", "exemption", "basis"} == drafts  # fmt: skip


def test_docs_list_every_address() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert RULES.version in text
    for name, source in _sources():
        for found in source.evidence:
            assert found.url in text, f"{name}: {found.url} missing from docs/statutory.md"
