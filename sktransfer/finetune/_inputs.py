"""What a fine-tuner reads: images or texts with their targets, in batches; augmentation."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset, default_collate

from .. import images
from .._checks import check_texts

AUGMENTATIONS = ("none", "light", "strong")


class Samples(Dataset):
    """The samples a fine-tuner reads, checked, with their targets (``y``, set by the caller).

    Images are read, resized and cropped one at a time, so an unreadable one
    is named (index and file) when its batch is drawn; texts are checked up
    front and tokenised per batch by the model.
    """

    def __init__(self, samples, y=None):
        self.samples = samples
        self.y = y

    @classmethod
    def of(cls, X, modality, preprocessing=None):
        """``X`` checked as images or texts, per the backbone's ``modality``.

        A torch Dataset is taken as it is (skorch scores the validation subset).
        """
        if isinstance(X, Dataset):
            return X
        if modality == "image":
            return cls(images.ImageDataset(images.check_images(X), preprocessing))
        return cls(check_texts(X))

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        # skorch's batches are (X, y) pairs, with a placeholder y for prediction.
        return self.samples[index], 0 if self.y is None else self.y[index]


def augmentation(augment):
    """The training-time transform of ``augment``: a preset name or any callable.

    The presets are ``transforms.v2`` pipelines on one uint8 or float image
    ``(3, H, W)`` of the backbone's input size: "light" flips horizontally
    and moves the image a little (rotation up to 10 degrees, shifts up to 10%);
    "strong" moves it more (20 degrees, 20%, zoom 0.8 to 1.2) and jitters
    brightness, contrast, saturation and hue. "none" gives None.
    """
    from torchvision.transforms import v2

    if callable(augment):
        return augment
    if augment == "none":
        return None
    if augment == "light":
        return v2.Compose(
            [v2.RandomHorizontalFlip(), v2.RandomAffine(degrees=10, translate=(0.1, 0.1))]
        )
    return v2.Compose(
        [
            v2.RandomHorizontalFlip(),
            v2.RandomAffine(degrees=20, translate=(0.2, 0.2), scale=(0.8, 1.2)),
            v2.ColorJitter(brightness=0.3, contrast=0.3, saturation=0.3, hue=0.05),
        ]
    )


def augment_batch(transform, images):
    """Apply ``transform`` to each image of a batch: every image draws its own parameters.

    (A ``transforms.v2`` transform given the whole batch would move every
    image of it the same way.)
    """
    return torch.stack([transform(image) for image in images])


def collate_samples(batch):
    """A batch of (sample, target) pairs as skorch wants it: (samples, targets)."""
    samples, targets = zip(*batch)
    if isinstance(samples[0], torch.Tensor):
        samples = images.collate(list(samples))
    elif isinstance(samples[0], dict):  # the frozen part's outputs
        samples = default_collate(list(samples))
    else:  # texts: an array, which skorch measures as one batch (a list of str is many)
        samples = np.array(samples, dtype=object)
    return samples, default_collate(list(targets))


def to_device(x, device):
    """A batch (a tensor, or a dict of tensors) on ``device``, copied asynchronously."""
    if isinstance(x, torch.Tensor):
        return x.to(device, non_blocking=True)
    if isinstance(x, dict):
        return {k: v.to(device, non_blocking=True) for k, v in x.items()}
    return x
