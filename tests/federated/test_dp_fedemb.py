"""DP-FedEmb mechanics: local updates, clipping, noise, partial aggregation, seeds, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spinml import DPFedEmbTrainer
from spinml.federated.aggregators import DPFTRL, DPFedAvg, clip_deltas
from spinml.federated.dp_fedemb import (
    LocalSettings,
    client_deltas,
    client_of,
    crop_target,
    sample_clients,
    user_arrays,
    user_key,
    virtual_clients,
)
from spinml.federated.embedding import EmbeddingNet
from spinml.federated.noise import NoiseSource


def population(n_users: int, seed: int = 0) -> list[tuple[np.ndarray, list[str]]]:
    """Users with 3 to 20 random 16 px images of one to three identities each."""
    rng = np.random.default_rng(seed)
    users = []
    for u in range(n_users):
        n = int(rng.integers(3, 21))
        X = rng.integers(0, 256, (n, 16, 16, 3), dtype=np.uint8)
        users.append((X, [f"u{u}/pet{i % int(rng.integers(1, 4))}" for i in range(n)]))
    return users


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    backbone = EmbeddingNet()
    theta = {k: v.detach() for k, v in backbone.named_parameters()}
    return backbone, theta, virtual_clients(population(24), 2, seed=0)


@pytest.mark.parametrize("head_steps, cosine", [(0, True), (3, False)])
def test_vectorised_clipped_deltas_equal_per_client_reference(setup, head_steps, cosine):
    backbone, theta, clients = setup
    settings = LocalSettings(head_steps=head_steps, cosine=cosine, lr=0.05)
    ids = list(range(len(clients)))
    fast = clip_deltas(client_deltas(backbone, theta, clients, settings, 3, ids), 0.3)
    for i, client in enumerate(clients):
        d = client_deltas(backbone, theta, [client], settings, 3, [i], vectorised=False)[0]
        reference = d * min(1.0, 0.3 / d.norm().item())
        torch.testing.assert_close(fast[i], reference, atol=1e-6, rtol=0)
    assert fast.norm(dim=1).max() <= 0.3 + 1e-6
    assert len({len(c.labels) for c in clients}) > 1  # padding was exercised


def test_client_returns_backbone_delta_only(setup):
    backbone, theta, clients = setup
    deltas = client_deltas(backbone, theta, clients[:2], LocalSettings(), 0, [0, 1])
    assert deltas.shape == (2, sum(p.numel() for p in backbone.parameters()))
    assert deltas.abs().sum() > 0


def test_poisson_sampling_rate():
    source = NoiseSource(0)
    counts = [len(sample_clients("fedavg", 0.1, 1000, t, source)) for t in range(50)]
    assert np.mean(counts) == pytest.approx(100, rel=0.05)
    assert len(set(counts)) > 1
    epoch = np.concatenate([sample_clients("ftrl", 0.25, 10, t, source) for t in range(4)])
    assert sorted(epoch) == list(range(10))


def test_virtual_clients_merge_users_and_remap_labels():
    users = population(10)
    clients = virtual_clients(users, 3, seed=0)
    assert len(clients) == 3
    assert sorted(u for c in clients for u in c.users) == list(range(10))
    for c in clients:
        assert len(c.labels) == sum(len(users[u][0]) for u in c.users)
        assert c.n_classes == len({i for u in c.users for i in users[u][1]})
        assert set(c.labels.tolist()) == set(range(c.n_classes))


def _members(clients, users):
    """Each client's users, named by their identities' prefix ``u<index>``."""
    return [frozenset(users[u][1][0].split("/")[0] for u in c.users) for c in clients]


def test_adding_or_removing_one_user_changes_exactly_one_client():
    users = population(40)
    base = _members(virtual_clients(users, 4, seed=7), users)
    assert len(base) == 10 and sum(len(m) for m in base) == 40
    for changed, n_users in [(users[:17] + users[18:], 39), (users + population(41)[40:], 41)]:
        other = _members(virtual_clients(changed, 4, seed=7, n_clients=10), changed)
        assert len(other) == 10 and sum(len(m) for m in other) == n_users
        differ = [b for b in range(10) if base[b] != other[b]]
        assert len(differ) == 1
        assert base[differ[0]] ^ other[differ[0]] == {"u17" if n_users == 39 else "u40"}
    assert _members(virtual_clients(users, 4, seed=8), users) != base  # the salt matters


def test_client_depends_on_own_data_only():
    users = population(12)
    clients = virtual_clients(users, 3, seed=0)
    ids = users[5][1]
    bucket = client_of(user_key(ids), 0, 4)
    assert 5 in clients[bucket].users
    assert user_key(list(reversed(ids))) == user_key(ids)
    shuffled = [users[i] for i in np.random.default_rng(1).permutation(12)]
    assert sorted(map(sorted, _members(virtual_clients(shuffled, 3, seed=0), shuffled))) == \
        sorted(map(sorted, _members(clients, users)))


def test_one_user_per_client_keeps_users_in_order():
    users = population(5)
    clients = virtual_clients(users, 1, seed=3)
    assert [c.users for c in clients] == [(u,) for u in range(5)]


def test_empty_client_contributes_exactly_zero(setup):
    backbone, theta, _ = setup
    clients = virtual_clients(population(6), 2, seed=0, n_clients=8)
    empty = [i for i, c in enumerate(clients) if not c.users]
    full = [i for i, c in enumerate(clients) if c.users]
    assert empty and full
    assert clients[empty[0]].images.shape == (0, 3, 16, 16) and clients[empty[0]].n_classes == 0
    settings = LocalSettings(head_steps=2)
    ids = list(range(8))
    fast = client_deltas(backbone, theta, clients, settings, 1, ids)
    slow = client_deltas(backbone, theta, clients, settings, 1, ids, vectorised=False)
    assert (fast[empty] == 0).all() and (slow[empty] == 0).all()
    alone = client_deltas(backbone, theta, [clients[i] for i in full], settings, 1, full)
    torch.testing.assert_close(fast[full], alone, atol=1e-6, rtol=0)
    torch.testing.assert_close(fast, slow, atol=1e-6, rtol=0)
    assert (clip_deltas(fast, 0.1)[empty] == 0).all()
    assert not client_deltas(backbone, theta, [clients[empty[0]]], settings, 1, empty[:1]).any()


def test_fit_same_seeds_same_backbone_and_records_history():
    users = population(16)
    kw = dict(q=0.5, sigma=0.5, rounds=3, users_per_client=2, noise_seed=9, progress=False)
    with pytest.warns(UserWarning, match="noise_seed"):
        a = DPFedEmbTrainer(seed=3, **kw).fit(users)
        b = DPFedEmbTrainer(seed=3, **kw).fit(users)
        c = DPFedEmbTrainer(seed=4, **kw).fit(users)
    pa, pb, pc = (torch.nn.utils.parameters_to_vector(t.backbone_.parameters())
                  for t in (a, b, c))
    assert torch.equal(pa, pb) and not torch.equal(pa, pc)
    assert [h["round"] for h in a.history_] == [0, 1, 2]
    record = a.epsilon(1e-3)
    assert record.rounds == 3 and record.n_clients == len(a.clients_) == 8
    assert "replace one of B = 8 hashed virtual clients" in record.neighbouring
    assert "add/remove one virtual client" in a.set_params(
        users_per_client=1).epsilon(1e-3, "rdp").neighbouring
    with pytest.raises(ValueError, match="accountant='pld'"):
        a.set_params(users_per_client=2).epsilon(1e-3, "rdp")


def test_vectorised_fit_equals_sequential_fit_with_an_empty_client():
    users = population(16)
    kw = dict(q=0.5, sigma=1.0, rounds=2, users_per_client=2, head_steps=1, noise_seed=0,
              progress=False)
    with pytest.warns(UserWarning, match="noise_seed"):
        trainer = DPFedEmbTrainer(**kw).fit(users)
        slow = DPFedEmbTrainer(vectorised=False, **kw).fit(users).backbone_
    fast = trainer.backbone_
    empty = [i for i, c in enumerate(trainer.clients_) if not c.users]
    assert len(trainer.clients_) == 8 and empty
    sample = sample_clients("fedavg", 0.5, 8, 0, NoiseSource(0))
    assert set(empty) & set(sample) and trainer.history_[0]["clients"] == len(sample)
    torch.testing.assert_close(torch.nn.utils.parameters_to_vector(fast.parameters()),
                               torch.nn.utils.parameters_to_vector(slow.parameters()),
                               atol=1e-5, rtol=0)


@pytest.mark.parametrize("params, match", [
    (dict(q=0.0), "q"), (dict(q=1.2), "q"), (dict(clip=0.0), "clip"),
    (dict(sigma=-1.0), "sigma"), (dict(users_per_client=50), "users_per_client"),
    (dict(n_clients=0), "n_clients"), (dict(users_per_client=1, n_clients=4), "n_clients")])
def test_bad_settings(params, match):
    with pytest.raises(ValueError, match=match):
        DPFedEmbTrainer(progress=False, **params).fit(population(4))


def test_bad_delta_and_empty_user():
    with pytest.raises(ValueError, match="delta"):
        DPFedEmbTrainer().epsilon(1.0)
    users = population(4)
    users[2] = (np.zeros((0, 16, 16, 3), np.uint8), [])
    with pytest.raises(ValueError, match="user 2 has no images"):
        DPFedEmbTrainer(users_per_client=1, progress=False).fit(users)


def _bilinear_on_black(image: np.ndarray, r: float, c: float) -> np.ndarray:
    """``image`` at the (row, column) point ``(r, c)``, bilinear, zero outside."""
    r0, c0 = int(np.floor(r)), int(np.floor(c))
    out = np.zeros(3)
    for dr, dc in ((0, 0), (0, 1), (1, 0), (1, 1)):
        rr, cc = r0 + dr, c0 + dc
        if 0 <= rr < image.shape[0] and 0 <= cc < image.shape[1]:
            out += (1 - abs(r - rr)) * (1 - abs(c - cc)) * image[rr, cc]
    return out


def test_crop_target_follows_its_formula():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    M = np.zeros((3, 16, 16), bool)
    M[0, 4:8, 6:10] = True        # 4 x 4: scaled 4x to fill the frame
    M[1, 2:4, 3:11] = True        # 2 x 8: a square of side 8 around it
    out = crop_target(X, M)
    assert out.shape == X.shape and out.dtype == np.uint8
    for i, (r0, r1, c0, c1) in enumerate([(4, 7, 6, 9), (2, 3, 3, 10)]):
        on_black = np.where(M[i][..., None], X[i], 0).astype(float)
        side, rc, cc = max(r1 - r0, c1 - c0) + 1, (r0 + r1) / 2, (c0 + c1) / 2
        for y in range(16):
            for x in range(16):
                expected = _bilinear_on_black(on_black, rc + (y + 0.5 - 8) * side / 16,
                                              cc + (x + 0.5 - 8) * side / 16)
                np.testing.assert_allclose(out[i, y, x], expected, atol=0.51 + 1e-3)
    assert out[0].any(axis=-1).all()  # the target fills the frame: no black border
    assert (out[2] == 0).all()         # no target: black
    with pytest.raises(ValueError, match="masks"):
        crop_target(X, M[:, :8])


def test_user_arrays_crop_needs_masks_and_uses_target_segment():
    from spinml.data import miniworld

    fed = miniworld.federated(2, images_per_identity=2, n_heldout=0, size=16, progress=False)
    X, ids = user_arrays(fed.users[0], 0, crop="target")
    images = fed.users[0].images
    masks = np.stack([[s.mask for s in im.segments if s.label == "target"][0] for im in images])
    raw = np.stack([im.image for im in images])
    np.testing.assert_array_equal(X, crop_target(raw, masks))
    assert ids == [im.identity for im in images]
    np.testing.assert_array_equal(user_arrays((raw, ids, masks), 0, crop="target")[0], X)
    with pytest.raises(ValueError, match="needs target masks"):
        user_arrays((raw, ids), 0, crop="target")
    with pytest.raises(ValueError, match="crop"):
        DPFedEmbTrainer(crop="box", progress=False).fit(population(4))


def test_crop_target_trainer_trains_and_evaluates_on_crops():
    from spinml.data import miniworld

    fed = miniworld.federated(6, images_per_identity=2, n_heldout=3, heldout_images=2, size=16,
                              progress=False)
    trainer = DPFedEmbTrainer(q=1.0, sigma=0.0, rounds=1, users_per_client=2, crop="target",
                              progress=False).fit(fed)
    first = next(c for c in trainer.clients_ if c.users)
    user = fed.users[first.users[0]]
    X, _ = user_arrays(user, 0, crop="target")
    np.testing.assert_array_equal(first.images[:len(X)].numpy(), X.transpose(0, 3, 1, 2))
    scores = trainer.evaluate(fed.heldout)
    assert 0 <= scores["recall_at_1"] <= 1




def test_make_aggregator_gives_the_mechanism_and_server_is_its_old_name():
    source = NoiseSource(1)
    fedavg = DPFedEmbTrainer(q=0.25, clip=0.5, sigma=2.0).make_aggregator(40, source)
    assert isinstance(fedavg, DPFedAvg)
    assert (fedavg.clip, fedavg.sigma, fedavg.expected_clients) == (0.5, 2.0, 10)
    assert fedavg.source is source
    ftrl = DPFedEmbTrainer(q=0.25, aggregator="ftrl").make_aggregator(40)
    assert isinstance(ftrl, DPFTRL) and (ftrl.clients_per_round, ftrl.rounds_per_epoch) == (10, 4)
    with pytest.warns(DeprecationWarning, match="make_aggregator"):
        old = DPFedEmbTrainer(q=0.25, clip=0.5, sigma=2.0).server(40)
    assert isinstance(old, DPFedAvg) and old.source.secure
    assert (old.clip, old.sigma, old.expected_clients) == (0.5, 2.0, 10)


@pytest.mark.parametrize(("params", "message"), [
    (dict(q=0.0), r"q \(client sampling rate\) must be in \(0, 1\]"),
    (dict(sigma=-1.0), "sigma"), (dict(clip=float("nan")), "clip"),
    (dict(rounds=0), "rounds must be a positive integer"),
    (dict(n_clients=0), "n_clients must be a positive integer"),
    (dict(users_per_client=1, n_clients=4), "n_clients applies to users_per_client > 1"),
    (dict(aggregator="sgd"), "aggregator must be one of"),
    (dict(head_steps=-1), "head_steps must be a non-negative integer"),
    (dict(client_lr=0), "client_lr must be a positive number"),
    (dict(server_momentum=1.0), r"server_momentum must be in \[0, 1\)"),
    (dict(widths=(8, 16, 30)), "widths must be three multiples of 4"),
    (dict(norm="batch"), "norm must be one of"),
    (dict(crop="box"), "crop must be one of"),
    (dict(vectorised=1), "vectorised must be True or False"),
])
def test_settings_are_refused_in_the_constructor_and_set_params(params, message):
    with pytest.raises((ValueError, TypeError), match=message):
        DPFedEmbTrainer(**params)
    trainer = DPFedEmbTrainer()
    with pytest.raises((ValueError, TypeError), match=message):
        trainer.set_params(**params)
    assert trainer.get_params() == DPFedEmbTrainer().get_params()


def test_contract_round_trip_fit_returns_self_and_learned_state():
    trainer = DPFedEmbTrainer(q=0.5, rounds=1, users_per_client=2, pretrain_epochs=1,
                              progress=False)
    params = trainer.get_params()
    assert DPFedEmbTrainer(**params).get_params() == params
    assert trainer.set_params(sigma=0.3) is trainer and trainer.sigma == 0.3
    with pytest.raises(ValueError, match=r"unknown DPFedEmbTrainer settings \['lr'\]"):
        trainer.set_params(lr=0.1)
    assert repr(trainer).startswith("DPFedEmbTrainer(q=0.5, clip=1.0, sigma=0.3, rounds=1")
    assert not [k for k in vars(trainer) if k.endswith("_")]
    users = population(4)
    assert trainer.pretrain(users[0]) is trainer and trainer.fit(users) is trainer
    learned = {k for k in vars(trainer) if k not in params}
    assert learned == {"backbone_", "clients_", "history_", "rounds_run_", "noise_seed_"}
