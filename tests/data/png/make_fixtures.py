#!/usr/bin/env python3
"""Writes the PNG fixtures of tests/test_core_png.cpp with python3's zlib alone (no image library),
so that their pixels are known independently of the decoders under test. Run from this folder."""
import struct
import zlib

# Adam7 passes: (x start, y start, x step, y step).
ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def pack_row(samples, bit_depth):
    """One scanline of samples (a flat list) at bit_depth, filter type 0."""
    if bit_depth == 16:
        return b"\x00" + b"".join(struct.pack(">H", s) for s in samples)
    if bit_depth == 8:
        return b"\x00" + bytes(samples)
    out, acc, used = bytearray(), 0, 0
    for s in samples:
        acc = (acc << bit_depth) | s
        used += bit_depth
        if used == 8:
            out.append(acc)
            acc, used = 0, 0
    if used:
        out.append(acc << (8 - used))
    return b"\x00" + bytes(out)


def write_png(name, width, height, bit_depth, color_type, pixels, extra=b"", interlace=False):
    """pixels[y][x] is a tuple of samples (1 for gray or palette index, 2, 3 or 4)."""
    raw = b""
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    for x0, y0, dx, dy in passes:
        xs = range(x0, width, dx)
        for y in range(y0, height, dy):
            if xs:
                raw += pack_row([s for x in xs for s in pixels[y][x]], bit_depth)
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 1 if interlace else 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", zlib.compress(raw, 9))
    data += chunk(b"IEND", b"")
    with open(name, "wb") as f:
        f.write(data)


def grid(width, height, f):
    return [[f(x, y) for x in range(width)] for y in range(height)]


# Formulas repeated in tests/test_core_png.cpp.
write_png("gray.png", 4, 3, 8, 0, grid(4, 3, lambda x, y: (x * 60 + y * 7,)))
write_png("gray_alpha.png", 3, 2, 8, 4, grid(3, 2, lambda x, y: (x * 100 + y * 20, 255 - x * 120)))
write_png("gray_2bit.png", 5, 2, 2, 0, grid(5, 2, lambda x, y: ((x + y) % 4,)))
write_png("gray_16bit.png", 3, 1, 16, 0, [[(0x12FF,), (0x8000,), (0xFFFF,)]])
write_png("rgb.png", 3, 2, 8, 2, grid(3, 2, lambda x, y: (10 + 80 * x, 200 - 90 * y, 40 * x + 30 * y)))
write_png("rgba.png", 3, 2, 8, 6, grid(3, 2, lambda x, y: (250 - 70 * x, 5 + 100 * y, 128, 60 * x + y)))
palette = [(0, 0, 0), (255, 0, 0), (0, 200, 0), (10, 20, 250), (255, 255, 255)]
write_png("palette.png", 4, 2, 4, 3, grid(4, 2, lambda x, y: ((x + 2 * y) % 5,)),
          extra=chunk(b"PLTE", b"".join(bytes(c) for c in palette)) + chunk(b"tRNS", bytes([255, 128])))
write_png("rgb_16bit.png", 2, 1, 16, 2, [[(0x12FF, 0x0080, 0xFF7F), (0xABCD, 0x0001, 0x7FFF)]])
write_png("interlaced.png", 9, 9, 8, 2, grid(9, 9, lambda x, y: (x * 28, y * 28, (x * 9 + y) % 256)), interlace=True)
# EXIF orientation 6 ("rotate 90 degrees clockwise to display"), which OpenCV's reader applies.
exif = b"MM\x00\x2a" + struct.pack(">IH", 8, 1) + struct.pack(">HHIHH", 0x0112, 3, 1, 6, 0) + struct.pack(">I", 0)
write_png("exif_rotated.png", 3, 2, 8, 2, grid(3, 2, lambda x, y: (10 + 80 * x, 200 - 90 * y, 40 * x + 30 * y)),
          extra=chunk(b"eXIf", exif))
