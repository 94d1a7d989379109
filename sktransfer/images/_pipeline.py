"""From decoded images to the batches a backbone takes: tensor, resize, crop, scale, normalise.

Every image estimator goes through these steps, in this order, on the CPU or
on the device: each image becomes a ``(3, H, W)`` tensor (uint8, or float in
[0, 1]); it is resized and centre-cropped per the backbone's
:class:`~sktransfer.backbones.ImagePreprocessing` (one image at a time as it is
decoded, or a whole batch of one size on the device); batches are collated,
scaled to [0, 1] and normalised with the backbone's mean and std.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
from PIL import Image

from ..cache import digest
from ._decode import read_image


def to_tensor(item, index):
    """One checked input item as a ``(3, H, W)`` tensor: uint8, or float32 in [0, 1].

    A file, the same file opened with PIL, and its pixels as an array give the
    same tensor. Errors name the item by ``index``, its position in the input.
    """
    import torch
    from torchvision.transforms.v2.functional import pil_to_tensor

    image = read_image(item, index)
    if isinstance(image, np.ndarray):
        tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)
        return tensor if tensor.dtype == torch.uint8 else tensor.float()
    return pil_to_tensor(image)


def scale(batch):
    """Images (one or a batch) as floats in [0, 1]: uint8 divided by 255, floats as they are."""
    import torch

    return batch.float().div(255.0) if batch.dtype == torch.uint8 else batch


def normalise(batch, mean, std):
    """A batch ``(N, 3, H, W)`` scaled to [0, 1], normalised per channel, in channels_last.

    ``mean`` and ``std`` are tensors of shape ``(1, 3, 1, 1)`` on the batch's
    device. channels_last lets oneDNN and cuDNN pick their fast convolution kernels.
    """
    import torch

    batch = (scale(batch) - mean).div_(std)  # the difference is new: divided in place
    return batch.contiguous(memory_format=torch.channels_last)


def channel_stats(mean, std, device=None):
    """Per-channel ``mean`` and ``std`` as ``(1, 3, 1, 1)`` tensors, for :func:`normalise`."""
    import torch

    return tuple(torch.tensor(values, device=device).view(1, 3, 1, 1) for values in (mean, std))


def resize_and_crop(preprocessing):
    """The backbone's resize and centre crop (``transforms.v2``), for one image or a batch."""
    from torchvision.transforms import InterpolationMode, v2

    steps = []
    if preprocessing.resize_size is not None:
        steps.append(
            v2.Resize(
                preprocessing.resize_size,
                interpolation=InterpolationMode(preprocessing.interpolation),
                antialias=True,
            )
        )
    steps.append(v2.CenterCrop(preprocessing.input_size))
    return v2.Compose(steps)


def preprocessing_at(preprocessing, image_size):
    """``preprocessing`` for ``image_size x image_size`` inputs; None leaves it as it is.

    The resize keeps its ratio to the crop (224 / 256 at 112 is 112 / 128); a
    preprocessing that does not resize still does not.

    Examples
    --------
    >>> from sktransfer.backbones import ImagePreprocessing
    >>> smaller = preprocessing_at(ImagePreprocessing(input_size=224, resize_size=256), 112)
    >>> smaller.input_size, smaller.resize_size
    (112, 128)
    """
    if image_size is None or image_size == preprocessing.input_size:
        return preprocessing
    resize = preprocessing.resize_size
    if resize is not None:
        resize = round(image_size * resize / preprocessing.input_size)
    return dataclasses.replace(preprocessing, input_size=image_size, resize_size=resize)


def auto_batch_size(device):
    """Images per forward pass at inference: small on a CPU (caches), large on a GPU."""
    return 64 if device.type == "cuda" else 8


def collate(images):
    """Tensors of one shape stacked into a batch; uint8 mixed with floats becomes floats."""
    import torch

    if len({t.dtype for t in images}) > 1:  # a list mixing uint8 and float images
        images = [scale(t) for t in images]
    return torch.stack(images)


