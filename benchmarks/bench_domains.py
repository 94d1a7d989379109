"""Does adaptation pay on a domain shift? Source-only, each adapt value, skada's adapters.

Fashion-MNIST: a labelled source draw (``--per-class`` per class, the train split),
as many unlabelled target images (other train images, shifted by
``sktransfer.datasets.shift_images``), and a fixed target test set (the test split,
shifted the same way, 50 per class), never used to choose anything. Shifts:
"inverted", "textured", and the "none" control (same domain).

Contenders, each on the same draws:

- probe, source only: EfficientNet-Lite0 features, StandardScaler, LogisticRegression;
- skada's CORAL, subspace alignment and linear OT (after PCA to 50) on those features;
- the probe on ``ImageEncoder(adapt_bn=True)``'s features (AdaBN, each domain's
  BatchNorm statistics its own);
- the fine-tuner (LP-FT, the image recipe) with ``adapt`` "none" (source only),
  "adabn", "coral", "dann" and "entropy", the target images unlabelled;
- the probe trained on labelled target images (as many): the upper bound.

Per task: mean ± std over the draws. Then the choice among the fine-tuner's ``adapt``
values without a target label against the choice by target test accuracy, for
each of: skada's ``PredictionEntropyScorer`` and ``SoftNeighborhoodDensity`` (the
unlabelled target images only), the accuracy on held-out labelled source images
(``--per-class // 2`` per class, never trained on), and skada's
``DeepEmbeddedValidation`` (those held-out source images, weighted by a domain
classifier on the fine-tuner's own features, and the unlabelled target images).

Run by hand, from the repository root, one at a time (each uses both cores)::

    python benchmarks/bench_domains.py --shifts inverted,textured,none --draws 3
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

SIZE = 64  # Lite0 at 64 px: a quarter of 112's cost, for 28-px images
ADAPTS = ("none", "adabn", "coral", "dann", "entropy")


def task(shift, per_class, seed):
    """Source (labelled), target (unlabelled) and target test images, RGB, and their labels."""
    from sktransfer.datasets import load_fashion_mnist, shift_images, stratified_sample

    X, y = load_fashion_mnist("train")
    X_test, y_test = load_fashion_mnist("test")
    source = stratified_sample(y, per_class, seed=seed)
    target = stratified_sample(y, per_class, seed=seed + 100, exclude=source)
    held_out = stratified_sample(
        y, max(1, per_class // 2), seed=seed + 200, exclude=np.r_[source, target]
    )
    test = stratified_sample(y_test, 50, seed=0)

    def rgb(images, shifted, noise_seed):
        out = shift_images(images, shift, seed=noise_seed) if shifted else images
        return out if out.ndim == 4 else np.repeat(out[..., None], 3, axis=3)

    return (
        rgb(X[source], False, 0), y[source], rgb(X[target], True, seed), y[target],
        rgb(X_test[test], True, 1000), y_test[test], rgb(X[held_out], False, 0), y[held_out],
    )  # fmt: skip


def probe():
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=0.05, max_iter=1000)


def feature_contenders(encoder, source, y_source, target, y_target, test, y_test):
    """Accuracy on the target test set of the probe, skada's adapters, the upper bound."""
    import skada
    from sklearn.base import clone
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = np.concatenate([source, target])
    y = np.r_[y_source, np.full(len(target), -1)]
    domain = np.r_[np.ones(len(source), int), np.full(len(target), -2)]
    pipelines = {
        "probe, source only": [],
        "skada CORAL": [skada.CORALAdapter()],
        "skada subspace alignment": [skada.SubspaceAlignmentAdapter(n_components=20)],
        "skada linear OT (PCA 50)": [PCA(50, random_state=0), skada.LinearOTMappingAdapter()],
    }
    scores = {}
    adabn = clone(encoder).set_params(adapt_bn=True)
    for name, steps in pipelines.items():
        model = skada.make_da_pipeline(encoder, StandardScaler(), *steps, probe())
        model.fit(X, y, sample_domain=domain)
        scores[name] = float(np.mean(model.predict(test) == y_test))
    model = skada.make_da_pipeline(adabn, StandardScaler(), probe())
    model.fit(X, y, sample_domain=domain)
    scores["probe on ImageEncoder(adapt_bn=True)"] = float(np.mean(model.predict(test) == y_test))
    upper = make_pipeline(encoder, StandardScaler(), probe()).fit(target, y_target)
    scores["probe on labelled target (upper bound)"] = float(np.mean(upper.predict(test) == y_test))
    return scores


SELECTORS = ("prediction entropy", "soft neighbourhood density", "source accuracy",
             "deep embedded validation")  # fmt: skip


