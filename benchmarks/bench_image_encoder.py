"""ImageEncoder throughput against hand-written loops on the same model and data.

Contenders, measured interleaved in one run (the machine is shared and noisy,
so ratios taken side by side mean more than absolute times):

- ``ImageEncoder``: ``transform`` of a fitted encoder;
- ``ImageEncoder, bfloat16``: the same with ``precision="bfloat16"`` (autocast),
  against the channels_last hand loop under the same autocast
  (``--skip-bfloat16`` leaves both out);
- ``hand loop``: a careful hand-written batched ``torch.inference_mode()`` loop,
  with the same preprocessing done on whole batches: uint8 batches go to the
  device (pinned, for a GPU) and are resized, cropped and normalised there;
- ``hand loop + channels_last``: the same, with the memory format we use;
- ``per image, train mode``: one image per forward pass, the network left in
  training mode and autograd on, as embetter's TimmEncoder does.

Run: python benchmarks/bench_image_encoder.py [--backbone efficientnet_lite0] [--n 64]
     [--device cuda --n 512 --repeats 5]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import numpy as np
import torch
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as F

from sktransfer import ImageEncoder


def hand_loop(model, images, pre, batch_size, channels_last, device, precision="float32"):
    """uint8 batches to the device, resized, cropped and normalised there (a GPU's best way)."""
    mean = torch.tensor(pre.mean, device=device).view(1, 3, 1, 1)
    std = torch.tensor(pre.std, device=device).view(1, 3, 1, 1)
    interpolation = InterpolationMode(pre.interpolation)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bfloat16")
    out = []
    with torch.inference_mode(), autocast:
        for start in range(0, len(images), batch_size):
            x = torch.from_numpy(images[start : start + batch_size]).permute(0, 3, 1, 2)
            if device.type == "cuda":
                x = x.pin_memory()
            x = x.to(device, non_blocking=True)
            if device.type != "cpu":  # the CPU's fast resize kernels are uint8 ones
                x = x.float() / 255.0
            x = F.resize(x, pre.resize_size, interpolation=interpolation, antialias=True)
            x = F.center_crop(x, pre.input_size)
            x = x.float() / 255.0 if x.dtype == torch.uint8 else x
            x = (x - mean) / std
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            out.append(model.forward_features(x).float().mean(dim=(2, 3)).cpu().numpy())
    return np.concatenate(out)


def per_image_train_mode(model, images, pre, device):
    model.train()  # the embetter pattern: no eval(), no no_grad(), one image at a time
    mean = torch.tensor(pre.mean, device=device).view(3, 1, 1)
    std = torch.tensor(pre.std, device=device).view(3, 1, 1)
    interpolation = InterpolationMode(pre.interpolation)
    out = []
    for image in images:
        x = torch.from_numpy(image).permute(2, 0, 1).to(device)
        x = F.resize(x, pre.resize_size, interpolation=interpolation, antialias=True)
        x = (F.center_crop(x, pre.input_size).float() / 255.0 - mean) / std
        features = model.forward_features(x.unsqueeze(0)).mean(dim=(2, 3))
        out.append(features.squeeze(0).detach().cpu().numpy())
    return np.stack(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="efficientnet_lite0")
    parser.add_argument("--n", type=int, default=64, help="images per run")
    parser.add_argument("--batch-size", default="auto", help='an int, or "auto" as the encoder')
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu", help='"cpu", "cuda"...')
    parser.add_argument("--size", type=int, default=256, help="side of the square images")
    parser.add_argument(
        "--skip-bfloat16",
        action="store_true",
        help="leave out the bfloat16 runs (slow on CPUs without native bfloat16)",
    )
    args = parser.parse_args()

    device = torch.device(args.device)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (args.n, args.size, args.size, 3), dtype=np.uint8)
    batch_size = args.batch_size if args.batch_size == "auto" else int(args.batch_size)
    encoder = ImageEncoder(args.backbone, batch_size=batch_size, device=args.device).fit()
    batch_size = encoder._batch_size(device)  # the hand loops use the same
    pre = encoder.preprocessing_
    backbone = encoder.model_.backbone.to(device)  # the ImageBackbone, without the pooling
    plain = copy.deepcopy(backbone).to(memory_format=torch.contiguous_format)
    trained = copy.deepcopy(plain).requires_grad_(True)  # as timm builds it: NCHW weights

    contenders = {
        "ImageEncoder": lambda: encoder.transform(images),
        "hand loop": lambda: hand_loop(plain, images, pre, batch_size, False, device),
        "hand loop + channels_last": lambda: hand_loop(
            backbone, images, pre, batch_size, True, device
        ),
        "per image, train mode": lambda: per_image_train_mode(trained, images, pre, device),
    }
    if not args.skip_bfloat16:
        half = ImageEncoder(
            args.backbone, batch_size=batch_size, device=args.device, precision="bfloat16"
        ).fit()
        contenders["ImageEncoder, bfloat16"] = lambda: half.transform(images)
        contenders["hand loop + channels_last, bfloat16"] = lambda: hand_loop(
            backbone, images, pre, batch_size, True, device, "bfloat16"
        )
    reference = contenders["hand loop"]()
    tolerance = 1e-3 if device.type == "cpu" else 2e-2  # float vs uint8 resize on a GPU
    np.testing.assert_allclose(
        contenders["ImageEncoder"](), reference, rtol=tolerance, atol=tolerance
    )

    times = {name: [] for name in contenders}
    for _ in range(args.repeats):
        for name, run in contenders.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)

    ours = statistics.median(times["ImageEncoder"])
    print(
        f"{args.backbone}, {args.n} images {args.size}x{args.size} -> {pre.input_size}, "
        f"batch {batch_size}, {device}, {torch.get_num_threads()} threads, "
        f"median of {args.repeats}"
    )
    # Two ratios of ImageEncoder's speed to the contender's: of the medians, and the
    # median of the ratios of runs side by side (less sensitive to drifting load).
    print(f"{'contender':<38}{'img/s':>8}{'ratio of medians':>18}{'paired ratio':>14}")
    for name, runs in times.items():
        median = statistics.median(runs)
        paired = statistics.median(t / o for t, o in zip(runs, times["ImageEncoder"]))
        print(f"{name:<38}{args.n / median:>8.1f}{median / ours:>18.2f}{paired:>14.2f}")


if __name__ == "__main__":
    main()
