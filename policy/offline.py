"""Run the policy pack over a stack synthesised offline: `python -m policy.offline --stack dev`.

The same checks `pulumi preview --policy-pack policy` runs, over the resources synth records (no
Pulumi CLI, cloud or credentials needed), so CI and forks get the verdict too. Exit status 1 when a
policy is violated, 2 when the stack does not synthesise.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from policy.policies import POLICIES, Resource, Violation, evaluate


def stack_resources(result) -> list[Resource]:
    """synth's records as the engine would hand them to the pack: inputs with secrets revealed."""
    from synthesis.run import unwrap

    return [Resource(r.type, r.name, unwrap(r.inputs), dict(r.options)) for r in result.resources]


def stack_config(result) -> dict[str, str]:
    """The pack configuration that matches the stack's own settings."""
    from topology import ENTRYPOINT

    return {"entrypoint": ENTRYPOINT, "hostAccessNamespace": result.settings.kubernetes.host_namespace}


def check_stack(result) -> list[Violation]:
    return evaluate(stack_resources(result), stack_config(result))


def report(stack: str, violations: Sequence[Violation], resources: int) -> str:
    lines = [f"policy: {stack}: {resources} resources, {len(POLICIES)} policies, {len(violations)} violation(s)"]
    lines += [f"  {violation}" for violation in violations]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    from synthesis.run import add_stack_arguments, synth_or_report

    add_stack_arguments(parser)
    args = parser.parse_args(argv)
    result = synth_or_report(args)
    if result is None:
        return 2
    violations = check_stack(result)
    print(report(args.stack, violations, len(result.resources)))
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
