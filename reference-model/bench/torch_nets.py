"""The reference architectures of `reference-model/src/nets` in PyTorch, and the PyTorch side
of the forward-pass benchmark (`forward.sh` runs it after `examples/forward_bench.rs`).

The modules have the Rust networks' parameter names (PyTorch state_dict keys), so
`load_state_dict(safetensors.torch.load_file(path), strict=False)` takes the very weights the
Candle side used; the only keys Candle lacks are batch norm's `num_batches_tracked`, which
inference does not read.

Usage (the Candle side writes OUT and WEIGHTS and prints the JSON whose `arch_config` is
passed here):

    python torch_nets.py --arch-config JSON --weights WEIGHTS --candle-out OUT \
        [--threads N] [--warmup 2] [--reps 10]

prints one JSON object: the median forward time and the largest absolute differences from
Candle's outputs.
"""

import argparse
import json
import os
import statistics
import time

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

# Batch norm as `candle_nn::batch_norm` with `BatchNormConfig::default()`: eps 1e-5, affine.
EPS = 1e-5


def conv(cin, cout, k, stride=1, bias=False):
    """`blocks::Conv` in 2D: padding k // 2."""
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=bias)


class ResBlock(nn.Module):
    """`blocks::ResBlock`: two 3x3 convolutions with batch norm, 1x1 shortcut when widening."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = conv(cin, cout, 3)
        self.bn1 = nn.BatchNorm2d(cout, eps=EPS)
        self.conv2 = conv(cout, cout, 3)
        self.bn2 = nn.BatchNorm2d(cout, eps=EPS)
        self.shortcut = None if cin == cout else nn.Sequential(conv(cin, cout, 1), nn.BatchNorm2d(cout, eps=EPS))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        skip = x if self.shortcut is None else self.shortcut(x)
        return F.relu(y + skip)


class UNet(nn.Module):
    """`unet::UNet` in 2D: enc.{l} at width * 2^l, 2x2 max-pool, nearest upsampling to the
    skip's size, concatenation [up, skip] into dec.{l}."""

    def __init__(self, cin, width, levels):
        super().__init__()
        ch = lambda l: width << l  # noqa: E731
        self.enc = nn.ModuleList(ResBlock(cin if l == 0 else ch(l - 1), ch(l)) for l in range(levels))
        self.dec = nn.ModuleList(ResBlock(ch(l + 1) + ch(l), ch(l)) for l in range(levels - 1))

    def forward(self, x):
        skips = []
        y = x
        for l, block in enumerate(self.enc):
            if l > 0:
                y = F.max_pool2d(y, 2)
            y = block(y)
            skips.append(y)
        for l in reversed(range(len(self.dec))):
            skip = skips[l]
            up = F.interpolate(y, size=skip.shape[-2:], mode="nearest")
            y = self.dec[l](torch.cat([up, skip], 1))
        return y


class SegHead(nn.Module):
    """`unet::SegHead`: a residual block and a 1x1 convolution (with bias) to one logit."""

    def __init__(self, width):
        super().__init__()
        self.block = ResBlock(width, width)
        self.conv = conv(width, 1, 1, bias=True)

    def forward(self, features):
        return self.conv(self.block(features))


class SegNet(nn.Module):
    """`unet::SegNet` (`Arch::Unet` with dims two): backbone and head. Returns (logits, None)."""

    def __init__(self, width, levels):
        super().__init__()
        self.backbone = UNet(1, width, levels)
        self.head = SegHead(width)

    def forward(self, x):
        return self.head(self.backbone(x)), None

    def classify(self, pooled):
        return None


class Bottleneck(nn.Module):
    """`resnet::Bottleneck`, torchvision's v1.5 (stride on the 3x3 convolution)."""

    def __init__(self, cin, planes, stride):
        super().__init__()
        out = planes * 4
        self.conv1 = conv(cin, planes, 1)
        self.bn1 = nn.BatchNorm2d(planes, eps=EPS)
        self.conv2 = conv(planes, planes, 3, stride)
        self.bn2 = nn.BatchNorm2d(planes, eps=EPS)
        self.conv3 = conv(planes, out, 1)
        self.bn3 = nn.BatchNorm2d(out, eps=EPS)
        self.downsample = None
        if stride != 1 or cin != out:
            self.downsample = nn.Sequential(conv(cin, out, 1, stride), nn.BatchNorm2d(out, eps=EPS))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        skip = x if self.downsample is None else self.downsample(x)
        return F.relu(y + skip)


