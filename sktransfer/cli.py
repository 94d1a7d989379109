"""The ``sktransfer`` command line."""

from __future__ import annotations

import argparse
import fnmatch
import sys

from . import backbones


def _backbones(args):
    names = backbones.list(modality=args.modality)
    if args.pattern:
        names = [n for n in names if fnmatch.fnmatch(n.lower(), args.pattern.lower())]
    if not names:
        print("no backbones match", file=sys.stderr)
        return 1
    specs = [backbones.get(name) for name in names]
    width = max(len(name) for name in names)
    for name, spec in zip(names, specs):
        line = f"{name:<{width}}  {spec.modality:<5}  {spec.description}"
        if args.details:
            line += f"  [dim {spec.feature_dim}, groups: {', '.join(spec.layer_groups)}]"
        print(line)
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="sktransfer", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("backbones", help="list the registered backbones")
    listing.add_argument(
        "pattern", nargs="?", help="only names matching this shell pattern, e.g. 'resnet*'"
    )
    listing.add_argument(
        "--modality", choices=["image", "text", "words"], help="only this modality"
    )
    listing.add_argument(
        "--details",
        action="store_true",
        help="also show feature dimension and layer groups (builds each architecture, slow)",
    )
    listing.set_defaults(run=_backbones)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
