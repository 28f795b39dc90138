#!/usr/bin/python3
"""Seed corpora of the data/image reader fuzz targets: small valid files (each under 16 KB).

Run with /usr/bin/python3 (numpy, PIL) from anywhere; rewrites fuzz/corpus/<target>/ for
npz, png, jpeg, edm_zip, dataset_json, cifar10, cifar10_strip and imagenet_downsampled.
Outputs are deterministic (fixed seeds, fixed zip timestamps).
"""
import io
import json
import pathlib
import shutil
import zipfile

import numpy as np
from PIL import Image

HERE = pathlib.Path(__file__).resolve().parent
TARGETS = ["npz", "png", "jpeg", "edm_zip", "dataset_json", "cifar10", "cifar10_strip", "imagenet_downsampled"]
DATE = (1980, 1, 1, 0, 0, 0)
rng = np.random.default_rng(17)


def npy_bytes(array, version=None):
    out = io.BytesIO()
    if version is None:
        np.save(out, array)
    else:
        np.lib.format.write_array(out, np.asarray(array), version=version)
    return out.getvalue()


def zip_bytes(members, compression=zipfile.ZIP_STORED, force_zip64=False):
    """members: (name, bytes) pairs, written in order with a fixed date."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, DATE)
            info.compress_type = compression
            with zf.open(info, "w", force_zip64=force_zip64) as f:
                f.write(data)
    return out.getvalue()


def npz_bytes(arrays, compression=zipfile.ZIP_STORED, force_zip64=False):
    return zip_bytes([(k + ".npy", npy_bytes(v)) for k, v in arrays.items()], compression, force_zip64)


def png_bytes(array, mode=None, **options):
    out = io.BytesIO()
    Image.fromarray(array, mode).save(out, "PNG", **options)
    return out.getvalue()


def jpeg_bytes(image, **options):
    out = io.BytesIO()
    image.save(out, "JPEG", **options)
    return out.getvalue()


def images(n, h, w, c):
    return rng.integers(0, 256, size=(n, h, w, c), dtype=np.uint8)


def seeds():
    s = {t: {} for t in TARGETS}

    s["npz"]["images_labels_stored.npz"] = npz_bytes({"images": images(3, 4, 4, 3), "labels": np.array([0, 5, 9])})
    s["npz"]["arr0_gray_deflated.npz"] = npz_bytes({"arr_0": images(2, 3, 3, 1)}, zipfile.ZIP_DEFLATED)
    s["npz"]["zip64.npz"] = npz_bytes({"images": images(1, 2, 2, 3), "labels": np.array([3], np.uint8)},
                                      force_zip64=True)
    s["npz"]["dtypes.npz"] = npz_bytes({"f4": np.arange(6, dtype="<f4").reshape(2, 3), "i2": np.array([-1, 2], "<i2"),
                                        "b": np.array([True, False]), "u8": np.uint8(7), "f8e": np.zeros((0, 4))})
    s["npz"]["statistics.npz"] = npz_bytes({"mu": np.zeros(2), "sigma": np.eye(2)}, zipfile.ZIP_DEFLATED)
    s["npz"]["imagenet_data.npz"] = npz_bytes({"data": images(2, 1, 1, 48).reshape(2, 48), "labels": np.array([1, 1000])})
    s["npz"]["images_v1.npy"] = npy_bytes(images(2, 2, 3, 3))
    s["npz"]["images_v2.npy"] = npy_bytes(images(1, 2, 2, 1), version=(2, 0))

    gray = rng.integers(0, 256, size=(5, 7), dtype=np.uint8)
    rgb = rng.integers(0, 256, size=(6, 5, 3), dtype=np.uint8)
    s["png"]["gray.png"] = png_bytes(gray)
    s["png"]["rgb.png"] = png_bytes(rgb)
    s["png"]["rgba.png"] = png_bytes(rng.integers(0, 256, size=(4, 4, 4), dtype=np.uint8))
    s["png"]["gray_alpha.png"] = png_bytes(rng.integers(0, 256, size=(3, 4, 2), dtype=np.uint8), "LA")
    s["png"]["palette.png"] = png_bytes(rgb[:, :, 0] % 4, "P")
    s["png"]["gray_16bit.png"] = png_bytes(rng.integers(0, 65536, size=(3, 3), dtype=np.uint16).astype(np.int32), "I")
    s["png"]["gray_1bit.png"] = png_bytes(gray > 127, "1")
    s["png"]["interlaced.png"] = Image_interlaced(rgb)
    exif = Image.Exif()
    exif[0x0112] = 6
    s["png"]["exif_rotated.png"] = png_bytes(rgb[:2, :3], exif=exif.tobytes())

    photo = Image.fromarray(np.kron(rng.integers(0, 256, size=(4, 4, 3), dtype=np.uint8), np.ones((4, 4, 1), np.uint8)))
    s["jpeg"]["rgb_baseline.jpg"] = jpeg_bytes(photo, quality=90)
    s["jpeg"]["rgb_420.jpg"] = jpeg_bytes(photo, quality=75, subsampling=2)
    s["jpeg"]["progressive.jpg"] = jpeg_bytes(photo, progressive=True)
    s["jpeg"]["gray.jpg"] = jpeg_bytes(photo.convert("L"))
    s["jpeg"]["cmyk.jpg"] = jpeg_bytes(photo.convert("CMYK"))
    s["jpeg"]["optimized.jpg"] = jpeg_bytes(photo.resize((24, 17)), optimize=True, quality=50)

    names = ["00000/img00000000.png", "00000/img00000001.png", "00000/img00000002.png"]
    pngs = [png_bytes(im) for im in images(3, 8, 8, 3)]
    labels = json.dumps({"labels": [[n, i] for i, n in enumerate(names)]}).encode()
    s["edm_zip"]["labelled.zip"] = zip_bytes(list(zip(names, pngs)) + [("dataset.json", labels)])
    s["edm_zip"]["labels_null.zip"] = zip_bytes([("dataset.json", b'{"labels": null}')] + list(zip(names[:2], pngs)),
                                                zipfile.ZIP_DEFLATED)
    s["edm_zip"]["gray_unlabelled.zip"] = zip_bytes([("a.png", png_bytes(gray)), ("b.PNG", png_bytes(gray[::-1]))])
    s["edm_zip"]["zip64.zip"] = zip_bytes(list(zip(names[:1], pngs)) + [("dataset.json", b'{"labels": [["' +
                                          names[0].encode() + b'", 4]]}')], force_zip64=True)

    s["dataset_json"]["labels.json"] = json.dumps({"labels": [["00000/img00000000.png", 3],
                                                              ["00000/img00000001.png", 0], ["a.png", 9]]}).encode()
    s["dataset_json"]["null.json"] = b'{"labels": null}'
    s["dataset_json"]["cifar_labels.json"] = b"[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]"
    s["dataset_json"]["no_labels.json"] = b'{"other": [1, 2]}'

    def records(n):
        out = bytearray()
        for i in range(n):
            out.append(i % 10)
            out += rng.integers(0, 256, size=3 * 1024, dtype=np.uint8).tobytes()
        return bytes(out)

    s["cifar10"]["test_root.bin"] = bytes([0]) + records(3)
    s["cifar10"]["test_batches_folder.bin"] = bytes([1]) + records(2)
    s["cifar10"]["train_root.bin"] = bytes([2]) + records(4)
    s["cifar10"]["wrong_size.bin"] = bytes([4]) + records(1)

    for n in (1, 3):
        strip = rng.integers(0, 256, size=(n, 1024, 3), dtype=np.uint8)
        s["cifar10_strip"][f"strip_{n}.png"] = png_bytes(strip, compress_level=9)
    s["cifar10_strip"]["gray_strip.png"] = png_bytes(np.zeros((2, 1024), np.uint8))

    for side, n in ((8, 4), (4, 2)):
        batch = {"data": images(n, 1, 1, 3 * side * side).reshape(n, -1),
                 "labels": rng.integers(1, 1001, size=n).astype(np.int64)}
        s["imagenet_downsampled"][f"batch_{side}x{side}.npz"] = npz_bytes(batch)
    s["imagenet_downsampled"]["batch_deflated.npz"] = npz_bytes(
        {"data": np.zeros((3, 48), np.uint8), "labels": np.array([1, 2, 3], np.int32), "mean": np.zeros(48)},
        zipfile.ZIP_DEFLATED)
    return s


def Image_interlaced(rgb):
    """PIL writes no interlaced PNG: re-encode an Adam7 PNG by hand (zlib over the seven passes)."""
    import struct
    import zlib

    h, w, _ = rgb.shape
    raw = bytearray()
    for y0, x0, dy, dx in ((0, 0, 8, 8), (0, 4, 8, 8), (4, 0, 8, 4), (0, 2, 4, 4), (2, 0, 4, 2), (0, 1, 2, 2),
                           (1, 0, 2, 1)):
        sub = rgb[y0::dy, x0::dx]
        if sub.size == 0:
            continue
        for row in sub:
            raw += b"\0" + row.tobytes()

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 1)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(raw))) + chunk(b"IEND", b"")


def main():
    for target, files in seeds().items():
        folder = HERE / target
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        for name, data in sorted(files.items()):
            assert len(data) < 16 * 1024, (target, name, len(data))
            (folder / name).write_bytes(data)
        print(f"{target}: {len(files)} seeds")


if __name__ == "__main__":
    main()
