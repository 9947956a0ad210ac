"""Run the Pulumi program offline under mocks and write what it would deploy (see synth.py)."""