class ImageDataset:
    """Reads (and, with ``resize``, resizes and crops) one image at a time; errors name it.

    Parameters
    ----------
    items : list or ndarray
        Checked images (:func:`check_images`).
    preprocessing : ImagePreprocessing
        The backbone's resize and crop.
    positions : sequence of int, optional
        The items' indices in the user's input, for error messages.
    resize : bool, default=True
        Resize and crop here; False leaves it to :class:`Batcher` or the device.
    """

    def __init__(self, items, preprocessing, positions=None, *, resize=True):
        self.items = items
        self.positions = range(len(items)) if positions is None else positions
        self.transform = resize_and_crop(preprocessing) if resize else None

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        tensor = to_tensor(self.items[index], int(self.positions[index]))
        return tensor if self.transform is None else self.transform(tensor)


class Batcher:
    """Collates decoded images: (batch, whether it is resized and cropped yet).

    Images of one size are stacked as they are, for the device to resize the
    whole batch; mixed sizes (or ``resize_all``) are resized one by one here,
    in the loader's worker processes when there are some.
    """

    def __init__(self, preprocessing, *, resize_all):
        self.transform = resize_and_crop(preprocessing)
        self.resize_all = resize_all

    def __call__(self, images):
        sized = self.resize_all or len({tuple(t.shape) for t in images}) > 1
        if sized:
            images = [self.transform(t) for t in images]
        return collate(images), sized


class DevicePreprocessing:
    """A batch on the device, resized and cropped if still due, scaled and normalised."""

    def __init__(self, preprocessing, device):
        self.device = device
        self.transform = resize_and_crop(preprocessing)
        self.mean, self.std = channel_stats(preprocessing.mean, preprocessing.std, device)

    def __call__(self, batch, sized):
        batch = batch.to(self.device, non_blocking=True)
        if not sized:
            batch = self.transform(scale(batch))
        return normalise(batch, self.mean, self.std)


def loader(items, positions, preprocessing, *, device, batch_size, num_workers="auto"):
    """A DataLoader of (batch, sized) for inference, as :class:`DevicePreprocessing` takes them.

    On a GPU, ``num_workers="auto"`` decodes in one worker process per available
    core (at most one per batch) and the batches are pinned; on the CPU, and in
    a process that is itself a worker (a Dask or joblib worker, which may not
    start processes), images are decoded here. On the CPU they are resized one
    by one as they are decoded: its fastest kernels are for uint8 images.
    """
    from torch.utils.data import DataLoader

    workers = num_workers
    if workers == "auto":
        batches = -(-len(items) // batch_size)
        on_cpu = device.type == "cpu" or _in_worker_process()
        workers = 0 if on_cpu else min(_available_cores(), batches)
    return DataLoader(
        ImageDataset(items, preprocessing, positions, resize=False),
        batch_size=batch_size,
        shuffle=False,
        num_workers=workers,
        collate_fn=Batcher(preprocessing, resize_all=device.type == "cpu"),
        pin_memory=device.type == "cuda",
    )


def _in_worker_process():
    """True in a process that multiprocessing started: a Dask worker, one of joblib's
    loky workers (``n_jobs``), a Pool's. Daemonic ones may not start processes and
    loky's replace the default start method, so the loader decodes in this process."""
    import multiprocessing

    return multiprocessing.parent_process() is not None


def _available_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def image_key(item):
    """A digest of one image's content: a file's bytes, an array's or a PIL image's pixels."""
    if isinstance(item, (str, os.PathLike)):
        with open(item, "rb") as file:
            return digest(b"file", file.read())
    if isinstance(item, Image.Image):
        return digest(b"pil", item.mode.encode(), str(item.size).encode(), item.tobytes())
    array = np.ascontiguousarray(item)
    return digest(b"array", array.dtype.str.encode(), str(array.shape).encode(), array.tobytes())
