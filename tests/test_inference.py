"""Tests of shiftlab.inference: the eval-mode copy, batched logits, and the caller's model left alone."""

import copy

import pytest
import torch
from oracles import plain_logits

import shiftlab as sl
from shiftlab.inference import forward_logits, inference_copy


@pytest.fixture
def fresh_baseline(baseline):
    return copy.deepcopy(baseline)


def test_predict_logits_equals_a_plain_forward(baseline, held_out):
    images, _ = held_out
    logits = sl.predict_logits(baseline, images)
    assert logits.shape == (20, 10) and logits.dtype == torch.float32
    assert torch.allclose(logits, plain_logits(baseline, images), atol=1e-5)


def test_predict_logits_does_not_depend_on_batch_size(baseline, held_out):
    images, _ = held_out
    assert torch.allclose(sl.predict_logits(baseline, images, batch_size=7), sl.predict_logits(baseline, images), atol=1e-6)


def test_predict_logits_leaves_the_model_alone(fresh_baseline, held_out):
    model = fresh_baseline
    model.train()
    before = copy.deepcopy(model.state_dict())
    logits = sl.predict_logits(model, held_out[0])
    assert model.training, "predict_logits must not switch the caller's model to eval mode"
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items()), "BatchNorm statistics changed"
    assert all(p.is_contiguous() for p in model.parameters()), "the caller's model was made channels-last"
    model.eval()
    assert torch.allclose(logits, plain_logits(model, held_out[0]), atol=1e-5), "logits must come from eval mode"


def test_inference_copy_is_an_eval_channels_last_copy(fresh_baseline, held_out):
    model = fresh_baseline.train()
    fast = inference_copy(model)
    assert fast is not model and not fast.training and model.training
    conv = fast[1][0].weight
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    assert model[1][0].weight.is_contiguous()
    with torch.no_grad():
        assert torch.allclose(fast(held_out[0]), model.eval()(held_out[0]), atol=1e-5)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "64"])
def test_batch_size_must_be_a_positive_int(baseline, held_out, bad):
    with pytest.raises(ValueError, match="batch_size must be a positive int, got " + repr(bad).replace(".", r"\.")):
        sl.predict_logits(baseline, held_out[0], batch_size=bad)


def test_a_default_layout_copy_computes_what_the_model_computes(fresh_baseline, held_out):
    model = fresh_baseline.train()
    copy_ = inference_copy(model, channels_last=False)
    assert copy_ is not model and not copy_.training and model.training
    assert copy_[1][0].weight.is_contiguous()
    with torch.no_grad():
        assert torch.equal(copy_(held_out[0]), model.eval()(held_out[0]))


def test_forward_logits_feeds_channels_last_and_returns_float32(baseline, held_out):
    fast = inference_copy(baseline)
    with torch.inference_mode():
        logits = forward_logits(fast, held_out[0].double().float())
    assert logits.dtype == torch.float32 and logits.shape == (20, 10)
    assert torch.allclose(logits, plain_logits(baseline, held_out[0]), atol=1e-5)
