"""A grid search over freeze strategies and backbone learning rates.

Which layers of a pre-trained network to retrain, and how fast, are
hyperparameters like any other: ``GridSearchCV`` picks them by cross-validation.
EfficientNet-Lite0 (packaged weights) on a few Fashion-MNIST images per class.

Run: python examples/grid_search_freeze.py [--per-class 10] [--epochs 2]
"""

import argparse

import pandas as pd
from sklearn.model_selection import GridSearchCV

from sktransfer import FineTuneClassifier
from sktransfer.datasets import load_fashion_mnist, stratified_sample


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=10, help="training images per class")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()

    images, labels = load_fashion_mnist("test")
    train = stratified_sample(labels, args.per_class, seed=0)
    model = FineTuneClassifier(max_epochs=args.epochs, validation=None, random_state=0)
    grid = {
        "freeze": ["backbone", "last:1", "last:2", "progressive", "lora", "none"],
        "backbone_lr": ["0.1x", "0.01x"],
    }
    search = GridSearchCV(model, grid, cv=3).fit(images[train], labels[train])
    results = pd.DataFrame(search.cv_results_)
    columns = ["param_freeze", "param_backbone_lr", "mean_test_score", "mean_fit_time"]
    print(results[columns].sort_values("mean_test_score", ascending=False).to_string(index=False))
    print("best:", search.best_params_)


if __name__ == "__main__":
    main()
