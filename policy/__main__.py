"""The policy pack `pulumi preview --policy-pack policy` runs (the engine runs this directory)."""

import adapters
import policies
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(
    name="ngx-monitoring",
    # Every invariant blocks: a preview reports all violations, an update stops at the first.
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=adapters.build(policies.POLICIES, policies.DEFAULT_CONFIG, policies.CONFIG_SCHEMA, policies.Resource, policies.UNKNOWN),
)
