"""The pack's checks (policies/, pure) wrapped as pulumi-policy policies.

The engine hands a policy proxies that raise on values unknown during preview; `plain()` copies
them into ordinary dicts and lists with `UNKNOWN` in those places, so a check judges everything it
can see instead of giving up on the whole resource. Takes the checks as an argument (no import of
policies/) so it works both as part of the `policy` package and from the pack's own directory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

# Not re-exported by the package, but it is what the proxies raise (pulumi_policy/proxy.py).
from pulumi_policy.proxy import UnknownValueError


def plain(value: Any, unknown: Any) -> Any:
    if isinstance(value, Mapping):
        copied = {}
        for key in value:
            try:
                copied[key] = plain(value[key], unknown)
            except UnknownValueError:
                copied[key] = unknown
        return copied
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        items = []
        for index in range(len(value)):
            try:
                items.append(plain(value[index], unknown))
            except UnknownValueError:
                items.append(unknown)
        return items
    return value


def options_of(opts: Any) -> dict[str, Any]:
    """The engine's resource options in the shape synth records them (it has no retainOnDelete)."""
    if opts is None:
        return {}
    return {
        "protect": bool(opts.protect),
        "ignoreChanges": list(opts.ignore_changes or []),
        "deleteBeforeReplace": opts.delete_before_replace,
        "parent": opts.parent,
    }


def build(
    policies: Sequence[Any],
    defaults: Mapping[str, Any],
    schema: Mapping[str, Mapping[str, Any]],
    resource_type: type,
    unknown: Any,
    enforcement_level: EnforcementLevel = EnforcementLevel.MANDATORY,
) -> list:
    """One pulumi-policy policy per check. `resource_type` is policies.Resource, `unknown` policies.UNKNOWN."""
    config_schema = PolicyConfigSchema(properties={key: dict(value) for key, value in schema.items()})
    built = []
    for policy in policies:
        common = dict(
            name=policy.name,
            description=policy.description,
            enforcement_level=enforcement_level,
            config_schema=config_schema,
            remediation_steps=policy.remediation,
        )
        if policy.scope == "resource":
            built.append(ResourceValidationPolicy(validate=_resource_validation(policy.check, defaults, unknown), **common))
        else:
            built.append(StackValidationPolicy(validate=_stack_validation(policy.check, defaults, resource_type, unknown), **common))
    return built


def _config(args: Any, defaults: Mapping[str, Any]) -> dict[str, Any]:
    return {**defaults, **dict(args.get_config() or {})}


def _resource_validation(check, defaults, unknown):
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        props = plain(args.props, unknown)
        for message in check(args.resource_type, props, options_of(args.opts), _config(args, defaults)):
            report_violation(message, None)

    return validate


def _stack_validation(check, defaults, resource_type, unknown):
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [resource_type(r.resource_type, r.name, plain(r.props, unknown), options_of(r.opts), r.urn) for r in args.resources]
        for resource, message in check(resources, _config(args, defaults)):
            report_violation(message, resource.urn if resource is not None else None)

    return validate
