"""The coordinator's services in one place (what `web/` imports): members and metering
points (`market.members`), the network and market parameters (`market.grid`).

Writes need the coordinator role; reads also allow the distributor. Every rejection names
the field and the rule; a rejected request changes nothing (one transaction per call).
"""

from __future__ import annotations

from market.grid import (
    GridConnectionView,
    LineView,
    NetworkView,
    NodeView,
    ParametersView,
    create_line,
    create_node,
    get_parameters,
    list_network,
    set_grid_connection,
    update_line,
    update_node,
    update_parameters,
)
from market.members import (
    MemberView,
    MeteringPointView,
    create_member,
    create_metering_point,
    deactivate_member,
    deactivate_metering_point,
    list_members,
    list_metering_points,
    update_member,
    update_metering_point,
)

__all__ = [
    "GridConnectionView",
    "LineView",
    "MemberView",
    "MeteringPointView",
    "NetworkView",
    "NodeView",
    "ParametersView",
    "create_line",
    "create_member",
    "create_metering_point",
    "create_node",
    "deactivate_member",
    "deactivate_metering_point",
    "get_parameters",
    "list_members",
    "list_metering_points",
    "list_network",
    "set_grid_connection",
    "update_line",
    "update_member",
    "update_metering_point",
    "update_node",
    "update_parameters",
]
