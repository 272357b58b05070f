"""What the coordinator sends about members and metering points, as typed inputs, and one
parser per input type (form strings or JSON values in; `ValidationFailed` naming the field
out). Pages and the API call the same parser, so they give the same message for the same bad
value. Rules on stored state (taken login, known node, existing member) are the service's."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from market.access.models import MemberKind, Role
from market.access.passwords import MIN_LENGTH
from market.core.errors import ValidationFailed
from market.core.fields import UNSET, Fields, Unset, blank, choice, flag, given, number, text
from market.core.money import read_id
from market.members.ppe import validate_ppe
from market.network.inputs import node_ref
from market.network.models import LoadProfile, Technology


@dataclass(frozen=True, slots=True)
class MemberInput:
    name: str
    kind: MemberKind
    role: Role = Role.MEMBER
    login: str | None = None
    #: Required (and checked) when there is a login.
    password: str | None = None
    email: str | None = None
    show_name: bool = False


@dataclass(frozen=True, slots=True)
class MemberChange:
    """Fields left UNSET stay as they are; an e-mail of None clears it."""

    name: str | Unset = UNSET
    kind: MemberKind | Unset = UNSET
    email: str | Unset | None = UNSET
    show_name: bool | Unset = UNSET
    password: str | Unset = UNSET
    active: bool | Unset = UNSET


@dataclass(frozen=True, slots=True)
class MeteringPointInput:
    ppe_code: str
    member_id: int
    node: str
    contracted_power_kw: Decimal
    pv_kwp: Decimal = Decimal(0)
    other_generation_kw: Decimal = Decimal(0)
    storage_kwh: Decimal = Decimal(0)
    annual_use_kwh: Decimal = Decimal(0)
    load_profile: LoadProfile = LoadProfile.HOUSEHOLD
    name: str = ""
    #: None: PV when it has PV, storage when it only stores, else none.
    technology: Technology | None = None


@dataclass(frozen=True, slots=True)
class MeteringPointChange:
    """Fields left UNSET stay as they are."""

    member_id: int | Unset = UNSET
    node: str | Unset = UNSET
    name: str | Unset = UNSET
    contracted_power_kw: Decimal | Unset = UNSET
    pv_kwp: Decimal | Unset = UNSET
    other_generation_kw: Decimal | Unset = UNSET
    storage_kwh: Decimal | Unset = UNSET
    annual_use_kwh: Decimal | Unset = UNSET
    load_profile: LoadProfile | Unset = UNSET
    technology: Technology | Unset = UNSET
    active: bool | Unset = UNSET


def password(raw: object) -> str:
    value = "" if raw is None else str(raw)
    if len(value) < MIN_LENGTH:
        raise ValidationFailed("password", "at least %(min_len)s characters", min_len=MIN_LENGTH)
    return value


def email(raw: object) -> str | None:
    return text(raw, "email", required=False) or None


def parse_member(fields: Fields) -> MemberInput:
    name = text(fields.get("name"), "name")
    kind = choice(fields.get("kind"), "kind", MemberKind)
    role = choice(fields.get("role"), "role", Role) if given(fields, "role") else Role.MEMBER
    login = text(fields.get("login"), "login", max_len=80, required=False) or None
    mail = email(fields.get("email"))
    secret = password(fields.get("password")) if login else None
    show = flag(fields["show_name"], "show_name") if given(fields, "show_name") else False
    return MemberInput(name, kind, role, login, secret, mail, show)


def parse_member_change(fields: Fields) -> MemberChange:
    """An empty password leaves it as it is."""
    raw_password = fields.get("password")
    return MemberChange(
        name=text(fields["name"], "name") if given(fields, "name") else UNSET,
        kind=choice(fields["kind"], "kind", MemberKind) if given(fields, "kind") else UNSET,
        email=email(fields["email"]) if given(fields, "email") else UNSET,
        show_name=flag(fields["show_name"], "show_name") if given(fields, "show_name") else UNSET,
        password=UNSET if blank(raw_password) else password(raw_password),
        active=flag(fields["active"], "active") if given(fields, "active") else UNSET,
    )


def member_ref(raw: object) -> int:
    try:
        return read_id(raw)
    except ValueError:
        raise ValidationFailed("member_id", "choose an existing market member") from None


def contracted_power_kw(raw: object) -> Decimal:
    return number(raw, "contracted_power_kw", places=3, exclusive_min=True,
                  maximum=Decimal(100000), unit="kW")  # fmt: skip


#: The optional quantities of a point: field → unit.
QUANTITIES = {"pv_kwp": "kWp", "other_generation_kw": "kW", "storage_kwh": "kWh",
              "annual_use_kwh": "kWh"}  # fmt: skip


def quantity(raw: object, field: str) -> Decimal:
    return number(raw, field, places=3, maximum=Decimal(10**9), unit=QUANTITIES[field])


def parse_metering_point(fields: Fields) -> MeteringPointInput:
    """Empty optional quantities are 0; an empty load profile is a household's."""
    ppe_code = validate_ppe(str(fields.get("ppe_code") or ""), "ppe_code")
    member_id = member_ref(fields.get("member_id"))
    node = node_ref(fields.get("node"))
    name = text(fields.get("name"), "name", required=False)
    power = contracted_power_kw(fields.get("contracted_power_kw"))
    amounts = {
        key: Decimal(0) if blank(fields.get(key)) else quantity(fields.get(key), key)
        for key in QUANTITIES
    }
    raw_profile = fields.get("load_profile")
    profile = LoadProfile.HOUSEHOLD if blank(raw_profile) else choice(
        raw_profile, "load_profile", LoadProfile
    )  # fmt: skip
    raw_technology = fields.get("technology")
    technology = None if blank(raw_technology) else choice(
        raw_technology, "technology", Technology
    )  # fmt: skip
    return MeteringPointInput(
        ppe_code, member_id, node, power, amounts["pv_kwp"], amounts["other_generation_kw"],
        amounts["storage_kwh"], amounts["annual_use_kwh"], profile, name, technology,
    )  # fmt: skip


