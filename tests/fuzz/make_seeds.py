#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets under tests/fuzz/corpus/<target>/ (docs/fuzzing.md).

  tests/fuzz/make_seeds.py [--mapd PATH]

Small, valid inputs of each reader plus a few near misses, in the input layout each target's
header describes. With --mapd (a built mapd binary; Fashion-MNIST from Debian's
dataset-fashion-mnist) it also runs two tiny audits and writes their dynamics.h5 and
assignments.h5, as mapd wrote them and repacked by h5repack into HDF5's older object formats,
whose metadata has no checksums, so that the fuzzer's mutations reach past the checksum checks.
Crash reproducers are not made here: they are kept in the corpus as libFuzzer wrote them.
"""
import argparse
import gzip
import json
import os
import shutil
import struct
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def put(target, name, data):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def idx_images(n, rows, cols):
    pixels = bytes((i * 37 + 11) % 256 for i in range(n * rows * cols))
    return struct.pack(">IIII", 0x803, n, rows, cols) + pixels


def idx_labels(labels):
    return struct.pack(">II", 0x801, len(labels)) + bytes(labels)


def idx_input(options, images, labels):
    return bytes([options]) + struct.pack("<I", len(images)) + images + labels


def gz(data):
    return gzip.compress(data, mtime=0)


def idx_seeds():
    images, labels = idx_images(4, 3, 5), idx_labels([0, 2, 1, 2])
    put("fuzz_idx", "plain", idx_input(0x00, images, labels))
    put("fuzz_idx", "gzipped", idx_input(0x01, gz(images), gz(labels)))
    put("fuzz_idx", "fashion-test-limit-noise-rgb", idx_input(0x2F, images, gz(labels)))
    put("fuzz_idx", "label-count-differs", idx_input(0x10, images, idx_labels([0, 1, 1])))
    put("fuzz_idx", "truncated-gzip", idx_input(0x00, gz(images)[:-9], labels))
    put("fuzz_idx", "fashion-label-10", idx_input(0x01, images, idx_labels([0, 10, 1, 2])))


def cifar_record(label_bytes, seed):
    return bytes(label_bytes) + bytes((i * seed + 3) % 256 for i in range(3072))


def cifar_seeds():
    put("fuzz_cifar", "cifar10", bytes([0]) + cifar_record([3], 5) + cifar_record([9], 7))
    put("fuzz_cifar", "cifar10-names-limit", bytes([0x80 | (10 << 3) | 4]) + cifar_record([1], 3) +
        cifar_record([0], 9))
    put("fuzz_cifar", "cifar100-fine", bytes([1]) + cifar_record([4, 77], 5) + cifar_record([19, 99], 2))
    put("fuzz_cifar", "cifar100-coarse-names", bytes([1 | 2 | 4 | (3 << 3)]) + cifar_record([2, 50], 5))
    put("fuzz_cifar", "cifar10-label-10", bytes([0]) + cifar_record([10], 5))
    put("fuzz_cifar", "cifar10-short", bytes([0]) + cifar_record([1], 5)[:-1])


def manifest_seeds():
    put("fuzz_manifest", "basic", b"\x00path,label\ncolour.png,0\ngrey.png,1\nphoto.jpg,2\n")
    put("fuzz_manifest", "ids-grey-names", b"\x00id,path,label\n7,grey.pgm,0\n3,grey.png,1\n\x00cat\ndog\r\n")
    put("fuzz_manifest", "bom-quoted-crlf", b"\x01\xef\xbb\xbfpath,label\r\n\"sub/small.bmp\",1\r\n\"colour.ppm\",0\r\n")
    put("fuzz_manifest", "bad-images", b"\x02path,label\ncut.jpg,0\nbroken.png,1\nempty.bmp,0\ncolour.png,1\n")
    put("fuzz_manifest", "on-demand-test-split", b"\x0ccolour.png,x\npath,label\n" + b"".join(
        b"%s,%d\n" % (name, i % 3) for i, name in enumerate([b"colour.png", b"photo.jpg", b"sub/small.bmp"])))
    put("fuzz_manifest", "num-classes-limit-noise", b"\x70label,path,id\n0,colour.png,1\n2,grey.png,2\n1,photo.jpg,3\n")
    put("fuzz_manifest", "stem-classes", b"\x80path,label\ncolour.png,1\nfolder.png,0\n\x00a\nb\n")
    put("fuzz_manifest", "missing-file", b"\x00path,label\nnope.png,0\n")


def config_seeds():
    with open(os.path.join(ROOT, "configs", "reference.yaml"), "rb") as f:
        put("fuzz_config_yaml", "reference.yaml", f.read())
    for name in ["quick.yaml", "fashion-mnist-noise20.yaml", "cifar10-label-correction.yaml",
                 "image-folder.yaml"]:
        with open(os.path.join(ROOT, "configs", name), "rb") as f:
            put("fuzz_config_yaml", name, f.read())
    put("fuzz_config_yaml", "flow.yaml",
        "{data: {format: manifest, path: 'a.csv', augment: {mean: [0.5, .5], std: [1, 2e0]}}, "
        "train: {epochs: 3, mode: label_correction}}\n")
    put("fuzz_config_yaml", "anchors.yaml",
        "base: &b {epochs: 2}\ntrain: *b\nknn:\n  k: !!int 5\n  epoch_end: ~\nreport: {top_n: +3}\n")
    put("fuzz_config_yaml", "empty.yaml", "")
    put("fuzz_config_json", "small.json",
        json.dumps({"data": {"limit": 100, "label_noise": {"rate": 0.2}}, "train": {"epochs": 2}}))
    put("fuzz_config_json", "types.json",
        '{"model": {"width": 1.0e1}, "schedule": {"milestones": [1, 2]}, "probes": {"suite": "none"},'
        ' "knn": {"k": 3}, "output": {}}')
    put("fuzz_config_json", "empty-object.json", "{}")


def record_seeds(mapd):
    tmp = tempfile.mkdtemp(prefix="mapd-seeds-")
    try:
        common = ["--set", "data.limit=40", "--set", "train.epochs=3", "--set", "probes.fit_per_category=2",
                  "--set", "probes.val_per_category=1", "--set", "probes.max_fraction=0.5",
                  "--set", "train.batch_size=16", "--set", "train.threads=1", "--set", "knn.k=3"]
        runs = {
            "audit": ["audit"] + common,
            "lc": ["train", "--mode", "label_correction"] + common +
                  ["--set", "record.dtype=fp32", "--set", "label_correction.warmup_epochs=1"],
        }
        for name, args in runs.items():
            run_dir = os.path.join(tmp, name)
            subprocess.run([mapd, "--log-level", "error", "--run-dir", run_dir] + args, check=True)
        files = [("fuzz_dynamics_h5", "dynamics-fp16.h5", "audit/dynamics.h5"),
                 ("fuzz_dynamics_h5", "dynamics-fp32-signals.h5", "lc/dynamics.h5"),
                 ("fuzz_assignments_h5", "assignments.h5", "audit/assignments.h5")]
        for target, name, source in files:
            with open(os.path.join(tmp, source), "rb") as f:
                put(target, name, f.read())
            old = os.path.join(tmp, "old.h5")
            subprocess.run(["h5repack", "--low=0", "--high=2", os.path.join(tmp, source), old], check=True)
            with open(old, "rb") as f:
                put(target, name.replace(".h5", "-old-format.h5"), f.read())
            os.remove(old)
        # Each reader also gets the other kind of file (describe_store tells them apart).
        shutil.copy(os.path.join(CORPUS, "fuzz_assignments_h5", "assignments-old-format.h5"),
                    os.path.join(CORPUS, "fuzz_dynamics_h5", "other-kind-assignments.h5"))
        shutil.copy(os.path.join(CORPUS, "fuzz_dynamics_h5", "dynamics-fp16-old-format.h5"),
                    os.path.join(CORPUS, "fuzz_assignments_h5", "other-kind-dynamics.h5"))
    finally:
        shutil.rmtree(tmp)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mapd", help="a built mapd binary: also write the HDF5 seeds")
    args = parser.parse_args()
    idx_seeds()
    cifar_seeds()
    manifest_seeds()
    config_seeds()
    if args.mapd:
        record_seeds(args.mapd)


if __name__ == "__main__":
    main()
