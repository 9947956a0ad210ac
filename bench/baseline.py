"""The rule set a change is measured against: the dev stack's rule files rendered from another commit.

The rule evaluation part evaluates these groups on the same TSDB as the current ones, so "before" and
"after" come from one run on one machine. The default is the last commit before issue 18 restructured
the rules (an alert in the group of its recordings, each raw API series read once): its rules read only
series the current rules still record, under the same names, so every one of its queries is answered.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from synthesis.diff import render_ref

# The rules before issue 18 (main at 5381d13); `--baseline-ref` picks another commit, `--baseline-ref ''` none.
DEFAULT_REF = "5381d13"


def rule_files_at(ref: str, stack: str = "dev") -> dict[str, str]:
    """'prometheus/rules/<file>' -> text of the stack's rule files at `ref`, as synth.py of that tree writes them."""
    with tempfile.TemporaryDirectory(prefix="bench-baseline-") as temporary:
        out = Path(temporary) / stack
        if not render_ref(ref, stack, out):
            raise ValueError(f"stack {stack} does not exist at {ref}")
        rules = out / "files" / "prometheus" / "rules"
        return {f"prometheus/rules/{path.name}": path.read_text() for path in sorted(rules.glob("*.yml"))}
