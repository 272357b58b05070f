"""The interface every export format implements, and the registry that lists them.

A format is an `Encoder`: its name (the `--format` and `format=` value), a label for the
distributor page, its media type and file extension, whether one file holds several tables,
and `write`, which turns a `Document` (metadata, table specs, and the rows of each table as
batches read from the database) into byte chunks. The command line, the distributor page and
the API offer whatever `market.export.formats.registry.FORMATS` holds; nothing outside the
format's module names a format.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from market.core.errors import ValidationFailed
from market.export.tables import TableSpec
from market.export.writers import CsvDialect, Row

#: The rows of one table, in batches, as the database yields them.
Batches = Callable[[TableSpec], AsyncIterator[Sequence[Row]]]


@dataclass(frozen=True, slots=True)
class Document:
    """What an encoder writes: the export's metadata and its tables, in order."""

    meta: Mapping[str, Any]
    tables: tuple[TableSpec, ...]
    batches: Batches
    #: Text options (separator, decimal comma, BOM); formats without text cells ignore it.
    dialect: CsvDialect


@dataclass(frozen=True, slots=True)
class Encoder:
    """One export format."""

    name: str
    label: str
    media_type: str
    extension: str
    #: True: one file holds every table asked for; False: one table per file.
    multi_table: bool
    #: The document as byte chunks, produced while the database is read.
    write: Callable[[Document], AsyncIterator[bytes]]
    #: Most rows a web download may hold (None: streamed, any size).
    web_max_rows: int | None = None


class Registry:
    """The formats on offer, in the order they are shown; the first is the default."""

    def __init__(self, *encoders: Encoder) -> None:
        self._encoders: dict[str, Encoder] = {}
        for encoder in encoders:
            self.register(encoder)

    def register(self, encoder: Encoder) -> Encoder:
        if encoder.name in self._encoders:
            raise ValueError(f"an export format named {encoder.name!r} is registered already")
        self._encoders[encoder.name] = encoder
        return encoder

    def unregister(self, name: str) -> None:
        self._encoders.pop(name, None)

    def get(self, name: str) -> Encoder:
        """The encoder named `name`; `ValidationFailed` on the `format` field otherwise."""
        try:
            return self._encoders[name]
        except KeyError:
            raise ValidationFailed(
                "format",
                "unknown format %(value)s; use one of %(choices)s",
                value=name,
                choices=", ".join(self.names()),
            ) from None

    def names(self) -> tuple[str, ...]:
        return tuple(self._encoders)

    @property
    def default(self) -> Encoder:
        return next(iter(self._encoders.values()))

    def __iter__(self) -> Iterator[Encoder]:
        return iter(tuple(self._encoders.values()))
