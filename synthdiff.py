"""What a change would deploy, offline: `python synthdiff.py --stack dev --diff origin/main`.

Synthesises the stack twice, from this working tree and from the tree at a git ref (each with its
own synth.py, under mocks: no Pulumi CLI, cloud or credentials), and prints what differs: resources
added, removed and changed (with the input paths that changed), then a unified diff of every
rendered file. Secrets are already redacted by synth ("[secret]"); bcrypt hashes and private keys in
files are replaced by a fingerprint, so a rotated credential still shows as changed.

The comparison is by meaning, so nothing shows up that did not change: YAML and JSON are compared
as data (key order and comments ignored, shown with sorted keys), durations are compared by length
(`60s` equals `1m`; shown in canonical form such as `1m30s` or `30d`), lists Docker treats as sets
(env, labels, mounts, uploads, ...) are compared in sorted order, and files held in resources
(ConfigMap data, Docker uploads) are compared like the rendered files.

Exit status: 0 (with or without differences; `--exit-code` makes differences 1, like git diff),
2 when either tree does not synthesise.
"""

from __future__ import annotations

import argparse
import sys

from synthesis.diff import DiffError, diff_stack, format_markdown, format_text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", action="append", required=True, help="stack to compare (repeat for several)")
    parser.add_argument("--diff", required=True, metavar="BASE_REF", help="git ref to compare the working tree with, e.g. origin/main")
    parser.add_argument("--format", choices=("text", "markdown"), default="text")
    parser.add_argument("--exit-code", action="store_true", help="exit 1 when anything differs")
    args = parser.parse_args(argv)
    formatter = format_markdown if args.format == "markdown" else format_text
    reports, changed = [], False
    for stack in args.stack:
        try:
            diff = diff_stack(stack, args.diff)
        except DiffError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        changed |= not diff.empty
        reports.append(formatter(diff))
    print("\n\n".join(reports))
    return 1 if args.exit_code and changed else 0


if __name__ == "__main__":
    sys.exit(main())
