#!/usr/bin/env python3
"""PyTorch's classic VAE example (784-400-20, batch 128, Adam lr 1e-3), one training step timed
like `gengpu bench --backend cpu` times its own: the median of many steps after a warm-up, on
the same threads. Run it right beside gengpu's bench, in the same minute, and compare:

    pip install torch            # the CPU wheel is enough
    python3 bench/pytorch_vae.py --threads 2 --steps 200
    gengpu bench --backend cpu --steps 200

Prints one JSON object: {"torch", "threads", "batch", "ms", "steps"}. Random pixels in [0, 1]
stand in for MNIST: the step's arithmetic does not depend on the values.
"""

import argparse
import json
import statistics
import time

import torch
from torch import nn
from torch.nn import functional as F


class VAE(nn.Module):
    """The model of pytorch/examples' vae/main.py."""

    def __init__(self, pixels=784, hidden=400, latent=20):
        super().__init__()
        self.fc1 = nn.Linear(pixels, hidden)
        self.fc21 = nn.Linear(hidden, latent)
        self.fc22 = nn.Linear(hidden, latent)
        self.fc3 = nn.Linear(latent, hidden)
        self.fc4 = nn.Linear(hidden, pixels)

    def forward(self, x):
        h = F.relu(self.fc1(x))
        mu, logvar = self.fc21(h), self.fc22(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z)))), mu, logvar


def loss_function(recon, x, mu, logvar):
    bce = F.binary_cross_entropy(recon, x, reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch", type=int, default=128)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    model = VAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    batches = [torch.rand(args.batch, 784) for _ in range(8)]

    def step(i):
        x = batches[i % len(batches)]
        optimizer.zero_grad()
        recon, mu, logvar = model(x)
        loss = loss_function(recon, x, mu, logvar) / args.batch
        loss.backward()
        optimizer.step()

    for i in range(20):
        step(i)
    times = []
    for i in range(args.steps):
        started = time.perf_counter()
        step(i)
        times.append(time.perf_counter() - started)
    print(json.dumps({
        "torch": torch.__version__,
        "threads": args.threads,
        "batch": args.batch,
        "ms": statistics.median(times) * 1e3,
        "steps": args.steps,
    }))


if __name__ == "__main__":
    main()
