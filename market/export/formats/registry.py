"""The export formats on offer. A new format is a module in this package defining an
`ENCODER`, named once here (explicitly, not discovered: what the app serves is written down).
"""

from __future__ import annotations

from market.export.formats import csv, json, xlsx
from market.export.formats.encoder import Registry

#: CSV first: the default of the command line, the page and the API.
FORMATS = Registry(csv.ENCODER, json.ENCODER, xlsx.ENCODER)