POINT_CHANGE_FIELDS = frozenset(
    {
        "member_id",
        "node",
        "name",
        "contracted_power_kw",
        "load_profile",
        "technology",
        "active",
        *QUANTITIES,
    }
)


def parse_metering_point_change(fields: Fields) -> MeteringPointChange:
    unknown = {key for key in fields if fields[key] is not None} - POINT_CHANGE_FIELDS
    if unknown:
        raise ValidationFailed(sorted(unknown)[0], "not a metering point field")
    sent = {key for key in fields if given(fields, key)}
    return MeteringPointChange(
        member_id=member_ref(fields["member_id"]) if "member_id" in sent else UNSET,
        node=node_ref(fields["node"]) if "node" in sent else UNSET,
        name=text(fields["name"], "name", required=False) if "name" in sent else UNSET,
        contracted_power_kw=(
            contracted_power_kw(fields["contracted_power_kw"])
            if "contracted_power_kw" in sent
            else UNSET
        ),
        pv_kwp=quantity(fields["pv_kwp"], "pv_kwp") if "pv_kwp" in sent else UNSET,
        other_generation_kw=(
            quantity(fields["other_generation_kw"], "other_generation_kw")
            if "other_generation_kw" in sent
            else UNSET
        ),
        storage_kwh=(
            quantity(fields["storage_kwh"], "storage_kwh") if "storage_kwh" in sent else UNSET
        ),
        annual_use_kwh=(
            quantity(fields["annual_use_kwh"], "annual_use_kwh")
            if "annual_use_kwh" in sent
            else UNSET
        ),
        load_profile=(
            choice(fields["load_profile"], "load_profile", LoadProfile)
            if "load_profile" in sent
            else UNSET
        ),
        technology=(  # a form's empty select leaves it as it is
            UNSET
            if blank(fields.get("technology"))
            else choice(fields["technology"], "technology", Technology)
        ),
        active=flag(fields["active"], "active") if "active" in sent else UNSET,
    )
