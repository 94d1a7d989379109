"""The ``sktransfer`` command line."""

from __future__ import annotations

import argparse
import sys

from . import backbones


def _backbones(args):
    specs = backbones.specs(modality=args.modality)
    if not specs:
        print("no backbones registered" + (f" for modality {args.modality!r}" if args.modality else ""))
        return 1
    names = backbones.list(modality=args.modality)
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
    listing.add_argument("--modality", choices=["image", "text", "words"], help="only this modality")
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
