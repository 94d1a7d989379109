"""Feature extraction with a pre-trained CNN, then a linear classifier.

The workflow of the classic transfer-learning recipe, as one scikit-learn
pipeline: EfficientNet-Lite0 (ImageNet weights, packaged for offline use)
encodes Fashion-MNIST images, and a logistic regression learns the 10 classes
from a few hundred examples. The same pipeline on a randomly initialised
network shows what the pre-trained weights are worth.

Run: python examples/image_features.py [--per-class 20]
"""

import argparse
import time

from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sktransfer import ImageEncoder
from sktransfer.datasets import load_fashion_mnist, stratified_sample


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=20, help="training images per class")
    parser.add_argument("--backbone", default="efficientnet_lite0")
    args = parser.parse_args()

    images, labels = load_fashion_mnist("test")
    train = stratified_sample(labels, args.per_class, seed=0)
    test = stratified_sample(labels, 20, seed=1, exclude=train)
    print(f"Fashion-MNIST: {len(train)} training and {len(test)} test images, 10 classes")

    for weights in ("default", None):
        pipe = make_pipeline(
            ImageEncoder(args.backbone, weights=weights, batch_size=64, verbose=True),
            StandardScaler(),
            LogisticRegression(max_iter=2000),
        )
        start = time.perf_counter()
        pipe.fit(images[train], labels[train])
        accuracy = accuracy_score(labels[test], pipe.predict(images[test]))
        name = "pre-trained" if weights else "random init"
        print(
            f"{args.backbone} ({name:>11}): accuracy {accuracy:.1%} "
            f"in {time.perf_counter() - start:.1f} s"
        )


if __name__ == "__main__":
    main()
