"""Members, API tokens, the audit log; who acts and what they may do."""

# The hooks that bump a member's `credential_version` must be in place whenever members are
# stored, whoever stores them (pages, API, CLI commands): loaded with the package.
from market.access import credentials as _credentials  # noqa: F401
