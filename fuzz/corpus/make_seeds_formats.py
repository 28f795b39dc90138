#!/usr/bin/python3
"""Seed corpora of the checkpoint, store, statistics, config and torchscript fuzz targets.

Run from the repository root with a built cmbench (build/cmbench): it trains a tiny MLP for the
checkpoints and cuts small stores out of ci/baselines/*.h5. Needs numpy and h5py.
    /usr/bin/python3 fuzz/corpus/make_seeds_formats.py [build/cmbench]
"""
import json
import os
import struct
import subprocess
import sys
import tempfile
import zlib

import h5py
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
CMBENCH = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "cmbench")


def out(target, name):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    return os.path.join(folder, name)


TRAIN_TOML = """seed = 7
device = "cpu"
[method]
name = "edm"
[net]
arch = "mlp"
img_channels = 2
img_resolution = 1
hidden = 8
layers = 1
[data]
source = "gaussian"
mean = 0.3
std = 0.5
channels = 2
resolution = 1
[train]
steps = 2
batch = 8
optimizer = "adam"
lr = 1e-3
checkpoint_every = 2
log_every = 1
[ema.ema]
kind = "fixed"
beta = 0.99
"""


# The smallest DDPM++ U-Net: one level of 4 channels at 4x4 (about 2,200 weights).
UNET_TOML = TRAIN_TOML.replace("""arch = "mlp"
img_channels = 2
img_resolution = 1
hidden = 8
layers = 1
""", """arch = "ddpmpp"
img_resolution = 4
in_channels = 1
out_channels = 1
model_channels = 4
channel_mult = [1]
num_blocks = 1
attn_resolutions = []
channel_mult_emb = 1
channel_mult_noise = 1
""").replace("channels = 2\nresolution = 1", "channels = 1\nresolution = 4").replace("steps = 2", "steps = 1")


def copy_attributes(source, destination):
    for name in source.attrs:
        destination.attrs.create(name, source.attrs[name], dtype=source.attrs.get_id(name).dtype)


