"""Resumable stages: the cosine schedule's formula; an interrupted stage resumed from its
checkpoint ends with the weights, losses and random stream of an uninterrupted one."""

import math

import pytest
import torch

from spinml.zoo.resumable import cosine_lr, run_stage


def test_cosine_lr_warms_up_then_decays_to_a_tenth():
    assert [cosine_lr(1.0, s, 1000) for s in (0, 49, 99)] == [0.01, 0.5, 1.0]
    assert cosine_lr(1.0, 100, 1000) == pytest.approx(1.0)
    assert cosine_lr(1.0, 550, 1000) == pytest.approx(0.1 + 0.45 * (1 + math.cos(math.pi / 2)))
    assert cosine_lr(2.0, 1000, 1000) == pytest.approx(0.2)
    assert cosine_lr(1.0, 0, 20) == 0.5               # warm-up of total // 10 = 2 steps


class Interrupt(Exception):
    pass


def stage(work, steps=6, stop_at=None):
    """A linear regression trained by SGD on batches drawn from a seeded generator."""
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    generator = torch.Generator().manual_seed(5)
    calls = []

    def step(i):
        if i == stop_at:
            raise Interrupt
        calls.append(i)
        x = torch.randn(8, 3, generator=generator)
        loss = (model(x).squeeze(1) - x.sum(1)).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    result = run_stage("linear", work, {"linear": model}, optimizer, generator, steps, step,
                       every=2, progress=False)
    return model, result, calls


def test_interrupted_stage_resumes_exactly(tmp_path):
    whole, whole_result, _ = stage(tmp_path / "a")
    with pytest.raises(Interrupt):
        stage(tmp_path / "b", stop_at=5)
    assert (tmp_path / "b" / "linear" / "checkpoint" / "state.json").is_file()
    resumed, result, calls = stage(tmp_path / "b")
    assert calls == [4, 5]                            # the checkpoint after step 3
    assert result.losses == whole_result.losses and len(result.losses) == 6
    assert result.device == "cpu" and result.seconds > 0
    for a, b in zip(whole.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(a, b)


def test_finished_stage_loads_its_weights_and_trains_nothing(tmp_path):
    trained, first, _ = stage(tmp_path)
    again, second, calls = stage(tmp_path)
    assert calls == [] and second.losses == first.losses
    assert all(torch.equal(a, b) for a, b in zip(trained.parameters(), again.parameters(),
                                                 strict=True))


def test_a_checkpoint_from_before_checkpoints_had_a_manifest_still_resumes(tmp_path):
    with pytest.raises(Interrupt):
        stage(tmp_path, steps=10, stop_at=7)
    checkpoint = tmp_path / "linear" / "checkpoint"
    (checkpoint / "manifest.json").unlink()
    _, result, calls = stage(tmp_path, steps=10)
    assert calls == [6, 7, 8, 9] and len(result.losses) == 10
    assert (checkpoint / "manifest.json").is_file()
