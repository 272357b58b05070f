"""The law, as data with dates: one versioned rule set for registered energy clusters.

Everything the statutory figures depend on — which technologies count as renewable, the fee
exemption's period, the support conditions' thresholds and the distribution-fee discount
tiers — is in `RULES` below, each rule with `valid_from`/`valid_to` (local dates, both
included; `None` = open) and its `Source`. A change in the law is a change of this data
(a new rule with a new `valid_from`, the old one closed with `valid_to`), never of the code
that applies it. Figures marked `draft=True` come from drafts or secondary sources and must be
checked against the consolidated act (docs/statutory.md lists them).

Fee *rates* (PLN/kWh) are not law but tariffs: they are the cluster's parameters in the
`fee_rates` table (`market.statutory.rates`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from market.network.models import Technology

ACT = (
    "ustawa o OZE, zm. ustawą z 17.08.2023 r. (Dz.U. 2023 poz. 1762); "
    "t.j. Dz.U. 2024 poz. 1361 (od 2024-09-13)"
)


@dataclass(frozen=True, slots=True)
class Evidence:
    """A public page found that states (part of) a rule: its address and the exact words."""

    url: str
    quote: str


@dataclass(frozen=True, slots=True)
class Source:
    act: str
    provision: str
    #: True when the figure comes from a draft or a secondary source, not the final act.
    draft: bool = False
    note: str = ""
    #: What was found for it (docs/statutory.md, "Checked against public sources").
    evidence: tuple[Evidence, ...] = ()


#: The cluster provisions' dates (register 2024-01-01, support 2024-07-02).
_IN_FORCE = Evidence(
    "https://serwisy.gazetaprawna.pl/samorzad/artykuly/9340621,nowe-zasady-funkcjonowania-"
    "klastrow-energii-wieksze-wsparcie-i-obowia.html",
    "centralne miejsce zajmują regulacje dotyczące klastrów energii, przy czym akurat te "
    "przepisy zaczną obowiązywać w 2024 r. (częściowo od 1 stycznia; częściowo od 2 lipca)",
)
#: The discount exists and is tied to the members' self-consumption of the renewable
#: generation (no figures).
_DISCOUNT_EXISTS = Evidence(
    "https://p4b.com.pl/klaster-energii/",
    "dość wysokie wymagania co do wysokości udziału autkokonsumpcji członków do  generacji "
    "oze nie przekładają się na istotne obniżenie kosztów opłat zmiennych",
)
_DISCOUNT_ON_DISTRIBUTION = Evidence(
    "https://nowa-energia.com.pl/2024/09/06/klastry-energii-w-polsce-doswiadczenia-"
    "ciechanowskiego-klastra-energii-pierwszego-zarejestrowanego-przez-prezesa-urzedu-"
    "regulacji-energetyki",
    "wprowadziła możliwość korzystania z upustów w rozliczeniach opłat za usługi dystrybucji "
    "energii elektrycznej",
)


class Comparison(StrEnum):
    AT_LEAST = "at_least"
    AT_MOST = "at_most"


class ConditionName(StrEnum):
    """The support conditions, as the report names them."""

    RENEWABLE_SHARE = "renewable_share"
    DEMAND_COVERAGE = "demand_coverage"
    INSTALLED_CAPACITY_MW = "installed_capacity_mw"
    STORAGE_SHARE = "storage_share"


@dataclass(frozen=True, slots=True)
class Valid:
    valid_from: date
    valid_to: date | None

    def on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


@dataclass(frozen=True, slots=True)
class Condition(Valid):
    """A support condition: `value` compared with `threshold` (a share 0–1, or MW)."""

    name: ConditionName
    threshold: Decimal
    comparison: Comparison
    source: Source

    def met(self, value: Decimal) -> bool:
        if self.comparison is Comparison.AT_LEAST:
            return value >= self.threshold
        return value <= self.threshold


@dataclass(frozen=True, slots=True)
class DiscountTier(Valid):
    """Above `above` (hourly self-consumption ratio, strictly greater) the members pay
    `pay_share` of the variable network rate and of the quality rate."""

    above: Decimal
    pay_share: Decimal
    source: Source


@dataclass(frozen=True, slots=True)
class Exemption(Valid):
    """Renewable energy matched in the same hour is exempt from these fees."""

    fees: tuple[str, ...]
    source: Source


@dataclass(frozen=True, slots=True)
class RuleSet:
    version: str
    renewable: Mapping[Technology, bool]
    #: Technologies whose feed-in is generation (storage only shifts energy in time).
    generating: frozenset[Technology]
    renewable_source: Source
    exemptions: tuple[Exemption, ...]
    conditions: tuple[Condition, ...]
    tiers: tuple[DiscountTier, ...]
    #: Denominator of the self-consumption ratio: "generation" (matched ÷ renewable fed in).
    self_consumption_basis: str = "generation"
    self_consumption_source: Source = field(
        default_factory=lambda: Source(
            ACT,
            "art. 38c (upusty)",
            draft=True,
            note="the basis (members' self-consumption ÷ renewable generation) matches a "
            "commentary; the act's wording was not found",
            evidence=(_DISCOUNT_EXISTS,),
        )
    )
    _renewable_values: frozenset[str] = field(init=False, default=frozenset(), repr=False)
    _generating_values: frozenset[str] = field(init=False, default=frozenset(), repr=False)

    def __post_init__(self) -> None:
        renewable = frozenset(t.value for t, yes in self.renewable.items() if yes)
        object.__setattr__(self, "_renewable_values", renewable)
        object.__setattr__(self, "_generating_values", frozenset(t.value for t in self.generating))

    def is_renewable(self, technology: Technology | str) -> bool:
        return str(technology) in self._renewable_values

    def generates(self, technology: Technology | str) -> bool:
        return str(technology) in self._generating_values

    def exemption_on(self, day: date) -> Exemption | None:
        return next((e for e in self.exemptions if e.on(day)), None)

    def condition_on(self, name: ConditionName, day: date) -> Condition | None:
        return next((c for c in self.conditions if c.name is name and c.on(day)), None)

    def tier_for(self, ratio: Decimal | None, day: date) -> DiscountTier | None:
        """The highest tier whose threshold `ratio` exceeds, in force on `day`."""
        if ratio is None:
            return None
        reached = [t for t in self.tiers if t.on(day) and ratio > t.above]
        return max(reached, key=lambda t: t.above, default=None)


_SUPPORT = date(2024, 7, 2)
_DRAFT_CONDITIONS = Source(
    ACT,
    "art. 38b (warunki wsparcia)",
    draft=True,
    note="figure from the draft act; not found in any public source checked",
)
_SHARE = Source(
    ACT,
    "art. 38b ust. 1 (udział OZE)",
    draft=True,
    note="30 %/50 % from secondary sources on the final act; not found in the sources checked",
)
_TIERS = Source(
    ACT,
    "art. 38c (upust w opłacie dystrybucyjnej)",
    draft=True,
    note="draft tiers; that a discount on the variable distribution fees tied to the members' "
    "self-consumption exists is confirmed, the 60/70/80/90 % tiers are not",
    evidence=(_DISCOUNT_ON_DISTRIBUTION, _DISCOUNT_EXISTS),
)


def _tier(above: str, pay: str) -> DiscountTier:
    return DiscountTier(_SUPPORT, None, Decimal(above), Decimal(pay), _TIERS)


RULES = RuleSet(
    version="2023-1762/2",
    renewable={
        Technology.PV: True,
        Technology.WIND: True,
        Technology.HYDRO: True,
        Technology.BIOGAS: True,
        Technology.LANDFILL_GAS: True,  # biogaz składowiskowy (art. 2 pkt 1 i 22)
        Technology.BIOMASS: True,
        Technology.GAS_CHP: False,
        Technology.STORAGE: False,  # discharge re-delivers stored energy; not generation
        Technology.NONE: False,
    },
    generating=frozenset(Technology) - {Technology.STORAGE, Technology.NONE},
    renewable_source=Source(
        ACT,
        "art. 2 pkt 22 (odnawialne źródło energii), art. 2 pkt 1 (biogaz)",
        note="landfill gas is biogas (art. 2 pkt 1)",
        evidence=(
            Evidence(
                "http://e-czytelnia.abrys.pl/energia-i-recykling-21/2018-4-1018/prawo-12582/"
                "biogaz-skladowiskowy-perspektywa-rozwoju-23889",
                "Zgodnie z definicją ustawową, wskazaną w art. 2 pkt 1 ustawa o OZE, biogaz jest "
                "gazem uzyskanym z biomasy, w szczególności z instalacji przeróbki odpadów "
                "zwierzęcych lub roślinnych, oczyszczalni ścieków oraz składowisk odpadów.",
            ),
        ),
    ),
    exemptions=(
        Exemption(
            _SUPPORT,
            date(2029, 12, 31),
            ("oze", "cogeneration", "certificate"),
            Source(
                ACT,
                "art. 38e (zwolnienia z opłat)",
                draft=True,
                note="start 2024-07-02 confirmed (the cluster support provisions' date); the "
                "end 2029-12-31 and the list of fees not found in the sources checked",
                evidence=(_IN_FORCE,),
            ),
        ),
    ),
    conditions=(
        Condition(
            _SUPPORT,
            date(2026, 12, 31),
            ConditionName.RENEWABLE_SHARE,
            Decimal("0.30"),
            Comparison.AT_LEAST,
            _SHARE,
        ),
        Condition(
            date(2027, 1, 1),
            None,
            ConditionName.RENEWABLE_SHARE,
            Decimal("0.50"),
            Comparison.AT_LEAST,
            _SHARE,
        ),
        Condition(
            _SUPPORT,
            None,
            ConditionName.DEMAND_COVERAGE,
            Decimal("0.40"),
            Comparison.AT_LEAST,
            _DRAFT_CONDITIONS,
        ),
        Condition(
            _SUPPORT,
            None,
            ConditionName.INSTALLED_CAPACITY_MW,
            Decimal(100),
            Comparison.AT_MOST,
            _DRAFT_CONDITIONS,
        ),
        Condition(
            _SUPPORT,
            None,
            ConditionName.STORAGE_SHARE,
            Decimal("0.02"),
            Comparison.AT_LEAST,
            _DRAFT_CONDITIONS,
        ),
    ),
    tiers=(
        _tier("0.60", "0.95"),
        _tier("0.70", "0.90"),
        _tier("0.80", "0.85"),
        _tier("0.90", "0.80"),
    ),
)
