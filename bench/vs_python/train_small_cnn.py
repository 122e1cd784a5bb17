"""Python side of bench/vs_python: the same model (small_cnn, or ResNet-18 with the CIFAR stem as
mapd's models.cpp builds it), data, batch size, optimizer, device, mixed precision and thread count
as mapd_bench_vs_python --mode step, trained for a fixed number of steps with PyTorch eager (the
torch==2.11.0 of scripts/setup's virtual environment, or the GPU machine's). Prints one JSON line
with images/s."""
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


def conv(cin, cout, k, stride):
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False)


class BasicBlock(nn.Module):
    def __init__(self, cin, planes, stride):
        super().__init__()
        self.conv1, self.bn1 = conv(cin, planes, 3, stride), nn.BatchNorm2d(planes)
        self.conv2, self.bn2 = conv(planes, planes, 3, 1), nn.BatchNorm2d(planes)
        self.shortcut = (nn.Sequential(conv(cin, planes, 1, stride), nn.BatchNorm2d(planes))
                         if stride != 1 or cin != planes else nn.Identity())

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet18Cifar(nn.Module):
    """models.cpp resnet18 with stem=cifar: 3x3 stride-1 stem, no max-pool, [2, 2, 2, 2] blocks."""

    def __init__(self, in_channels=3, num_classes=10):
        super().__init__()
        self.stem = nn.Sequential(conv(in_channels, 64, 3, 1), nn.BatchNorm2d(64), nn.ReLU(inplace=True))
        layers, cin = [], 64
        for planes, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            layers += [BasicBlock(cin, planes, stride), BasicBlock(planes, planes, 1)]
            cin = planes
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x):
        return self.fc(self.layers(self.stem(x)).mean(dim=(2, 3)))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist",
                   help="an IDX folder, or cifar-synthetic (--n random 3x32x32 images)")
    p.add_argument("--n", type=int, default=50000)
    p.add_argument("--device", default="cpu")
    p.add_argument("--arch", default="small_cnn", choices=["small_cnn", "resnet18"])
    p.add_argument("--amp", default="off", choices=["off", "bf16", "fp16"])
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    dev = torch.device(a.device)
    if a.data == "cifar-synthetic":
        x = torch.randint(0, 256, (a.n, 3, 32, 32), dtype=torch.uint8).float().div_(255)
        y = torch.randint(0, 10, (a.n,), dtype=torch.int64)
    else:
        x = torch.from_numpy(read_idx(f"{a.data}/train-images-idx3-ubyte.gz").copy()).float().div_(255).unsqueeze(1)
        y = torch.from_numpy(read_idx(f"{a.data}/train-labels-idx1-ubyte.gz").astype(np.int64))
    x, y = x.to(dev), y.to(dev)
    n = x.shape[0]
    model = (SmallCnn(in_channels=x.shape[1]) if a.arch == "small_cnn" else ResNet18Cifar(x.shape[1])).to(dev)
    amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(a.amp)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    model.train()
    order, pos = None, n

    def step():
        nonlocal order, pos
        if pos + a.batch > n:
            order, pos = torch.randperm(n, device=dev), 0
        idx = order[pos:pos + a.batch]
        pos += a.batch
        xb, yb = x.index_select(0, idx), y.index_select(0, idx)
        opt.zero_grad()
        with torch.autocast(dev.type, dtype=amp_dtype or torch.bfloat16, enabled=amp_dtype is not None):
            logits = model(xb)
        loss = F.cross_entropy(logits.float(), yb)
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
    print(json.dumps({"impl": "python", "torch": torch.__version__, "device": a.device, "arch": a.arch,
                      "amp": a.amp, "steps": a.steps, "batch": a.batch,
                      "threads": a.threads, "seconds": seconds, "img_s": a.steps * a.batch / seconds,
                      "final_loss": final}))


if __name__ == "__main__":
    main()
