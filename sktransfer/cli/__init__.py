"""The ``sktransfer`` command line."""

from __future__ import annotations

import argparse
import contextlib
import sys
import textwrap

from .. import backbones
from ..encoders import ENCODERS
from ..ranking import SCORERS
from ._encode import FORMATS


def _backbones(args):
    import json

    from ._listing import rows, select, table

    # Looked up now, not at import, so that a test can list another registry.
    shown, hidden = select(
        backbones.REGISTRY, modality=args.modality, pattern=args.pattern, everything=args.all
    )
    kind = f"{args.modality} backbone" if args.modality else "backbone"
    left_out = (
        f"{hidden:,} {kind}{'s' * (hidden != 1)} not listed: their default weights are not "
        "on disk (--all lists them)"
    )
    if not shown:
        if hidden:
            matching = f" match {args.pattern!r}" if args.pattern else ""
            print(f"no {kind}s usable now{matching}; {left_out}", file=sys.stderr)
        elif args.pattern:
            print(
                f"no {kind}s match {args.pattern!r} (see 'sktransfer backbones')", file=sys.stderr
            )
        else:
            print(f"no {kind}s registered (see 'sktransfer backbones')", file=sys.stderr)
        return 1
    listed = rows(shown, details=args.details)
    print(json.dumps(listed, indent=2) if args.json else table(listed))
    if hidden:  # on stderr: stdout stays the table or the JSON alone
        print(left_out, file=sys.stderr)
    return 0


def _cache_info(args):
    from ..cache import EmbeddingCache

    cache = EmbeddingCache(args.dir)
    entries = cache.info()
    print(f"{cache.path}: {len(entries)} encoder fingerprints, {_size(cache.volume())} on disk")
    for entry in entries:
        described = ", ".join(
            f"{k}={entry[k]}"
            for k in ("backbone", "model", "vectors", "pooling", "layer", "precision")
            if entry.get(k) is not None
        )
        print(
            f"  {entry['fingerprint'][:12]}  {entry.get('encoder', '?'):<17} "
            f"{entry['entries']:>8} samples  {_size(entry['bytes']):>9}  {described}"
        )
    return 0


def _cache_clear(args):
    from ..cache import EmbeddingCache

    cache = EmbeddingCache(args.dir)
    if not args.fingerprint:
        print(f"removed {cache.clear()} entries from {cache.path}")
        return 0
    fingerprints = [entry["fingerprint"] for entry in cache.info()]
    matches = [f for f in fingerprints if f.startswith(args.fingerprint)]
    if len(matches) != 1:
        problem = "no fingerprint starts" if not matches else f"{len(matches)} fingerprints start"
        print(f"{problem} with {args.fingerprint!r} (see 'sktransfer cache info')", file=sys.stderr)
        return 1
    print(f"removed {cache.clear(matches[0])} entries from {cache.path}")
    return 0


def _run(args):
    from ..spec import load_spec, run

    spec = load_spec(args.spec)
    # Standard output carries the results only: what the fits print is progress.
    with contextlib.redirect_stdout(sys.stderr):
        report = run(
            spec,
            output_dir=args.out,
            progress=not args.quiet,
            verbose=args.verbose,
            log=None if args.quiet else lambda line: print(line, file=sys.stderr),
            scheduler=args.scheduler,
            dry_run=args.dry_run,
        )
    if args.dry_run:
        return 0
    print(metrics_table(report))
    for failure in report["errors"]:
        print(f"sktransfer run: error in {failure['stage']}: {failure['error']}", file=sys.stderr)
    return 1 if report["errors"] else 0


def _rank_command(args):
    from ..spec import load_rank_spec, rank, ranking_table

    spec = load_rank_spec(args.spec)
    with contextlib.redirect_stdout(sys.stderr):  # standard output: the table only
        report = rank(
            spec,
            output_dir=args.out,
            scorer=args.scorer,
            progress=not args.quiet,
            log=None if args.quiet else lambda line: print(line, file=sys.stderr),
            scheduler=args.scheduler,
        )
    print(ranking_table(report))
    return 0


