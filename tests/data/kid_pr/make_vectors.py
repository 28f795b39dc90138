#!/usr/bin/python3
"""Writes the KID and precision/recall reference vectors of tests/test_metrics_kid_pr.cpp.

Runs the reference implementations from checkouts given on the command line (nothing of them is
copied here): torch-fidelity's KID on features passed as float64 tensors, guided-diffusion's
ManifoldEstimator with its TensorFlow distance graph replaced by a numpy emulation (no TensorFlow
here), and StyleGAN2-ADA's compute_pr with torch.cdist replaced by a numpy emulation of its float16
CUDA path (CPU PyTorch has no float16 matmul). See README.md.

usage: make_vectors.py TORCH_FIDELITY_DIR GUIDED_DIFFUSION_DIR STYLEGAN2_ADA_DIR OUT_DIR
"""
import importlib.util
import os
import sys
import types

import numpy as np
import torch


# ---- features: regenerable in C++ with core/numpy_random.h -------------------------------------

def features(seed, n, d, scale=1.0, shift=0.0, absolute=False, big_rows=0, big_scale=1.0):
    g = np.random.RandomState(seed).standard_normal((n, d))  # float64, legacy gauss, row-major
    if absolute:
        g = np.abs(g)
    g = g * scale
    g = g + shift
    if big_rows:
        g[:big_rows] = g[:big_rows] * big_scale
    return g.astype(np.float32)


def spec(seed, n, d, scale=1.0, shift=0.0, absolute=False, big_rows=0, big_scale=1.0):
    return dict(seed=seed, n=n, d=d, scale=scale, shift=shift, absolute=int(absolute), big_rows=big_rows,
                big_scale=big_scale)


def spec_arrays(prefix, s, x):
    out = {f"{prefix}_{k}": np.array(v, dtype=np.float64 if isinstance(v, float) else np.int64) for k, v in s.items()}
    out[f"{prefix}_sum"] = np.array(x.astype(np.float64).sum())  # generator check
    out[f"{prefix}_row0"] = x[0].copy()
    return out


# ---- module loading with stubs ------------------------------------------------------------------

def stub(name, **attrs):
    m = types.ModuleType(name)
    m.__dict__.update(attrs)
    sys.modules[name] = m
    return m


def load(name, path, package=None):
    spec_ = importlib.util.spec_from_file_location(name, path)
    m = importlib.util.module_from_spec(spec_)
    if package:
        m.__package__ = package
    sys.modules[name] = m
    spec_.loader.exec_module(m)
    return m


def load_torch_fidelity(root):
    pkg = stub("torch_fidelity")
    pkg.__path__ = [os.path.join(root, "torch_fidelity")]
    stub("tqdm", tqdm=lambda it, **kw: it)
    stub("torch_fidelity.utils", create_feature_extractor=None, extract_featuresdict_from_input_id_cached=None,
         resolve_feature_extractor=None, resolve_feature_layer_for_metric=None)
    return load("torch_fidelity.metric_kid", os.path.join(root, "torch_fidelity", "metric_kid.py"))


# ---- float16 emulation (see README: exact sums, rounded once; elementwise steps in float16) --------

def h16(x):
    return np.asarray(x).astype(np.float16)  # correctly rounded from float32 or float64


def gd_distances(U, V):
    """guided-diffusion's DistanceBlock.distance_block for one batch pair: float16 try, float32 fallback."""
    U = np.asarray(U, np.float32)
    V = np.asarray(V, np.float32)
    Uh, Vh = h16(U), h16(V)
    with np.errstate(over="ignore", invalid="ignore"):
        nu = h16(np.square(Uh).astype(np.float64).sum(1)).reshape(-1, 1)
        nv = h16(np.square(Vh).astype(np.float64).sum(1)).reshape(1, -1)
        mm = h16(Uh.astype(np.float64) @ Vh.astype(np.float64).T)
        d16 = np.maximum(nu - np.float16(2) * mm + nv, np.float16(0))
    if np.all(np.isfinite(d16)):
        return d16.astype(np.float32)
    gd_distances.fallbacks += 1
    nu = np.square(U).astype(np.float64).sum(1).astype(np.float32).reshape(-1, 1)
    nv = np.square(V).astype(np.float64).sum(1).astype(np.float32).reshape(1, -1)
    mm = (U.astype(np.float64) @ V.astype(np.float64).T).astype(np.float32)
    return np.maximum(nu - np.float32(2) * mm + nv, np.float32(0))


gd_distances.fallbacks = 0


class EmulatedDistanceBlock:
    def __init__(self, session):
        pass

    def pairwise_distances(self, U, V):
        return gd_distances(U, V)

    def less_thans(self, batch_1, radii_1, batch_2, radii_2):
        d = gd_distances(batch_1, batch_2)[..., None]
        return np.any(d <= radii_2, axis=1), np.any(d <= radii_1[:, None], axis=0)


