#!/usr/bin/python3
"""A labelled colour dataset made here, for the colour half of issue 16's label-issue measurement.

No colour image dataset is reachable on this machine (Debian packages none; the network reaches
only Debian's archive and PyPI), so this is a synthetic stand-in, not CIFAR: 10 classes, 32x32
RGB. Each image is one Fashion-MNIST garment (/usr/share/datasets/fashion-mnist; its class is the
label) scaled to 22-32 pixels, placed at a random position, painted a random colour (kept at least
0.25 in mean brightness from the background) shaded by the garment's grey levels, opaque wherever
the garment is, over a random crop of a colour photograph (scikit-learn's sample images china.jpg
and flower.jpg, half their texture kept), then the whole image gets a random brightness, contrast
and per-channel gain. Colour, background, size, position and lighting are nuisance; only the
garment's shape tells the class. It is much harder than grey Fashion-MNIST for mapd's small CNN:
test accuracy 0.61-0.62 after 20 epochs of 10,000 images with 15% of the labels flipped
(docs/detection.md, "A colour dataset").

Writes OUT/train (the first --train Fashion-MNIST training garments) and OUT/test (the first --test
t10k garments) as PNGs with a CSV manifest (path,label,id) and classes.txt, the format of mapd's
`manifest` reader (data.format=manifest; every image is colour, so data.channels=0 reads 3) and of
bench/detection/cleanlab_cv.py. Everything is drawn from --seed; the labels are clean (mapd's
data.label_noise flips them). Also writes OUT/preview.png, the first 64 training images.

usage: colour_dataset.py OUT [--train 10000] [--test 2000] [--seed 0]
"""
import argparse
import os
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "probes"))
from ood_sources import CLASSES, read_idx  # noqa: E402  (Fashion-MNIST's IDX files and class names)

PHOTOS = [os.path.join("/usr/lib/python3/dist-packages/sklearn/datasets/images", f)
          for f in ("china.jpg", "flower.jpg")]
SIZE = 32


def background(photos, rng):
    p = photos[rng.integers(len(photos))]
    s = int(rng.integers(SIZE, 160))
    y, x = int(rng.integers(0, p.shape[0] - s)), int(rng.integers(0, p.shape[1] - s))
    crop = np.asarray(Image.fromarray(p[y:y + s, x:x + s]).resize((SIZE, SIZE), Image.BOX), np.float32) / 255
    return 0.5 * crop + 0.5 * crop.mean((0, 1))  # half the photo's texture


def composite(garment, photos, rng):
    s = int(rng.integers(22, SIZE + 1))
    g = np.asarray(Image.fromarray(garment).resize((s, s), Image.BILINEAR), dtype=np.float32) / 255.0
    grey = np.zeros((SIZE, SIZE, 1), np.float32)
    y, x = rng.integers(0, SIZE - s + 1, size=2)
    grey[y:y + s, x:x + s, 0] = g / max(g.max(), 1e-3)
    alpha = np.minimum(1, grey / 0.15)  # opaque wherever there is garment, dark garments too
    bg = background(photos, rng)
    colour = rng.uniform(0.0, 1.0, size=3).astype(np.float32)
    if abs(colour.mean() - bg.mean()) < 0.25:  # a garment as bright as its background: shift it away
        colour = np.clip(colour + np.copysign(0.35, colour.mean() - bg.mean()), 0, 1)
    image = alpha * colour * (0.4 + 0.6 * grey) + (1 - alpha) * bg  # grey levels as shading
    contrast, brightness = rng.uniform(0.6, 1.2), rng.uniform(-0.15, 0.15)
    gain = rng.uniform(0.8, 1.2, size=3)
    image = (image - 0.5) * contrast + 0.5 + brightness
    return (np.clip(image * gain, 0, 1) * 255 + 0.5).astype(np.uint8)


def write(folder, garments, labels, photos, rng):
    os.makedirs(os.path.join(folder, "img"), exist_ok=True)
    images = []
    with open(os.path.join(folder, "manifest.csv"), "w") as f:
        f.write("path,label,id\n")
        for i, (garment, y) in enumerate(zip(garments, labels)):
            images.append(composite(garment, photos, rng))
            Image.fromarray(images[-1]).save(os.path.join(folder, f"img/{i}.png"))
            f.write(f"img/{i}.png,{int(y)},{i}\n")
    with open(os.path.join(folder, "classes.txt"), "w") as f:
        f.write("\n".join(CLASSES) + "\n")
    return images


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--train", type=int, default=10000)
    ap.add_argument("--test", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    photos = [np.asarray(Image.open(p).convert("RGB")) for p in PHOTOS]
    train = write(os.path.join(a.out, "train"), read_idx("train-images-idx3-ubyte.gz")[:a.train],
                  read_idx("train-labels-idx1-ubyte.gz")[:a.train], photos, rng)
    write(os.path.join(a.out, "test"), read_idx("t10k-images-idx3-ubyte.gz")[:a.test],
          read_idx("t10k-labels-idx1-ubyte.gz")[:a.test], photos, rng)
    grid = np.concatenate([np.concatenate(train[r * 8:r * 8 + 8], 1) for r in range(min(8, len(train) // 8))])
    Image.fromarray(grid).resize((grid.shape[1] * 3, grid.shape[0] * 3), Image.NEAREST).save(
        os.path.join(a.out, "preview.png"))


if __name__ == "__main__":
    main()