class ResNet(nn.Module):
    """`resnet::ResNet`: 7x7 stride-2 stem, batch norm, ReLU, then a 2x2 stride-2 max-pool
    (not torchvision's 3x3 one), bottleneck stages, global average pooling per slice.
    Returns (None, features [n, c])."""

    def __init__(self, width, blocks):
        super().__init__()
        self.conv1 = conv(1, width, 7, stride=2)
        self.bn1 = nn.BatchNorm2d(width, eps=EPS)
        cin = width
        self.layers = []
        for i, n in enumerate(blocks):
            planes = width << i
            stage = []
            for b in range(n):
                stage.append(Bottleneck(cin, planes, 2 if i > 0 and b == 0 else 1))
                cin = planes * 4
            layer = nn.Sequential(*stage)
            self.add_module(f"layer{i + 1}", layer)
            self.layers.append(layer)
        self.fc = nn.Linear(cin, 1)

    def forward(self, x):
        y = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        for layer in self.layers:
            y = layer(y)
        return None, y.mean(dim=(2, 3))

    def classify(self, pooled):
        return self.fc(pooled).flatten()


class ClsHead(nn.Module):
    """The multitask network's `cls_head`: fc1, ReLU, fc2."""

    def __init__(self, features, hidden):
        super().__init__()
        self.fc1 = nn.Linear(features, hidden)
        self.fc2 = nn.Linear(hidden, 1)

    def forward(self, pooled):
        return self.fc2(F.relu(self.fc1(pooled))).flatten()


class Multitask(nn.Module):
    """`multitask::Multitask`: U-Net backbone, segmentation head, and per-slice pyramid
    features (adaptive max or average pooling to b x b for each b, flattened channel-major
    and concatenated). Returns (logits, features [n, f])."""

    def __init__(self, width, levels, pyramid, hidden, pool="average"):
        super().__init__()
        self.backbone = UNet(1, width, levels)
        self.seg_head = SegHead(width)
        kind = {"average": nn.AdaptiveAvgPool2d, "max": nn.AdaptiveMaxPool2d}[pool]
        self.pools = nn.ModuleList(kind(b) for b in pyramid)
        self.cls_head = ClsHead(width * sum(b * b for b in pyramid), hidden)

    def forward(self, x):
        features = self.backbone(x)
        pooled = torch.cat([pool(features).flatten(1) for pool in self.pools], 1)
        return self.seg_head(features), pooled

    def classify(self, pooled):
        return self.cls_head(pooled)


def build(arch):
    """The module of a serialised `nets::Arch` (as `forward_bench` prints it)."""
    kind = arch["kind"]
    if kind == "unet":
        if arch["dims"] != "two":
            raise ValueError("only the 2D U-Net is implemented here")
        return SegNet(arch["width"], arch["levels"])
    if kind == "resnet":
        return ResNet(arch["width"], arch["blocks"])
    if kind == "multitask":
        return Multitask(
            arch["width"], arch["levels"], arch["pyramid"], arch["hidden"],
            arch.get("pool", "average"),
        )
    raise ValueError(f"unknown architecture {kind!r}")


