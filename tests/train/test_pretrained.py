"""Trainer(init=...): fine-tuning a saved model, a TrainedModel, an nn.Module or the zoo's
backbone; the head is kept, reordered or replaced."""

import numpy as np
import pytest
import torch
from torch import nn

from spinml.data import miniworld
from spinml.train import TrainedModel, Trainer
from spinml.train.architectures import ResNet20
from spinml.zoo import ZOO_DIR, verify

TINY_LR = 1e-12  # Adam moves each weight by about lr per step: the start stays as it was


def _body(model: TrainedModel) -> dict:
    return {k: v for k, v in model.module_.state_dict().items()
            if not k.startswith("fc.") and "running" not in k and "num_batches" not in k}


@pytest.fixture(scope="module")
def pretrained(digits16, tmp_path_factory):
    train, _ = digits16
    model = Trainer(arch="resnet20", epochs=1, batch_size=64, progress=False).fit(train).model_
    return model, model.save(tmp_path_factory.mktemp("pretrained") / "model")


def test_saved_folder_start_with_a_new_head_for_other_classes(digits16, pretrained):
    model, folder = pretrained
    (X, y, _), _ = digits16
    keep = y < 3
    three = (X[keep], y[keep], ("zero", "one", "two"))
    tuned = Trainer(init=folder, lr=TINY_LR, epochs=1, batch_size=64,
                    progress=False).fit(three).model_
    assert tuned.module_.fc.out_features == 3 and tuned.arch == "resnet20"
    for name, value in _body(model).items():
        torch.testing.assert_close(_body(tuned)[name], value, atol=1e-9, rtol=0)
    assert tuned.params["init"] == str(folder)
    assert TrainedModel.load(tuned.save(folder.parent / "tuned")).classes_ == three[2]
    scratch = Trainer(arch="resnet20", lr=TINY_LR, epochs=1, batch_size=64,
                      progress=False).fit(three).model_
    assert not torch.allclose(_body(scratch)["conv.weight"], _body(model)["conv.weight"])


def test_same_classes_in_another_order_keep_the_head(digits16, pretrained):
    model, _ = pretrained
    (X, y, classes), _ = digits16
    order = classes[::-1]
    flipped = (X, (len(classes) - 1 - y), order)
    tuned = Trainer(init=model, lr=TINY_LR, epochs=1, batch_size=64, val_fraction=0,
                    augment=False, progress=False).fit(flipped).model_
    assert tuned.classes_ == order
    same = [order[i] for i in tuned.predict(X[:200])]
    before = [classes[i] for i in model.predict(X[:200])]
    assert np.mean(np.array(same) == np.array(before)) > 0.8  # a new head: about 0.1


def test_module_start_gets_a_head_when_its_outputs_differ(digits16):
    (X, y, classes), _ = digits16
    module = ResNet20(num_classes=7)
    tuned = Trainer(init=module, epochs=1, batch_size=64,
                    progress=False).fit((X, y, classes)).model_
    assert tuned.module_.fc.out_features == 10 and module.fc.out_features == 7
    with pytest.raises(TypeError, match="init"):
        Trainer(init=3.0)
    with pytest.raises(FileNotFoundError, match="neither a zoo backbone"):
        Trainer(init="/no/such/model", epochs=1, progress=False).fit((X, y, classes))
    with pytest.raises(ValueError, match="no nn.Linear"):
        Trainer(init=nn.Conv2d(3, 10, 1), epochs=1, progress=False).fit((X, y, classes))


def test_the_zoo_backbone_is_verified_loaded_and_fine_tuned():
    manifest = verify(ZOO_DIR)
    assert {"backbone/model.safetensors", "backbone/config.json"} <= set(manifest["files"])
    backbone = TrainedModel.load(ZOO_DIR / "backbone")
    assert backbone.classes_ == miniworld.ACTIVITIES
    refs, test = miniworld.user(0, n_ref=3, n_test=5, size=32)
    tuned = Trainer(init="miniworld", lr=TINY_LR, epochs=1, batch_size=16,
                    progress=False).fit(refs).model_
    assert tuned.arch == backbone.arch and tuned.params["init"] == "miniworld"
    for name, value in _body(backbone).items():
        torch.testing.assert_close(_body(tuned)[name], value, atol=1e-9, rtol=0)
    fine_tuned = Trainer(init="miniworld", epochs=2, batch_size=16,
                         progress=False).fit(refs).model_
    assert any(not torch.equal(_body(fine_tuned)[k], v) for k, v in _body(backbone).items())
    assert 0 <= fine_tuned.score(test) <= 1