def metrics_table(report):
    """The metrics of a run's report against its baseline, on the target domain's samples
    where it has them, and its note, as plain text."""
    baseline = report.get("baseline")
    target = report.get("target") or {}
    columns = [("model", report["metrics"])]
    if baseline:
        columns.append((f"baseline ({baseline['name']})", baseline["metrics"]))
    if target:
        columns.append((f"target (adapt={target['adapt']!r})", target["metrics"]))
    if target.get("without_adaptation"):
        columns.append(("target (adapt='none')", target["without_adaptation"]["metrics"]))
    header = ["metric", *(name for name, _ in columns)]
    rows = [header]
    names = list(report["metrics"]) or list((baseline or {}).get("metrics", {}))
    for name in names:
        rows.append([name, *(f"{c[name]:.4f}" if name in c else "failed" for _, c in columns)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows
    ]
    if report.get("note"):
        lines += ["", textwrap.fill(report["note"], 88)]
    return "\n".join([f"{report['name']}: {report['pipeline']}", *lines])


def _predict_command(args):
    from ._predict import load_model, predictions, read_inputs

    saved = load_model(args.model, trusted=args.trust)
    X, names = read_inputs(args.inputs, saved["input"], lines=args.lines)
    table = predictions(saved, X, names)
    if args.out:
        table.to_csv(args.out, index=False)
        print(f"wrote {len(table)} predictions to {args.out}", file=sys.stderr)
    else:
        table.to_csv(sys.stdout, index=False)
    return 0


def _encode_command(args):
    from .. import cluster
    from ._encode import encode_files, make_encoder, read_inputs

    encoder, modality = make_encoder(
        args.backbone, modality=args.modality, batch_size=args.batch_size
    )
    samples = read_inputs(args.inputs, modality, column=args.column, lines=args.lines)
    with cluster.connected(args.scheduler) as client:
        print(
            f"encoding {len(samples)} samples with {encoder!r} on the Dask cluster at "
            f"{client.scheduler.address} ({client.dashboard_link})",
            file=sys.stderr,
        )
        written = encode_files(
            encoder,
            samples,
            args.out,
            client=client,
            partition_size=args.partition_size,
            file_format=args.format,
            progress=not args.quiet,
        )
    print(f"wrote {len(written)} files in {args.out}", file=sys.stderr)
    return 0


def _demo_command(args):
    from ._demo import main as run_demo

    return run_demo(quick=args.quick, draws=args.draws, out=args.out)


def _size(n_bytes):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n_bytes < 1024 or unit == "GiB":
            return f"{n_bytes:.0f} {unit}" if unit == "B" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1024


def build_parser():
    parser = argparse.ArgumentParser(prog="sktransfer", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser(
        "backbones",
        help="list the backbones usable now (--all: every registered one)",
        description="One row per backbone usable now: those whose default pre-trained "
        "weights are on this machine (packaged, or in a cache), those that need none, and "
        "every backbone a plugin provides. The zoos downloaded on demand (torchvision's and "
        "timm's tags, sentence-transformers and gensim-data models) list only the members "
        "already on disk (stderr says how many were left out); --all lists every registered "
        "backbone. A row gives the name (namespace/name where two sources share it), "
        "modality, feature dimension (DIM), whether the default weights are on disk (ON "
        "DISK: yes, no, or - where it has none; checked without any download) and the "
        "plugin or built-in family that provides it (PROVIDER). DIM is '?' where knowing it "
        "takes building the architecture (timm's tags): --details builds it.",
    )
    listing.add_argument(
        "pattern",
        nargs="?",
        help="only names matching this shell pattern: 'resnet*', or qualified 'timm/*'",
    )
    listing.add_argument(
        "--modality", choices=["image", "text", "words"], help="only this modality"
    )
    listing.add_argument(
        "--all",
        action="store_true",
        help="every registered backbone, including those whose weights would be downloaded "
        "(about 1,900 with the sktransfer-timm plugin)",
    )
    listing.add_argument(
        "--details",
        action="store_true",
        help="also the layer groups, and the dimensions shown as '?' (builds each such "
        "architecture on the meta device: slow, narrow it with a pattern)",
    )
    listing.add_argument(
        "--json",
        action="store_true",
        help="a JSON list of objects instead: name, qualified_name, modality, feature_dim, "
        "weights_on_disk, provider, description (null where unknown or none), and "
        "layer_groups with --details",
    )
    listing.set_defaults(run=_backbones)

    cache = commands.add_parser("cache", help="the embedding cache: what it holds, or clear it")
    actions = cache.add_subparsers(dest="action", required=True)
    info = actions.add_parser("info", help="size, and samples per encoder fingerprint")
    clear = actions.add_parser("clear", help="remove every entry, or one fingerprint's")
    clear.add_argument(
        "fingerprint", nargs="?", help="only this fingerprint, or its first characters ('info')"
    )
    for action, run in ((info, _cache_info), (clear, _cache_clear)):
        action.add_argument(
            "--dir", help="the cache directory (default: embeddings under $SKTRANSFER_HOME)"
        )
        action.set_defaults(run=run)

    running = commands.add_parser(
        "run", help="run the experiment a YAML spec describes, print its metrics"
    )
    running.add_argument("spec", help="the YAML spec file (see examples/specs/*.yaml)")
    running.add_argument("--out", help="write the model and reports here (default: output.dir)")
    running.add_argument(
        "--quiet", action="store_true", help="no progress on standard error, only the metrics"
    )
    running.add_argument(
        "--verbose",
        action="store_true",
        help="also the encoders' progress bars and the fine-tuners' epoch tables",
    )
    running.add_argument(
        "--dry-run",
        action="store_true",
        help="check the spec and every input, print the number of fits and a rough time; "
        "fit nothing",
    )
    running.add_argument(
        "--scheduler",
        help="run the search on this Dask cluster: an address (tcp://host:8786), or 'local' "
        "for worker processes on this machine (overrides the spec's search.scheduler)",
    )
    running.set_defaults(run=_run)

    ranking = commands.add_parser(
        "rank",
        help="score the candidates a YAML spec lists on its data, before training anything",
        description="Encode the spec's training samples with every candidate and score the "
        "features against the labels (higher is better); print the table, best first, the "
        "chosen one marked. The spec has data: (as for run) and candidates: (backbone "
        "names, estimators such as {ImageEncoder: {layer: blocks.4}}, {layers_of: NAME}); "
        "rank: {scorer: logme, cache: DIR} is optional. With an output folder: "
        "ranking.csv, ranking.json and ranking.png.",
    )
    ranking.add_argument("spec", help="the YAML spec file (data: and candidates:)")
    ranking.add_argument("--out", help="write the table and chart here (default: output.dir)")
    ranking.add_argument(
        "--scorer", choices=sorted(SCORERS), help="instead of the spec's rank.scorer"
    )
    ranking.add_argument(
        "--quiet", action="store_true", help="no progress on standard error, only the table"
    )
    ranking.add_argument(
        "--scheduler",
        help="score the candidates on this Dask cluster, one task each: its address "
        "(tcp://host:8786) or 'local' for worker processes here (overrides rank.scheduler)",
    )
    ranking.set_defaults(run=_rank_command)

    encoding = commands.add_parser(
        "encode",
        help="encode many images or texts on a Dask cluster; feature files out",
        description="Encode every input with a pre-trained backbone on a Dask cluster and "
        "write the features, one file per partition in input order: part-NNNNN.npy "
        "(float32 rows) with inputs.json, or part-NNNNN.parquet (an 'input' column and "
        "one column per feature); encoder.json says what encoded them. The model is "
        "loaded here and sent to each worker once: workers need sktransfer, not the "
        "weights.",
    )
    encoding.add_argument(
        "inputs",
        nargs="+",
        help="images: files, folders, or CSV files of paths (relative to the CSV); "
        "texts: text files (one text each, or one per line with --lines), folders of .txt "
        "files, or CSV files",
    )
    encoding.add_argument("--backbone", required=True, help="a name from 'sktransfer backbones'")
    encoding.add_argument("--out", required=True, help="the folder to write the features to")
    encoding.add_argument(
        "--scheduler",
        default="local",
        help="a Dask scheduler's address (tcp://host:8786), or 'local' (default) for worker "
        "processes on this machine",
    )
    encoding.add_argument(
        "--modality",
        choices=sorted(ENCODERS),
        help="what the backbone reads, for one that is not registered (a path, a Hub name)",
    )
    encoding.add_argument("--column", help="the CSV column to read (when there are several)")
    encoding.add_argument(
        "--format", choices=FORMATS, default="npy", help="the feature files (default: npy)"
    )
    encoding.add_argument(
        "--partition-size", type=int, default=256, help="samples per task (default: 256)"
    )
    encoding.add_argument("--batch-size", type=int, help="samples per forward pass")
    encoding.add_argument("--quiet", action="store_true", help="no progress bar")
    encoding.set_defaults(run=_encode_command)

    predicting = commands.add_parser(
        "predict", help="predict with a model that 'sktransfer run' saved; CSV out"
    )
    predicting.add_argument(
        "model",
        help="the model file: model.skops (safe to load), or a joblib pickle (model.joblib, "
        "runs code: only files you trust)",
    )
    predicting.add_argument(
        "--trust",
        action="append",
        default=[],
        metavar="TYPE",
        help="a type the .skops file may construct beyond sktransfer's, scikit-learn's and "
        "numpy's (repeat for several); the error of a file that needs one lists them",
    )
    predicting.add_argument(
        "inputs", nargs="+", help="image or text files, folders of them, or CSV files"
    )
    predicting.add_argument("--out", help="the CSV file to write (default: standard output)")
    for command in (encoding, predicting):
        command.add_argument(
            "--lines",
            action="store_true",
            help="text files hold one text per non-empty line (default: one text per file)",
        )
    predicting.set_defaults(run=_predict_command)

    demo = commands.add_parser(
        "demo", help="few-shot transfer against baselines, on packaged images and texts"
    )
    demo.add_argument("--quick", action="store_true", help="a one-minute version")
    demo.add_argument("--draws", type=int, help="random draws of the labelled set (default 3)")
    demo.add_argument("--out", default="sktransfer-demo", help="where the reports go")
    demo.set_defaults(run=_demo_command)

    for command in commands.choices.values():
        command.add_argument(
            "--debug", action="store_true", help="show the full traceback of an error"
        )
    return parser


def main(argv=None):
    """Run a command; exit status 0 when it worked, 2 for a usage or spec error, 1 otherwise."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        from ..exceptions import SpecError

        print(f"sktransfer {args.command}: error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, SpecError) else 1


if __name__ == "__main__":
    sys.exit(main())
