"""Write the data the example specs in examples/specs/ read, from packaged Fashion-MNIST.

- ``data/fashion/train/<class>/*.png`` and ``data/fashion/test/<class>/*.png``: an
  image folder per split, one sub-folder per class (``--per-class`` and
  ``--test-per-class`` images of each);
- ``data/fashion_inverted/unlabelled/*.png`` (no class folders: no labels) and
  ``data/fashion_inverted/test/<class>/*.png``: the same kind of images in another
  domain, inverted (:func:`sktransfer.datasets.shift_images`), for the domain
  adaptation example; drawn apart from the training images;
- ``data/products.csv``: a table with a photo path, a short description and a
  price per row, and the category to predict (the multi-modal example).

    python examples/make_example_data.py [--out examples/data]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
from PIL import Image

from sktransfer.datasets import (
    FASHION_MNIST_CLASSES,
    load_fashion_mnist,
    shift_images,
    stratified_sample,
)

# A few words per class, and words any class may get, for the product descriptions.
WORDS = {
    "T-shirt/top": "cotton tee short sleeves casual",
    "Trouser": "long legs trousers waist denim",
    "Pullover": "warm knit pullover wool jumper",
    "Dress": "elegant dress evening summer",
    "Coat": "winter coat buttons lined",
    "Sandal": "open summer sandal straps beach",
    "Shirt": "collar shirt buttons office",
    "Sneaker": "running sneaker laces sport",
    "Bag": "leather bag handle shoulder",
    "Ankle boot": "ankle boot heel leather zip",
}
COMMON = ["new", "classic", "soft", "light", "dark", "blue", "black", "white", "red", "grey",
          "comfortable", "stylish"]  # fmt: skip


def folder_name(label):
    return label.replace("/", "-").replace(" ", "_")


def write_folder(root, images, labels):
    paths = []
    for i, (image, label) in enumerate(zip(images, labels)):
        path = root / folder_name(FASHION_MNIST_CLASSES[label]) / f"{i:05d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(path)
        paths.append(path)
    return paths


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=Path(__file__).parent / "data", type=Path)
    parser.add_argument("--per-class", type=int, default=20)
    parser.add_argument("--test-per-class", type=int, default=10)
    args = parser.parse_args(argv)

    images, labels = load_fashion_mnist("train")
    test_images, test_labels = load_fashion_mnist("test")
    train = stratified_sample(labels, args.per_class, seed=0)
    test = stratified_sample(test_labels, args.test_per_class, seed=0)
    write_folder(args.out / "fashion" / "train", images[train], labels[train])
    write_folder(args.out / "fashion" / "test", test_images[test], test_labels[test])

    # The target domain: other images of the same classes, inverted.
    rest = np.setdiff1d(np.arange(len(labels)), train)
    unlabelled = rest[stratified_sample(labels[rest], args.per_class, seed=1)]
    others = np.setdiff1d(np.arange(len(test_labels)), test)
    target_test = others[stratified_sample(test_labels[others], args.test_per_class, seed=1)]
    inverted = args.out / "fashion_inverted"
    for i, image in enumerate(shift_images(images[unlabelled], "inverted", seed=0)):
        (inverted / "unlabelled").mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(inverted / "unlabelled" / f"{i:05d}.png")
    shifted = shift_images(test_images[target_test], "inverted", seed=0)
    write_folder(inverted / "test", shifted, test_labels[target_test])

    # The table's photos are the test images; its descriptions carry a noisy hint.
    rng = np.random.default_rng(0)
    photos = write_folder(args.out / "products", test_images[test], test_labels[test])
    with open(args.out / "products.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["photo", "description", "price", "category"])
        for path, label in zip(photos, test_labels[test]):
            name = FASHION_MNIST_CLASSES[label]
            hint = rng.choice(WORDS[name].split(), size=1).tolist()
            words = rng.choice(COMMON, size=3, replace=False).tolist() + hint
            rng.shuffle(words)
            price = round(float(rng.lognormal(3 + 0.1 * label, 0.4)), 2)
            writer.writerow([path.relative_to(args.out).as_posix(), " ".join(words), price, name])
    print(
        f"wrote {len(train)} + {len(test)} images, {len(unlabelled)} + {len(target_test)} "
        f"inverted ones and products.csv under {args.out}"
    )


if __name__ == "__main__":
    main()