def load_guided_diffusion(root):
    tf = stub("tensorflow")
    compat = stub("tensorflow.compat")
    v1 = stub("tensorflow.compat.v1")
    tf.compat, compat.v1 = compat, v1
    stub("requests")
    scipy = stub("scipy")
    scipy.linalg = stub("scipy.linalg")
    tq = stub("tqdm")
    tq.auto = stub("tqdm.auto", tqdm=lambda it, **kw: it)
    if "bool" not in np.__dict__:
        np.bool = bool  # removed in numpy 1.24; the evaluator uses it
    m = load("gd_evaluator", os.path.join(root, "evaluations", "evaluator.py"))
    m.DistanceBlock = EmulatedDistanceBlock
    return m


def sg_cdist(x1, x2):
    """torch.cdist (p = 2, > 25 rows: the matmul path) on float16 CUDA tensors, emulated."""
    assert x1.dtype == torch.float16 and x2.dtype == torch.float16
    a = x1.numpy()[0]
    b = x2.numpy()[0]
    with np.errstate(over="ignore", invalid="ignore"):
        na = h16(np.square(a).astype(np.float64).sum(1))
        nb = h16(np.square(b).astype(np.float64).sum(1))
        s = (a.astype(np.float64) @ b.astype(np.float64).T) * -2.0 + na.astype(np.float64)[:, None] + nb.astype(np.float64)[None, :]
        r = np.sqrt(np.maximum(h16(s), np.float16(0)))
    return torch.from_numpy(r)[None]


def load_stylegan(root, feats):
    pkg = stub("sg_metrics")
    pkg.__path__ = [os.path.join(root, "metrics")]

    class Stats:
        def __init__(self, x):
            self.x = x

        def get_all_torch(self):
            return torch.from_numpy(self.x)

    mu = stub("sg_metrics.metric_utils")
    mu.compute_feature_stats_for_dataset = lambda **kw: Stats(feats["real"])
    mu.compute_feature_stats_for_generator = lambda **kw: Stats(feats["gen"])
    m = load("sg_metrics.precision_recall", os.path.join(root, "metrics", "precision_recall.py"), package="sg_metrics")
    m.torch = types.SimpleNamespace(**{k: getattr(torch, k) for k in ("cat", "float16", "float32", "nn")},
                                    cdist=sg_cdist, distributed=torch.distributed)
    return m


# ---- the vectors -------------------------------------------------------------------------------

def kid_case(kid, name, sa, sb, subsets, subset_size, out_dir):
    a, b = features(**sa), features(**sb)
    kw = dict(kid_subsets=subsets, kid_subset_size=subset_size, verbose=False, rng_seed=2020)
    r64 = kid.kid_features_to_metric(torch.from_numpy(a.astype(np.float64)), torch.from_numpy(b.astype(np.float64)), **kw)
    r32 = kid.kid_features_to_metric(torch.from_numpy(a), torch.from_numpy(b), **kw)
    # per-subset values: the same draws, the same kernel (checked against the mean below)
    rng = np.random.RandomState(2020)
    mmds = []
    for _ in range(subsets):
        f1 = a.astype(np.float64)[rng.choice(len(a), subset_size, replace=False)]
        f2 = b.astype(np.float64)[rng.choice(len(b), subset_size, replace=False)]
        mmds.append(kid.kernel_mmd(f1, f2, kid_kernel="poly", kid_kernel_poly_degree=3, kid_kernel_poly_gamma=None,
                                   kid_kernel_poly_coef0=1))
    mmds = np.array(mmds)
    assert np.mean(mmds) == r64["kernel_inception_distance_mean"]
    arrays = dict(kid_mean=np.array(r64["kernel_inception_distance_mean"]),
                  kid_std=np.array(r64["kernel_inception_distance_std"]),
                  kid_mmds=mmds,
                  kid_mean_float32_inputs=np.array(r32["kernel_inception_distance_mean"]),
                  kid_std_float32_inputs=np.array(r32["kernel_inception_distance_std"]),
                  subsets=np.array(subsets, np.int64), subset_size=np.array(subset_size, np.int64),
                  rng_seed=np.array(2020, np.int64))
    arrays.update(spec_arrays("a", sa, a))
    arrays.update(spec_arrays("b", sb, b))
    np.savez(os.path.join(out_dir, name + ".npz"), **arrays)
    print(name, {k: float(v) for k, v in arrays.items() if k.startswith("kid_") and v.ndim == 0})


