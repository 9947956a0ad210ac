"""Synthesise a stack offline: `python synth.py --stack dev --out build/dev`.

Runs __main__.py under Pulumi mocks with the stack's configuration (no Pulumi CLI, cloud or
credentials needed) and writes every resource, every rendered file and, for Kubernetes, every
manifest. Invalid settings exit with status 2 and one line naming the key.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from alerting.inhibition_order import late_inhibitors
from alerting.routing import unrouted_receivers
from synthesis.run import add_stack_arguments, synth_or_report, write


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_stack_arguments(parser)
    parser.add_argument("--out", type=Path, help="output directory (replaced); omit to only validate")
    args = parser.parse_args(argv)
    result = synth_or_report(args)
    if result is None:
        return 2
    if result.placeholders:
        print(f"synth: placeholders stand in for credentials that are encrypted or unset: {', '.join(result.placeholders)}")
    estimate = result.program["estimate"]  # the program's own, as it exports it
    print(f"synth: capacity: {estimate.summary()}")
    for finding in estimate.findings:
        print(f"synth: warning: ngx-monitoring:{finding.key}: {finding.message}")
    unrouted = unrouted_receivers(result.settings)
    if unrouted:
        print(f"synth: warning: ngx-monitoring:receivers: alerts routed to {', '.join(unrouted)} notify nobody; configure their integrations under receivers")
    for line in late_inhibitors(result.settings):
        print(f"synth: warning: ngx-monitoring:alerting.routes.oncallPager.groupWait: {line}")
    if args.out:
        if args.out.exists():
            shutil.rmtree(args.out)
        written = write(result, args.out)
        print(f"synth: {args.stack}: {len(result.resources)} resources, {len(result.files)} files, {len(written)} paths written to {args.out}")
    else:
        print(f"synth: {args.stack}: {len(result.resources)} resources, {len(result.files)} files (nothing written: no --out)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
