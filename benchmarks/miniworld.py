"""Mini-world benchmark: rendering speed, learnability, personalisation gap, identity separability.

Run from the repository root (about 8 minutes on 2 CPU cores)::

    .venv/bin/python benchmarks/miniworld.py            # full
    .venv/bin/python benchmarks/miniworld.py --quick    # a smaller smoke run

It prints four tables:

1. rendering speed: images/s at 64x64 on one thread (``public(...)`` end to end);
2. learnability: a small CNN trained on public renders, accuracy on held-out
   public identities in held-out public rooms;
3. personalisation: per private user, model A (the CNN of 2, public renders
   only) vs model B (the same CNN trained on renders of the user's own pet in
   their own room), both scored on the user's test set;
4. separability: top-1 nearest-neighbour retrieval of pets (10,000) and of
   rooms (1,000) on a simple feature (the colour histogram of the object's
   pixels), each rendered twice (a pet in two rooms and activities, a room
   with two pets), vs chance.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from spinml.data import miniworld  # noqa: E402
from spinml.data.miniworld import ACTIVITIES, Pet, Room  # noqa: E402
from spinml.data.miniworld.captions import PATTERN_WORDS  # noqa: E402
from spinml.data.miniworld.splits import PUBLIC_RARITY, user_home  # noqa: E402
from spinml.image import to_unit_range  # noqa: E402


class SmallCNN(nn.Module):
    """Four stride-2 conv blocks (conv, BatchNorm, ReLU), then a linear layer on the 4x4 map.

    The first convolution is 5x5, the others 3x3; a 64x64 input ends as a 4x4
    map (other sizes are average-pooled to 4x4), so the classifier sees where
    things are, not only what.
    """

    def __init__(self, n_classes: int = 4, width: int = 16) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for k, out in enumerate((width, 2 * width, 4 * width, 4 * width)):
            size = 5 if k == 0 else 3
            layers += [
                nn.Conv2d(channels, out, size, stride=2, padding=size // 2, bias=False),
                nn.BatchNorm2d(out),
                nn.ReLU(inplace=True),
            ]
            channels = out
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(4), nn.Flatten())
        self.head = nn.Linear(16 * channels, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def tensors(refs) -> tuple[torch.Tensor, torch.Tensor]:
    """``(N, 3, H, W)`` float images in ``[-1, 1]`` and int64 labels."""
    x, y = refs.to_arrays()
    x = to_unit_range(torch.from_numpy(x).permute(0, 3, 1, 2))
    return x, torch.from_numpy(y)


def train(refs, *, epochs: int, seed: int = 0, batch: int = 64, lr: float = 2e-3) -> nn.Module:
    """Train a :class:`SmallCNN` with Adam, cross-entropy and random horizontal flips."""
    torch.manual_seed(seed)
    x, y = tensors(refs)
    model = SmallCNN(len(refs.classes))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * ((len(x) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), batch):
            idx = order[i : i + batch]
            xb = x[idx]
            flip = torch.rand(len(idx), generator=gen) < 0.5
            xb[flip] = xb[flip].flip(3)
            loss = nn.functional.cross_entropy(model(xb), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    return model.eval()


@torch.no_grad()
def accuracy(model: nn.Module, refs) -> float:
    x, y = tensors(refs)
    pred = torch.cat([model(x[i : i + 256]).argmax(1) for i in range(0, len(x), 256)])
    return float((pred == y).float().mean())


def speed(n: int) -> tuple[float, float]:
    """Images per wall-clock second and per CPU second of ``public(...)`` at 64x64, one thread.

    Sampling the pets and rooms is included. On a shared machine the CPU-time
    figure is the one to quote: it is what one core delivers.
    """
    torch.set_num_threads(1)
    miniworld.public(8, seed=123, progress=False)  # warm-up: caches, imports
    wall, cpu = time.perf_counter(), time.process_time()
    miniworld.public(n // 4, seed=1, progress=False)
    return n / (time.perf_counter() - wall), n / (time.process_time() - cpu)


def histogram(image, obj: str, bins: int) -> np.ndarray:
    """Square root of the normalised joint RGB histogram of object ``obj``, ``bins`` per channel."""
    pixels = image.image[image.mask(obj)].astype(np.int64) * bins // 256
    codes = (pixels[:, 0] * bins + pixels[:, 1]) * bins + pixels[:, 2]
    hist = np.bincount(codes, minlength=bins**3).astype(np.float64)
    return np.sqrt(hist / hist.sum())


def separability(n: int, what: str, chunk: int = 2048) -> tuple[float, float, float]:
    """Top-1 NN identity accuracy, its chance level, and P(same distance < different distance).

    ``what="pet"``: ``n`` public-distribution pets (none of the training part),
    each rendered twice in two different rooms and activities; the feature is
    the colour histogram of the pet's pixels (4 bins per channel).
    ``what="room"``: ``n`` public-distribution rooms, each rendered twice with
    two different pets; the feature is the background's histogram (8 bins).
    Distances are Euclidean.
    """
    pets = [
        Pet.sample(np.random.default_rng([2, k]), rarity=PUBLIC_RARITY, name=f"nn{k}")
        for k in range(2 * n)
    ]
    rooms = [
        Room.sample(np.random.default_rng([1, r]), rarity=PUBLIC_RARITY, name=f"nn{r}")
        for r in range(2 * n)
    ]
    feats = []
    for k in range(n):
        for j in range(2):
            pet, room = (
                (pets[k], rooms[2 * k + j]) if what == "pet" else (pets[2 * k + j], rooms[k])
            )
            image = miniworld.render(pet, room, ACTIVITIES[(2 * k + j) % 4], seed=2 * k + j)
            feats.append(
                histogram(image, "target", 4)
                if what == "pet"
                else histogram(image, "background", 8)
            )
    f = torch.from_numpy(np.stack(feats)).float()
    ids = torch.arange(len(f)) // 2
    hits = 0
    for i in range(0, len(f), chunk):
        dist = torch.cdist(f[i : i + chunk], f)
        rows = torch.arange(len(dist))
        dist[rows, rows + i] = float("inf")
        hits += int((ids[dist.argmin(1)] == ids[i : i + chunk]).sum())
    same = (f[0::2] - f[1::2]).norm(dim=1)
    other = (f[0::2] - f[1::2].roll(1, dims=0)).norm(dim=1).sort().values
    smaller = len(other) - torch.searchsorted(other, same, right=True)
    auc = float(smaller.sum()) / len(same) / len(other)
    return hits / len(f), 1.0 / (len(f) - 1), auc


def describe(index: int) -> str:
    """Private user ``index``'s pet and room in a few words, rare features included."""
    pet, room = user_home(index)
    words = [PATTERN_WORDS[pet.pattern], pet.coat_name, "pet"]
    if pet.size < 0.85:
        words.insert(0, "small")
    if room.light < 0.7:
        words.append("dim light")
    if room.texture_contrast > 0.2:
        words.append("busy room")
    return " ".join(words)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--users", type=int, default=6, help="private users (>= 5)")
    args = parser.parse_args()
    quick = args.quick
    n_public = 300 if quick else 2000
    epochs = 4 if quick else 8
    n_own = 40 if quick else 200
    threads = os.cpu_count() or 1

    begin = time.perf_counter()
    print("== mini-world benchmark ==")
    per_wall, per_cpu = speed(200 if quick else 2000)
    print(
        f"rendering speed, 64x64, 1 thread: {per_cpu:.0f} images per CPU second "
        f"({per_wall:.0f} per wall-clock second)"
    )

    torch.set_num_threads(threads)
    start = time.perf_counter()
    train_set = miniworld.public(n_public, progress=False)
    heldout = miniworld.public(250, heldout=True, progress=False)
    model_a = train(train_set, epochs=epochs)
    learn = accuracy(model_a, heldout)
    print(
        f"\nlearnability: CNN trained on {len(train_set)} public renders "
        f"({epochs} epochs, {time.perf_counter() - start:.0f} s)"
    )
    print(f"  accuracy on {len(heldout)} held-out public identities/rooms: {100 * learn:.1f} %")

    print(
        f"\npersonalisation: model A = public only ({len(train_set)} images), "
        f"model B = {4 * n_own} renders of the user's own pet and room"
    )
    print(f"{'user':>5} {'pet and room':<40} {'A %':>6} {'B %':>6} {'gap':>6}")
    gaps, accs_a, accs_b = [], [], []
    for u in range(args.users):
        own, test = miniworld.user(u, n_ref=n_own, n_test=50)
        model_b = train(own, epochs=15, seed=u + 1)
        a, b = accuracy(model_a, test), accuracy(model_b, test)
        print(f"{u:>5} {describe(u):<40} {100 * a:6.1f} {100 * b:6.1f} {100 * (b - a):+6.1f}")
        gaps.append(b - a)
        accs_a.append(a)
        accs_b.append(b)
    print(
        f"{'mean':>5} {'':<40} {100 * np.mean(accs_a):6.1f} {100 * np.mean(accs_b):6.1f} "
        f"{100 * np.mean(gaps):+6.1f}"
    )

    print("\nseparability: each identity rendered twice, top-1 nearest neighbour is the same one")
    for what, n in (("pet", 500 if quick else 10_000), ("room", 200 if quick else 1_000)):
        top1, chance, auc = separability(n, what)
        print(
            f"  {n:>6} {what}s: top-1 {100 * top1:5.1f} % (chance {100 * chance:.3f} %), "
            f"P(same closer than different) {100 * auc:.1f} % (chance 50 %)"
        )
    print(f"\ntotal {time.perf_counter() - begin:.0f} s")


if __name__ == "__main__":
    main()
