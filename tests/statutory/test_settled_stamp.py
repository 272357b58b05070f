"""The settled days' stamps are the same in every process: the rule set holds sets of
strings, whose iteration order (and so `repr`) changes with the interpreter's hash seed, so
a stamp built on `repr` made every new process compute every statutory day again."""

from __future__ import annotations

import os
import subprocess
import sys

CODE = (
    "from market.statutory.rules import RULES; from market.settlement.stored import stable_repr; "
    "print(stable_repr(RULES))"
)


def test_the_rule_set_is_stamped_alike_under_any_hash_seed() -> None:
    seen = {
        subprocess.run(
            [sys.executable, "-c", CODE],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in (1, 2, 3, 4)
    }
    assert len(seen) == 1 and "RuleSet(" in next(iter(seen))
