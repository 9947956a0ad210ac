"""The ngx-monitoring policy pack: `policies/` holds the checks (pure, one module per theme, the pack
assembled in its `__init__.py`), `adapters.py` wraps them for the Pulumi policy engine, `__main__.py`
is what `pulumi preview --policy-pack policy` runs, and `offline.py` runs the same checks over synth's
output without the Pulumi CLI."""