# ---- checkpoints: a trained tiny MLP, then slimmer variants of it ---------------------------------
def train(toml, tmp):
    """The last checkpoint of `cmbench train` on the config text `toml`, run in folder `tmp`."""
    os.makedirs(tmp, exist_ok=True)
    config = os.path.join(tmp, "train.toml")
    with open(config, "w") as f:
        f.write(toml)
    run = os.path.join(tmp, "run")
    subprocess.run([CMBENCH, "--threads", "1", "--log-level", "off", "train", "--config", config, "--out", run],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return sorted(os.path.join(d, f) for d, _, fs in os.walk(run) for f in fs if f.endswith(".h5"))[-1]


def checkpoints():
    with tempfile.TemporaryDirectory() as tmp:
        unet = train(UNET_TOML, os.path.join(tmp, "unet"))
        with h5py.File(unet, "r") as src, h5py.File(out("checkpoint", "ddpmpp_tiny_ema.h5"), "w") as dst:
            for attribute in ("format", "config"):
                dst.attrs.create(attribute, src.attrs[attribute], dtype=src.attrs.get_id(attribute).dtype)
            src.copy(src["ema"], dst)
        trained = train(TRAIN_TOML, tmp)

        def variant(name, groups, attributes=None, rename=None):
            with h5py.File(trained, "r") as src, h5py.File(out("checkpoint", name), "w") as dst:
                for attribute in attributes if attributes is not None else src.attrs:
                    dst.attrs.create(attribute, src.attrs[attribute], dtype=src.attrs.get_id(attribute).dtype)
                for group in groups:
                    src.copy(src[group], dst, name=(rename or {}).get(group, group))

        with h5py.File(trained, "r") as src:
            groups = list(src.keys())
        variant("mlp_all_groups.h5", groups)
        variant("mlp_ema.h5", ["ema"], ["format", "config", "step"])
        variant("mlp_model_no_format.h5", ["model"], ["config"])
        variant("mlp_no_config.h5", ["ema"], ["format"])
        variant("mlp_ema_named.h5", ["ema", "model"], ["format", "config"], {"ema": "ema.fixed"})
    # A file in the Python reference's layout, written by h5py alone (float64 weights, gzip).
    with h5py.File(out("checkpoint", "mlp_ema.h5"), "r") as src, h5py.File(out("checkpoint", "h5py_gzip.h5"), "w") as dst:
        dst.attrs["config"] = src.attrs["config"]
        ema = dst.create_group("ema")
        for name, data in src["ema"].items():
            ema.create_dataset(name, data=data[()].astype(np.float64), compression="gzip" if data.ndim else None)


# ---- stores: cut out of the CI baselines ---------------------------------------------------------
def copy_store(source_path, name, runs, rows, keep_grids):
    with h5py.File(source_path, "r") as src, h5py.File(out("store", name), "w") as dst:
        copy_attributes(src, dst)

        def copy_group(group, target):
            copy_attributes(group, target)
            for key, item in group.items():
                if isinstance(item, h5py.Group):
                    if key == "grids" and not keep_grids:
                        continue
                    copy_group(item, target.create_group(key))
                elif key.startswith("nfe_"):
                    data = target.create_dataset(key, data=tiny_png())
                    copy_attributes(item, data)
                else:
                    data = target.create_dataset(key, data=item[:rows])
                    copy_attributes(item, data)

        if runs:
            target = dst.create_group("runs")
            copy_attributes(src["runs"], target)
            for run in list(src["runs"])[:runs]:
                copy_group(src["runs"][run], target.create_group(run))
        copy_group(src["suites"], dst.create_group("suites"))


def tiny_png():
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\0" + bytes([x * 60, 255 - x * 60, 128]) * 2 for x in range(2))
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    return np.frombuffer(png, dtype=np.uint8)


def stores():
    truth = os.path.join(ROOT, "ci", "baselines", "ground-truth-ci.h5")
    ci = os.path.join(ROOT, "ci", "baselines", "ci.h5")
    copy_store(truth, "truth_one_run.h5", runs=1, rows=4, keep_grids=True)
    copy_store(truth, "truth_two_runs_no_grids.h5", runs=2, rows=3, keep_grids=False)
    copy_store(ci, "ci_one_run.h5", runs=1, rows=6, keep_grids=True)
    copy_store(ci, "ci_suites_only.h5", runs=0, rows=8, keep_grids=False)
    with h5py.File(ci, "r") as src, h5py.File(out("store", "empty.h5"), "w") as dst:
        copy_attributes(src, dst)


# ---- statistics ------------------------------------------------------------------------------------
def statistics():
    rng = np.random.default_rng(0)

    def stats(d, dtype=np.float64):
        x = rng.standard_normal((3 * d, d))
        return x.mean(0).astype(dtype), np.cov(x, rowvar=False).astype(dtype)

    def meta(d):
        return np.frombuffer(json.dumps({"detector": "synthetic", "d": d}).encode(), dtype=np.uint8)

    mu, sigma = stats(4)
    np.savez(out("statistics", "cmbench_d4.npz"), mu=mu, sigma=sigma, n=np.int64(12), meta=meta(4))
    mu, sigma = stats(8, np.float32)
    np.savez(out("statistics", "edm_float32_d8.npz"), mu=mu, sigma=sigma)
    mu, sigma = stats(3)
    mu_s, sigma_s = stats(5)
    np.savez(out("statistics", "with_sfid_d3.npz"), mu=mu, sigma=sigma, mu_s=mu_s, sigma_s=sigma_s, n=np.int64(9))
    mu, sigma = stats(6)
    np.savez_compressed(out("statistics", "compressed_d6.npz"), mu=mu, sigma=sigma, n=np.float64(18))
    np.savez(out("statistics", "d1.npz"), mu=np.zeros(1), sigma=np.ones((1, 1)))


# ---- configs and suites: TOML, then after a NUL byte one --set override per line -------------------
def configs():
    def write(name, text, sets=()):
        data = text.encode() + (b"\0" + "\n".join(sets).encode() if sets else b"")
        with open(out("config", name), "wb") as f:
            f.write(data)

    write("train_mlp.toml", TRAIN_TOML)
    write("train_mlp_sets.toml", TRAIN_TOML, ["train.steps=3", "net.hidden=16", "method.name=\"ect\"",
                                              "ema.ema.beta=0.5", "data.mean=[0.1, 0.2]"])
    write("train_bare_set.toml", TRAIN_TOML, ["train.optimizer=radam", "new.table.key={ a = 1, b = [true] }"])
    for suite in ("ci", "cifar10-smoke", "ground-truth-ci"):
        with open(os.path.join(ROOT, "suites", suite + ".toml")) as f:
            write("suite_" + suite + ".toml", f.read())


# ---- TorchScript detectors: the archive torch.jit.save writes, by hand (no torch needed) ------------
def pickle_string(text):
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def torchscript(path, class_name, code, parameters=()):
    """A TorchScript archive holding one module of class __torch__.CLASS_NAME; `parameters` are
    (name, float32 numpy array) pairs, saved as data/N and rebuilt by torch._utils._rebuild_tensor_v2."""
    import zipfile
    state = b"}(" + pickle_string("training") + b"\x89"  # EMPTY_DICT, MARK, "training": False
    for key, (name, array) in enumerate(parameters):
        storage = b"(" + pickle_string("storage") + b"ctorch\nFloatStorage\n" + pickle_string(str(key))
        storage += pickle_string("cpu") + b"J" + struct.pack("<i", array.size) + b"tQ"  # TUPLE, BINPERSID
        sizes = b"(" + b"".join(b"J" + struct.pack("<i", n) for n in array.shape) + b"t"
        strides = b"(" + b"".join(b"J" + struct.pack("<i", n // 4) for n in array.strides) + b"t"
        tensor = b"ctorch._utils\n_rebuild_tensor_v2\n(" + storage + b"K\x00" + sizes + strides
        tensor += b"\x88ccollections\nOrderedDict\n)R" + b"tR"  # requires_grad, hooks; TUPLE, REDUCE
        state += pickle_string(name) + tensor
    data = b"\x80\x02c__torch__\n" + class_name.encode() + b"\n)\x81" + state + b"ub."
    name = os.path.splitext(os.path.basename(path))[0]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        def put(entry, content):
            info = zipfile.ZipInfo(name + "/" + entry, date_time=(1980, 1, 1, 0, 0, 0))
            archive.writestr(info, content)
        put("data.pkl", data)
        put("code/__torch__.py", code)
        put("constants.pkl", b"\x80\x02).")
        put("version", "3\n")
        for key, (_, array) in enumerate(parameters):
            put("data/" + str(key), np.ascontiguousarray(array, dtype="<f4").tobytes())


def torchscripts():
    torchscript(out("torchscript", "add_one.pt"), "AddOne", """class AddOne(Module):
  __parameters__ = []
  __buffers__ = []
  training : bool
  def forward(self: __torch__.AddOne,
    x: Tensor) -> Tensor:
    return torch.add(x, 1)
""")
    weight = np.arange(48, dtype=np.float32).reshape(16, 3) / 48
    torchscript(out("torchscript", "features16.pt"), "Features", """class Features(Module):
  __parameters__ = ["weight", ]
  __buffers__ = []
  weight : Tensor
  training : bool
  def forward(self: __torch__.Features,
    img: Tensor,
    return_features: bool=True) -> Tensor:
    x = torch.mean(torch.to(img, 6), [2, 3])
    return torch.matmul(x, torch.t(self.weight))
""", [("weight", weight)])
    torchscript(out("torchscript", "two_parameters.pt"), "Pair", """class Pair(Module):
  __parameters__ = ["a", "b", ]
  __buffers__ = []
  a : Tensor
  b : Tensor
  training : bool
  def forward(self: __torch__.Pair,
    x: Tensor) -> Tensor:
    return torch.add(torch.mul(x, self.a), self.b)
""", [("a", np.ones((2, 2), np.float32)), ("b", np.full((2,), 0.5, np.float32))])


if __name__ == "__main__":
    checkpoints()
    stores()
    statistics()
    configs()
    torchscripts()