def load(net, path):
    """Loads Candle's safetensors into `net`; fails unless the file has exactly the keys of
    `net.state_dict()` but batch norm's `num_batches_tracked`. Returns how many of those
    were left at their default. (`load_state_dict` does not list them as missing: batch
    norm fills them in itself when a checkpoint lacks them.)"""
    tensors = load_file(path)
    untracked = {k for k in net.state_dict() if k.endswith("num_batches_tracked")}
    missing = set(net.state_dict()) - untracked - set(tensors)
    unexpected = set(tensors) - set(net.state_dict())
    if missing or unexpected:
        raise ValueError(f"state_dict mismatch: missing {sorted(missing)}, unexpected {sorted(unexpected)}")
    result = net.load_state_dict(tensors, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ValueError(f"load_state_dict: {result}")
    return len(untracked)


def narrow_mean_pool(x, bins):
    """`blocks::adaptive_avg_pool` transcribed: bin i spans floor(i n / bins) to
    ceil((i + 1) n / bins), cells stacked last, flattened channel-major."""
    _, _, h, w = x.shape
    edges = lambda n, i: (i * n // bins, -(-(i + 1) * n // bins))  # noqa: E731
    cells = []
    for bi in range(bins):
        h0, h1 = edges(h, bi)
        for bj in range(bins):
            w0, w1 = edges(w, bj)
            cells.append(x[:, :, h0:h1, w0:w1].mean(-1).mean(-1))
    return torch.stack(cells, 2).flatten(1)


def check_adaptive_pool():
    """The largest difference between `nn.AdaptiveAvgPool2d` and the narrow-and-mean
    transcription, over sizes that bins divide and sizes they do not."""
    gen = torch.Generator().manual_seed(0)
    worst = 0.0
    for h, w in [(5, 5), (7, 12), (13, 9), (96, 96), (23, 40)]:
        x = torch.randn(2, 3, h, w, generator=gen)
        for bins in range(1, 8):
            want = nn.AdaptiveAvgPool2d(bins)(x).flatten(1)
            worst = max(worst, (narrow_mean_pool(x, bins) - want).abs().max().item())
    return worst


def train_loss(net, x):
    """forward_bench's training loss: BCE of the segmentation logits against x > 0.5, plus
    that of the study logit against 1 (weighted 0.1 when the network also segments)."""
    seg, features = net(x)
    bce = nn.functional.binary_cross_entropy_with_logits
    total = torch.zeros(())
    if seg is not None:
        total = total + bce(seg, (x > 0.5).float())
    if features is not None:
        logit = net.classify(features.amax(0, keepdim=True))
        total = total + bce(logit, torch.ones_like(logit)) * (0.1 if seg is not None else 1.0)
    return total


def train_main(args):
    """Times whole training steps (forward in train mode, backward, AdamW) on the weights
    and input Candle used, and reports the first step's loss."""
    torch.set_num_threads(args.threads)
    net = build(json.loads(args.arch_config))
    load(net, args.weights)
    net.train()
    x = load_file(args.candle_out)["input"].contiguous()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.0)
    ms, first = [], None
    for step in range(args.warmup + args.reps):
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = train_loss(net, x)
        loss.backward()
        opt.step()
        elapsed = (time.perf_counter() - start) * 1e3
        first = loss.item() if first is None else first
        if step >= args.warmup:
            ms.append(elapsed)
    print(json.dumps({"impl": "pytorch", "mode": "train", "torch": torch.__version__,
                      "threads": torch.get_num_threads(), "input": list(x.shape),
                      "warmup": args.warmup, "reps": args.reps, "first_loss": first,
                      "median_ms": statistics.median(ms), "min_ms": min(ms), "all_ms": ms}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch-config", required=True, help="nets::Arch as JSON")
    parser.add_argument("--weights", required=True)
    parser.add_argument("--candle-out", required=True, help="forward_bench's --out file")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--mode", choices=["forward", "train"], default="forward")
    args = parser.parse_args()
    if args.mode == "train":
        return train_main(args)

    torch.set_num_threads(args.threads)
    arch = json.loads(args.arch_config)
    net = build(arch)
    untracked = load(net, args.weights)
    net.eval()
    candle = load_file(args.candle_out)
    x = candle["input"].contiguous()

    with torch.inference_mode():
        for _ in range(args.warmup):
            net(x)
        ms = []
        for _ in range(args.reps):
            start = time.perf_counter()
            net(x)
            ms.append((time.perf_counter() - start) * 1e3)
        seg, features = net(x)
        ours = {}
        if seg is not None:
            ours["segmentation"] = torch.sigmoid(seg)
        if features is not None:
            ours["features"] = features
            ours["probability"] = torch.sigmoid(net.classify(features.amax(0, keepdim=True)))

    if set(ours) != set(candle) - {"input"}:
        raise ValueError(f"outputs differ: torch {sorted(ours)}, candle {sorted(candle)}")
    diffs = {k: (v - candle[k]).abs().max().item() for k, v in ours.items()}
    scale = {k: v.abs().max().item() for k, v in ours.items()}
    print(
        json.dumps(
            {
                "arch": arch["kind"],
                "impl": "pytorch",
                "torch": torch.__version__,
                "threads": torch.get_num_threads(),
                "untracked_keys": untracked,
                "input": list(x.shape),
                "warmup": args.warmup,
                "reps": args.reps,
                "median_ms": statistics.median(ms),
                "min_ms": min(ms),
                "all_ms": ms,
                "max_abs_diff": diffs,
                "max_abs": scale,
                "probability": ours["probability"].item() if "probability" in ours else None,
                "adaptive_pool_max_diff": check_adaptive_pool() if arch["kind"] == "multitask" else None,
            }
        )
    )


if __name__ == "__main__":
    main()