def gd_case(gd, name, sr, sg, batch, out_dir):
    ref, gen = features(**sr), features(**sg)
    gd_distances.fallbacks = 0
    est = gd.ManifoldEstimator(None, row_batch_size=batch, col_batch_size=batch)
    holder = types.SimpleNamespace(manifold_estimator=est)
    precision, recall = gd.Evaluator.compute_prec_recall(holder, ref, gen)
    radii_ref = est.manifold_radii(ref)[:, 0]
    radii_gen = est.manifold_radii(gen)[:, 0]
    fallbacks = gd_distances.fallbacks
    p_count = int(round(precision * len(gen)))
    r_count = int(round(recall * len(ref)))
    assert p_count / len(gen) == precision and r_count / len(ref) == recall
    arrays = dict(precision=np.array(precision), recall=np.array(recall), precision_count=np.array(p_count),
                  recall_count=np.array(r_count), radii_ref=radii_ref, radii_gen=radii_gen,
                  batch=np.array(batch, np.int64), fallback_blocks=np.array(fallbacks, np.int64))
    arrays.update(spec_arrays("ref", sr, ref))
    arrays.update(spec_arrays("gen", sg, gen))
    np.savez(os.path.join(out_dir, name + ".npz"), **arrays)
    print(name, precision, recall, "fallback blocks (x2 for radii recomputation):", fallbacks)


def sg_case(sg_root, name, sr, sgn, out_dir):
    ref, gen = features(**sr), features(**sgn)
    m = load_stylegan(sg_root, dict(real=ref, gen=gen))
    opts = types.SimpleNamespace(device=torch.device("cpu"), num_gpus=1, rank=0)
    results = []
    for rows, cols in ((10000, 10000), (700, 300)):  # pr50k3's batches, then smaller ones
        results.append(m.compute_pr(opts, max_real=len(ref), num_gen=len(gen), nhood_size=3, row_batch_size=rows,
                                    col_batch_size=cols))
    assert results[0] == results[1], results
    precision, recall = results[0]
    # counts and radii, from the same emulated distances
    def kth(x):
        t = torch.from_numpy(x).to(torch.float16)
        return sg_cdist(t[None], t[None])[0].to(torch.float32).kthvalue(4).values.numpy()
    radii_ref, radii_gen = kth(ref), kth(gen)
    d = sg_cdist(torch.from_numpy(gen).half()[None], torch.from_numpy(ref).half()[None])[0].float().numpy()
    p_count = int(np.any(d <= radii_ref[None, :], axis=1).sum())
    r_count = int(np.any(d.T <= radii_gen[None, :], axis=1).sum())
    assert np.float32(p_count) / np.float32(len(gen)) == np.float32(precision), (p_count, precision)
    assert np.float32(r_count) / np.float32(len(ref)) == np.float32(recall), (r_count, recall)
    arrays = dict(precision_float32=np.array(precision), recall_float32=np.array(recall),
                  precision=np.array(p_count / len(gen)), recall=np.array(r_count / len(ref)),
                  precision_count=np.array(p_count), recall_count=np.array(r_count),
                  radii_ref=radii_ref, radii_gen=radii_gen)
    arrays.update(spec_arrays("ref", sr, ref))
    arrays.update(spec_arrays("gen", sgn, gen))
    np.savez(os.path.join(out_dir, name + ".npz"), **arrays)
    print(name, precision, recall, p_count, r_count)


def main():
    tf_root, gd_root, sg_root, out_dir = sys.argv[1:5]
    kid = load_torch_fidelity(tf_root)
    kid_case(kid, "kid_d64", spec(11, 2000, 64), spec(12, 1500, 64, 1.2, 0.1), 10, 500, out_dir)
    kid_case(kid, "kid_default", spec(21, 2500, 64), spec(22, 2500, 64, 1.1, 0.05), 100, 1000, out_dir)
    kid_case(kid, "kid_d2048", spec(31, 1200, 2048, 0.5, 0.0, True), spec(32, 1100, 2048, 0.55, 0.01, True), 10, 500,
             out_dir)
    gd = load_guided_diffusion(gd_root)
    gd_case(gd, "pr_gd_d64", spec(41, 2000, 64), spec(42, 1500, 64, 1.1, 0.1), 10000, out_dir)
    gd_case(gd, "pr_gd_d2048", spec(47, 1000, 2048, 0.5, 0.0, True), spec(48, 900, 2048, 0.503, 0.0, True), 10000, out_dir)
    gd_case(gd, "pr_gd_fallback", spec(43, 900, 64, big_rows=100, big_scale=40.0), spec(44, 700, 64, 1.1, 0.1), 300,
            out_dir)
    sg_case(sg_root, "pr_sg_d64", spec(45, 2000, 64), spec(46, 1500, 64, 1.1, 0.1), out_dir)
    sg_case(sg_root, "pr_sg_d2048", spec(49, 1000, 2048, 0.5, 0.0, True), spec(50, 900, 2048, 0.503, 0.0, True), out_dir)


if __name__ == "__main__":
    main()
