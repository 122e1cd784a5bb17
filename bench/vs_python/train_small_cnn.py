"""Python side of bench/vs_python: the same small_cnn, data, batch size, optimizer and thread count
as mapd_bench_vs_python --mode step, trained for a fixed number of steps with PyTorch (Debian's
python3-torch 1.13). Prints one JSON line with images/s. Run with /usr/bin/python3."""
import argparse
import gzip
import json
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


class SmallCnn(nn.Module):
    def __init__(self, in_channels=1, num_classes=10, width=32):
        super().__init__()
        layers, c = [], in_channels
        for w in (width, 2 * width, 4 * width):
            layers += [nn.Conv2d(c, w, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
            c = w
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x):
        return self.classifier(self.features(x).mean(dim=(2, 3)))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    x = torch.from_numpy(read_idx(f"{a.data}/train-images-idx3-ubyte.gz").copy()).float().div_(255).unsqueeze(1)
    y = torch.from_numpy(read_idx(f"{a.data}/train-labels-idx1-ubyte.gz").astype(np.int64))
    n = x.shape[0]
    model = SmallCnn()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    model.train()
    order, pos = None, n

    def step():
        nonlocal order, pos
        if pos + a.batch > n:
            order, pos = torch.randperm(n), 0
        idx = order[pos:pos + a.batch]
        pos += a.batch
        xb, yb = x.index_select(0, idx), y.index_select(0, idx)
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        return loss

    for _ in range(a.warmup):
        step()
    start = time.perf_counter()
    for _ in range(a.steps):
        loss = step()
    final = loss.item()
    seconds = time.perf_counter() - start
    print(json.dumps({"impl": "python", "torch": torch.__version__, "steps": a.steps, "batch": a.batch,
                      "threads": a.threads, "seconds": seconds, "img_s": a.steps * a.batch / seconds,
                      "final_loss": final}))


if __name__ == "__main__":
    main()
