"""Fine-tuning a pre-trained CNN on a folder of images, the classic two-stage recipe.

1. EfficientNet-Lite0 (ImageNet weights, packaged), frozen; its global average
   pooling feeds a new head Dense(64, relu) -> softmax, trained with rotation,
   shift and flip augmentation.
2. The last two layer groups of the backbone unfrozen at a learning rate 100
   times smaller than the head's, and training continued from stage 1
   (``warm_start``).

The images are Fashion-MNIST written as PNG files, one sub-folder per class,
and read back with ``load_image_folder``: the layout of most users' own data.

Run: python examples/fine_tune_images.py [--per-class 20] [--epochs 5]
"""

import argparse
import tempfile
import time
from pathlib import Path

from PIL import Image
from sklearn.metrics import accuracy_score

from sktransfer import FineTuneClassifier
from sktransfer.data import load_image_folder
from sktransfer.datasets import load_fashion_mnist, stratified_sample

CLASSES = (
    "t-shirt", "trouser", "pullover", "dress", "coat",
    "sandal", "shirt", "sneaker", "bag", "boot",
)  # fmt: skip


def write_folder(root, images, labels):
    """One sub-folder per class, one PNG per image."""
    for i, (image, label) in enumerate(zip(images, labels)):
        folder = Path(root) / CLASSES[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{i:05d}.png")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=20, help="training images per class")
    parser.add_argument("--epochs", type=int, default=5, help="epochs of each stage")
    args = parser.parse_args()

    images, labels = load_fashion_mnist("test")
    train = stratified_sample(labels, args.per_class, seed=0)
    test = stratified_sample(labels, 20, seed=1, exclude=train)
    with tempfile.TemporaryDirectory() as root:
        write_folder(Path(root) / "train", images[train], labels[train])
        write_folder(Path(root) / "test", images[test], labels[test])
        X_train, y_train = load_image_folder(Path(root) / "train")
        X_test, y_test = load_image_folder(Path(root) / "test")
        print(f"{len(X_train)} training and {len(X_test)} test images in class folders")

        model = FineTuneClassifier(
            "efficientnet_lite0",
            freeze="backbone",
            hidden=(64,),
            augment="light",
            lr=1e-3,
            max_epochs=args.epochs,
            validation=0.1,
            random_state=0,
            verbose=1,
        )
        start = time.perf_counter()
        model.fit(X_train, y_train)
        accuracy = accuracy_score(y_test, model.predict(X_test))
        seconds = time.perf_counter() - start
        print(f"stage 1, frozen backbone: accuracy {accuracy:.1%} ({seconds:.0f} s)")

        model.set_params(freeze="last:2", backbone_lr="0.01x", warm_start=True)
        model.fit(X_train, y_train)
        accuracy = accuracy_score(y_test, model.predict(X_test))
        groups = ", ".join(model.layer_groups_[-2:])
        seconds = time.perf_counter() - start
        print(f"stage 2, {groups} unfrozen: accuracy {accuracy:.1%} ({seconds:.0f} s)")


if __name__ == "__main__":
    main()
