"""Unsupervised transfer: pre-trained features for clustering and anomaly detection, no labels.

Fashion-MNIST images and BBC News articles are clustered with scikit-learn's
KMeans on pre-trained features and on what a model without transfer reads (raw
pixels, TF-IDF); the labels are used only to score the clusters (normalised
mutual information, adjusted Rand index). Then anomaly detection: one class of
images (or one topic) plays the anomalies among the others, scored by
IsolationForest and LocalOutlierFactor on the same representations (area under
the ROC curve).

Run: python examples/unsupervised.py [--per-class 50]
"""

import argparse

import numpy as np
from sklearn.cluster import KMeans
from sklearn.ensemble import IsolationForest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, roc_auc_score
from sklearn.neighbors import LocalOutlierFactor
from sklearn.preprocessing import StandardScaler

from sktransfer import ImageEncoder, PixelEncoder, SentenceEncoder, WordVectorEncoder, datasets


def representations(kind):
    """What each contender reads: pre-trained features against a representation without
    transfer."""
    if kind == "images":
        return {
            "raw pixels": PixelEncoder(),
            "EfficientNet-Lite0": ImageEncoder(image_size=112),
            "Lite0, three blocks": ImageEncoder(image_size=112,
                                                layer=["blocks.2", "blocks.4", "blocks.5"]),
        }  # fmt: skip
    return {
        "TF-IDF": TfidfVectorizer(sublinear_tf=True),
        "GloVe mean": WordVectorEncoder(),
        "MiniLM (whole articles)": SentenceEncoder(long_texts="windows"),
    }


def features(encoder, X):
    """Standardised dense features (TF-IDF's sparse rows made dense)."""
    out = encoder.fit_transform(X)
    out = out.toarray() if hasattr(out, "toarray") else out
    return StandardScaler().fit_transform(out)


def clustering(X, y, encoders, seed=0):
    """NMI and ARI of KMeans with as many clusters as classes, per representation."""
    scores = {}
    for name, encoder in encoders.items():
        found = KMeans(len(np.unique(y)), n_init=10, random_state=seed).fit_predict(
            features(encoder, X)
        )
        scores[name] = (normalized_mutual_info_score(y, found), adjusted_rand_score(y, found))
    return scores


def anomalies(X, is_anomaly, encoders, seed=0):
    """AUROC of IsolationForest and LocalOutlierFactor scores, per representation."""
    scores = {}
    for name, encoder in encoders.items():
        Z = features(encoder, X)
        forest = IsolationForest(random_state=seed).fit(Z)
        lof = LocalOutlierFactor(n_neighbors=20).fit(Z)
        scores[name] = (
            roc_auc_score(is_anomaly, -forest.score_samples(Z)),
            roc_auc_score(is_anomaly, -lof.negative_outlier_factor_),
        )
    return scores


def load(kind, per_class, seed=0):
    if kind == "images":
        X, y = datasets.load_fashion_mnist("test")
    else:
        X, y = datasets.load_bbc_news()
    keep = datasets.stratified_sample(y, per_class, seed=seed)
    return X[keep], y[keep]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=50)
    args = parser.parse_args()
    for kind in ("images", "texts"):
        X, y = load(kind, args.per_class)
        encoders = representations(kind)
        print(f"\n{kind}: {len(y)} samples, {len(np.unique(y))} classes; KMeans clusters")
        for name, (nmi, ari) in clustering(X, y, encoders).items():
            print(f"  {name:<24} NMI {nmi:.3f}  ARI {ari:.3f}")
        # The last class plays the anomalies: a tenth of its samples among all the others.
        odd = np.unique(y)[-1]
        rare = np.flatnonzero(y == odd)[: max(2, args.per_class // 10)]
        keep = np.r_[np.flatnonzero(y != odd), rare]
        print(f"  anomalies: {len(rare)} of class {odd} among {len(keep) - len(rare)}")
        for name, (forest, lof) in anomalies(X[keep], y[keep] == odd, encoders).items():
            print(f"  {name:<24} AUROC IsolationForest {forest:.3f}  LOF {lof:.3f}")


if __name__ == "__main__":
    main()
