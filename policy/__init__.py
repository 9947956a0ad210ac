"""The ngx-monitoring policy pack: `policies.py` holds the checks (pure), `adapters.py` wraps them for
the Pulumi policy engine, `__main__.py` is what `pulumi preview --policy-pack policy` runs, and
`offline.py` runs the same checks over synth's output without the Pulumi CLI."""