def fine_tuned(source, y_source, target, test, y_test, held_out, y_held_out, seed, cache):
    """Target test accuracy of the fine-tuner for each adapt value, and what each selector
    makes of each, with no target label."""
    import skada
    from skada.metrics import (
        DeepEmbeddedValidation,
        PredictionEntropyScorer,
        SoftNeighborhoodDensity,
    )

    from sktransfer import FineTuneClassifier

    X = np.concatenate([source, target])
    domain = np.r_[np.ones(len(source), int), np.full(len(target), -2)]
    y = np.r_[y_source, np.full(len(target), -1)]
    # What the label-free selectors read: held-out labelled source images and the
    # unlabelled target ones.
    X_select = np.concatenate([held_out, target])
    y_select = np.r_[y_held_out, np.full(len(target), -1)]
    domain_select = np.r_[np.ones(len(held_out), int), np.full(len(target), -2)]
    accuracy, selected, seconds = {}, {name: {} for name in SELECTORS}, {}
    for adapt in ADAPTS:
        model = FineTuneClassifier(image_size=SIZE, adapt=adapt, validation=None,
                                   cache=cache, random_state=seed)  # fmt: skip
        pipeline = skada.make_da_pipeline(model.set_fit_request(sample_domain=True))
        started = time.perf_counter()
        pipeline.fit(X, y, sample_domain=domain)
        seconds[adapt] = time.perf_counter() - started
        accuracy[adapt] = float(np.mean(pipeline.predict(test) == y_test))
        # skada's scorers read the target samples (negative domain) without their labels.
        scorers = {
            "prediction entropy": PredictionEntropyScorer(),
            "soft neighbourhood density": SoftNeighborhoodDensity(),
            "deep embedded validation": DeepEmbeddedValidation(random_state=0),
        }
        for name, scorer in scorers.items():
            selected[name][adapt] = scorer(
                pipeline, X_select, y_select, sample_domain=domain_select
            )
        selected["source accuracy"][adapt] = float(
            np.mean(pipeline.predict(held_out) == y_held_out)
        )
    return accuracy, selected, seconds


def main(argv=None):
    import sklearn

    from sktransfer import ImageEncoder

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shifts", default="inverted,textured,none")
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--per-class", type=int, default=20)
    parser.add_argument("--cache", default="benchmarks/.cache")
    parser.add_argument(
        "--features-only", action="store_true", help="the contenders on features, no fine-tuning"
    )
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    sklearn.set_config(enable_metadata_routing=True)  # as importing skada does
    encoder = ImageEncoder(image_size=SIZE, cache=args.cache)
    for shift in args.shifts.split(","):
        results, times = {}, {a: [] for a in ADAPTS}
        choices = {name: {a: [] for a in ADAPTS} for name in SELECTORS}
        for seed in range(args.draws):
            source, y_source, target, y_target, test, y_test, held, y_held = task(
                shift, args.per_class, seed
            )
            scores = feature_contenders(encoder, source, y_source, target, y_target, test, y_test)
            if args.features_only:
                for name, score in scores.items():
                    results.setdefault(name, []).append(score)
                continue
            accuracy, selected, seconds = fine_tuned(source, y_source, target, test, y_test,
                                                     held, y_held, seed, args.cache)  # fmt: skip
            for adapt in ADAPTS:
                scores[f"fine-tuned, adapt={adapt!r}"] = accuracy[adapt]
                times[adapt].append(seconds[adapt])
                for name in SELECTORS:
                    choices[name][adapt].append(selected[name][adapt])
            for name, score in scores.items():
                results.setdefault(name, []).append(score)
            print(f"{shift}: draw {seed + 1}/{args.draws} done", flush=True)
        print(f"\n{shift}, {args.per_class} labelled source images per class, as many "
              f"unlabelled target ones, {args.draws} draws\n")  # fmt: skip
        print("| contender | target test accuracy |")
        print("| --- | ---: |")
        for name, scores in results.items():
            print(f"| {name} | {np.mean(scores):.3f} ± {np.std(scores):.3f} |")

        if args.features_only:
            continue
        accuracy = {a: np.mean(results[f"fine-tuned, adapt={a!r}"]) for a in ADAPTS}
        by_label = max(ADAPTS, key=accuracy.get)
        print(f"\nchosen with target labels: {by_label}. Without (greater is better for each):")
        for name in SELECTORS:
            chosen = max(ADAPTS, key=lambda a: np.mean(choices[name][a]))
            gap = accuracy[by_label] - accuracy[chosen]
            print(f"- {name}: {chosen}, {gap:.3f} below")
        print("Fit seconds per adapt: " + ", ".join(f"{a} {np.mean(times[a]):.0f}" for a in ADAPTS))


if __name__ == "__main__":
    main()
