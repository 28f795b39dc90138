#!/usr/bin/env python3
"""Makes tests/data/lpips/vectors.npz with the official lpips package and piq 0.7.0 (see README.md).

Usage: PYTHONPATH=DIR python3 make_vectors.py OUT.npz
where DIR holds the lpips package (richzhang/PerceptualSimilarity lpips/, with weights/v0.1/vgg.pth)
and piq 0.7.0 (photosynthesis-team/piq, tag v0.7.0, piq/).
"""

import sys

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

import lpips
from piq.perceptual import ContentLoss

SEED = 0
VGG_CONVS = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
TAPS = ["3", "8", "15", "22", "29"]  # relu1_2, relu2_2, relu3_3, relu4_3, relu5_3


def synthetic_hash(name, seed, count):
    """The uint32 hash of METRICS.md section 1 for elements 0..count-1 of the tensor `name`."""
    fnv = np.uint32(2166136261)
    with np.errstate(over="ignore"):
        for c in name.encode():
            fnv = np.uint32(fnv ^ np.uint32(c)) * np.uint32(16777619)
        h = fnv ^ (np.uint32(seed + 1) * np.uint32(0x85EBCA6B))
        x = h + np.arange(count, dtype=np.uint32) * np.uint32(0x9E3779B9)
        x ^= x >> np.uint32(16)
        x *= np.uint32(0x85EBCA6B)
        x ^= x >> np.uint32(13)
        x *= np.uint32(0xC2B2AE35)
        x ^= x >> np.uint32(16)
    return x.astype(np.float64) / 4294967296.0


def synthetic_backbone(seed):
    """cmbench's synthetic:SEED rule for torchvision's vgg16 features (nets/lpips.h)."""
    features = torchvision.models.vgg16().features
    with torch.no_grad():
        for index in VGG_CONVS:
            conv = features[index]
            for leaf in ("weight", "bias"):
                tensor = getattr(conv, leaf)
                u = synthetic_hash(f"features.{index}.{leaf}", seed, tensor.numel())
                fan_in = tensor[0].numel()
                v = 0.1 * (2 * u - 1) if leaf == "bias" else (2 * u - 1) * np.sqrt(6.0 / fan_in)
                tensor.copy_(torch.from_numpy(v.astype(np.float32)).view(tensor.shape))
    return features


def image_pairs(rng, n, size):
    """Pairs in [-1, 1]: uniform noise images and noisy copies; the last pair unrelated."""
    a = np.clip(rng.uniform(-1, 1, (n, 3, size, size)), -1, 1).astype(np.float32)
    b = np.clip(a + rng.normal(0, 0.3, a.shape), -1, 1).astype(np.float32)
    b[-1] = rng.uniform(-1, 1, (3, size, size))
    return torch.from_numpy(a), torch.from_numpy(b)


def main():
    out = sys.argv[1]
    torch.set_grad_enabled(False)
    features = synthetic_backbone(SEED)

    # lpips protocol: lpips.LPIPS(net='vgg', version='0.1'), the repository's v0.1 heads, our backbone.
    metric = lpips.LPIPS(net="vgg", version="0.1", pnet_rand=True, verbose=False)
    for slice_index in range(1, 6):
        block = getattr(metric.net, f"slice{slice_index}")
        for name, module in block.named_children():
            if isinstance(module, torch.nn.Conv2d):
                module.weight.copy_(features[int(name)].weight)
                module.bias.copy_(features[int(name)].bias)
    metric.eval()
    heads = [getattr(metric, f"lin{k}").model[1].weight.detach().clone() for k in range(5)]

    # openai-cm protocol: piq 0.7.0's LPIPS(replace_pooling=True) is ContentLoss with these arguments
    # (piq/perceptual.py LPIPS.__init__), given the backbone and heads instead of downloading them.
    piq_lpips = ContentLoss(features, layers=TAPS, weights=heads, replace_pooling=True, distance="mse",
                            reduction="none", normalize_features=True)

    rng = np.random.RandomState(SEED)
    arrays = {"backbone_seed": np.array(SEED, dtype=np.int64)}
    for k in range(5):
        arrays[f"lin{k}.model.1.weight"] = heads[k].numpy()
    for size, n in ((32, 3), (64, 2)):
        a, b = image_pairs(rng, n, size)
        arrays[f"lpips_a_{size}"], arrays[f"lpips_b_{size}"] = a.numpy(), b.numpy()
        arrays[f"lpips_{size}"] = metric(a, b, normalize=False).flatten().numpy()
    for size, n in ((32, 2), (64, 1)):
        a, b = image_pairs(rng, n, size)
        arrays[f"openai_cm_a_{size}"], arrays[f"openai_cm_b_{size}"] = a.numpy(), b.numpy()
        # consistency_models cm/karras_diffusion.py: bilinear to 224 below 256, then (x + 1) / 2
        ra, rb = F.interpolate(a, size=224, mode="bilinear"), F.interpolate(b, size=224, mode="bilinear")
        arrays[f"openai_cm_{size}"] = piq_lpips((ra + 1) / 2.0, (rb + 1) / 2.0).flatten().numpy()
    np.savez(out, **arrays)
    for key, value in arrays.items():
        if key.startswith(("lpips_3", "lpips_6", "openai_cm_3", "openai_cm_6")):
            print(key, value)


if __name__ == "__main__":
    main()
