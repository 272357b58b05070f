"""Metering point codes (kod PPE): 18-digit GS1 GSRN with a mod-10 check digit.

The check digit is GS1 mod 10 over the first 17 digits, weighting 3, 1, 3, 1, … starting from
the rightmost of them: check = (10 − sum mod 10) mod 10.
"""

from __future__ import annotations

from market.core.errors import ValidationFailed

PPE_LENGTH = 18

#: GS1 company prefixes of the Polish distribution operators.
DSO_PREFIXES: dict[str, str] = {
    "5905435": "PGE Dystrybucja",
    "5902438": "Energa-Operator",
    "5903106": "Enea Operator",
    "5903224": "Tauron Dystrybucja",
    "5903801": "Stoen Operator",
}


def check_digit(first17: str) -> int:
    """GS1 mod-10 check digit of the first 17 digits of a GSRN."""
    if len(first17) != PPE_LENGTH - 1 or not first17.isascii() or not first17.isdigit():
        raise ValueError("expected exactly 17 digits")
    total = 0
    for pos, ch in enumerate(reversed(first17)):
        total += int(ch) * (3 if pos % 2 == 0 else 1)
    return (10 - total % 10) % 10


def normalise_ppe(code: str) -> str:
    """Drop spaces and dashes people type between digit groups."""
    return "".join(code.split()).replace("-", "")


def validate_ppe(code: str, field: str = "ppe_code") -> str:
    """Return the normalised code or raise `ValidationFailed` naming the rule broken."""
    value = normalise_ppe(code)
    if not value:
        raise ValidationFailed(field, "required: an 18-digit PPE code (GS1 GSRN)")
    if not value.isascii() or not value.isdigit():
        raise ValidationFailed(field, "a PPE code has digits only (18 digits, GS1 GSRN)")
    if len(value) != PPE_LENGTH:
        raise ValidationFailed(
            field,
            "a PPE code has exactly 18 digits (got %(length)s); a meter serial is not one",
            length=len(value),
        )
    expected = check_digit(value[:17])
    if int(value[17]) != expected:
        raise ValidationFailed(
            field,
            "invalid check digit: the last digit should be %(expected)s (GS1 mod 10); "
            "check the code on the bill",
            expected=expected,
        )
    return value


def is_valid_ppe(code: str) -> bool:
    try:
        validate_ppe(code)
    except ValidationFailed:
        return False
    return True


def make_ppe(prefix: str, serial: int) -> str:
    """Build a valid PPE code from a 7-digit operator prefix and a 10-digit serial number."""
    if len(prefix) != 7 or not prefix.isdigit() or not 0 <= serial < 10**10:
        raise ValueError("prefix must be 7 digits and serial fit in 10 digits")
    body = f"{prefix}{serial:010d}"
    return f"{body}{check_digit(body)}"


def operator_of(code: str) -> str | None:
    """The distribution operator a valid code's prefix belongs to, if known."""
    return DSO_PREFIXES.get(normalise_ppe(code)[:7])
