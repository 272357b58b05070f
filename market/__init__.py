"""Klaster's market domain: members, metering points, network, intervals, orders, clearing
runs, settlement and exports. Depends on `matching`, never on `web`."""
