#!/usr/bin/env python3
"""PyTorch's examples/dcgan (nz 100, ngf = ndf = 64, batch 64, Adam 2e-4 with beta1 0.5), one
training step timed like `gengpu bench --backend cpu` times gengpu's: the median of many steps
after a warm-up, on the same threads. The networks are examples/dcgan's, scaled to the image
side as gengpu scales them (side = b·2^L: L stride-2 4×4 layers and one b×b layer; 64 gives
examples/dcgan exactly, 28 gives MNIST's digits as they are). Run it beside gengpu's bench:

    pip install torch            # the CPU wheel is enough
    python3 bench/pytorch_dcgan.py --threads 2 --size 28 --steps 20
    gengpu bench --backend cpu --steps 20

The step is examples/dcgan's: D on a real batch and on a generated batch (detached), one D
update, then G through D with real labels, one G update. Prints one JSON object:
{"torch", "threads", "batch", "size", "channels", "ms", "steps"}. Random values stand in for
images: the step's arithmetic does not depend on them.
"""

import argparse
import json
import statistics
import time

import torch
from torch import nn


def pyramid(side):
    """(base, levels) with side = base·2^levels, levels as many as keep base ≥ 4."""
    base, levels = side, 0
    while base % 2 == 0 and base // 2 >= 4:
        base, levels = base // 2, levels + 1
    assert levels >= 1 and 4 <= base <= 16, f"no pyramid for side {side}"
    return base, levels


def generator(nz, ngf, nc, side):
    base, levels = pyramid(side)
    width = ngf * 2 ** (levels - 1)
    layers = [nn.ConvTranspose2d(nz, width, base, 1, 0, bias=False), nn.BatchNorm2d(width), nn.ReLU(True)]
    for _ in range(levels - 1):
        layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width // 2), nn.ReLU(True)]
        width //= 2
    layers += [nn.ConvTranspose2d(width, nc, 4, 2, 1, bias=False), nn.Tanh()]
    return nn.Sequential(*layers)


def discriminator(ndf, nc, side):
    base, levels = pyramid(side)
    layers = [nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
    width = ndf
    for _ in range(levels - 1):
        layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width * 2), nn.LeakyReLU(0.2, inplace=True)]
        width *= 2
    layers += [nn.Conv2d(width, 1, base, 1, 0, bias=False), nn.Sigmoid()]
    return nn.Sequential(*layers)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--size", type=int, default=28)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--features", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    nz = 100
    net_g = generator(nz, args.features, args.channels, args.size)
    net_d = discriminator(args.features, args.channels, args.size)
    criterion = nn.BCELoss()
    opt_d = torch.optim.Adam(net_d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(net_g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real = torch.rand(args.batch, args.channels, args.size, args.size) * 2 - 1
    ones = torch.full((args.batch,), 1.0)
    zeros = torch.full((args.batch,), 0.0)

    def step():
        net_d.zero_grad()
        loss_real = criterion(net_d(real).view(-1), ones)
        loss_real.backward()
        fake = net_g(torch.randn(args.batch, nz, 1, 1))
        loss_fake = criterion(net_d(fake.detach()).view(-1), zeros)
        loss_fake.backward()
        opt_d.step()
        net_g.zero_grad()
        loss_g = criterion(net_d(fake).view(-1), ones)
        loss_g.backward()
        opt_g.step()

    for _ in range(3):
        step()
    times = []
    for _ in range(args.steps):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    print(json.dumps({
        "torch": torch.__version__,
        "threads": args.threads,
        "batch": args.batch,
        "size": args.size,
        "channels": args.channels,
        "ms": statistics.median(times) * 1e3,
        "steps": args.steps,
    }))


if __name__ == "__main__":
    main()
