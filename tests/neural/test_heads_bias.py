"""``HeadSpec(fit_bias=False)``: the bias stays at its initial value and the weights equal a
one-head torch loop whose bias does not train; heads that fit a bias are unchanged."""

import numpy as np
import pytest
import torch
from bayes_w2s.neural.features import FeatureHead
from bayes_w2s.neural.heads import HeadSpec, train_heads
from bayes_w2s.neural.losses import get_loss
from bayes_w2s.neural.train import lr_schedule, minibatch_order, strengths_length

N, D, N_TRAIN, B, C = 200, 6, 80, 16, 2


def _world(seed=0):
    rng = np.random.default_rng(seed)
    feats = (rng.normal(size=(N, D)) * rng.uniform(0.5, 3, D) + rng.normal(0, 2, D)).astype(np.float32)
    q = torch.softmax(torch.tensor(rng.normal(0, 2, (N_TRAIN, C))), -1).numpy().astype(np.float32)
    return rng, feats, q


def _frozen_bias_reference(feats, q, spec, b0):
    """torch.optim on the weight only (the bias is a constant ``b0``), the batches of
    :func:`~bayes_w2s.neural.train.minibatch_order`, standardized as :func:`train_heads`."""
    x = torch.as_tensor(feats[:N_TRAIN]).double()
    head = FeatureHead(D, C, mean=x.mean(0).float(), std=x.std(0).clamp_min(1e-6).float())
    with torch.no_grad():
        head.net.bias.copy_(torch.as_tensor(b0))
    head.net.bias.requires_grad_(False)
    opt = (torch.optim.SGD if spec.optimizer == "sgd" else torch.optim.Adam)(
        [head.net.weight], lr=spec.lr, weight_decay=spec.weight_decay)
    idx, epoch = minibatch_order(N_TRAIN, spec.n_steps, B, spec.seed)
    lrs = lr_schedule(spec.lr, spec.n_steps, spec.lr_schedule)
    loss_fn, tq, xt = get_loss(spec.loss), torch.as_tensor(q), torch.as_tensor(feats[:N_TRAIN])
    for t in range(spec.n_steps):
        opt.param_groups[0]["lr"] = float(lrs[t])
        s = None
        if spec.strengths is not None:
            s = torch.as_tensor(spec.strengths[(epoch[t] * N_TRAIN + idx[t]).numpy()], dtype=torch.float32)
        loss = loss_fn(head(xt[idx[t]]), tq[idx[t]], step_frac=t / spec.n_steps, strengths=s)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return head


@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_a_frozen_bias_stays_put_and_the_weights_equal_a_weight_only_loop(opt):
    rng, feats, q = _world(1)
    lr = 0.3 if opt == "sgd" else 0.02
    strengths = rng.uniform(0.1, 2, strengths_length("visits", N_TRAIN, 25, B))
    specs = [HeadSpec(loss, lr, 25, seed=3, optimizer=opt, weight_decay=wd, batch_size=B,
                      strengths=strengths if loss == "ve" else None, fit_bias=fit)
             for loss in ("xent", "logconf", "ve") for wd in (0.0, 0.05) for fit in (False, True)]
    m = len(specs)
    b0 = rng.normal(0, 0.5, (m, C)).astype(np.float32)  # a non-zero bias must stay as it is too
    init = (np.zeros((m, D, C), np.float32), b0)
    res = train_heads(feats, np.tile(np.arange(N_TRAIN), (m, 1)), np.tile(q, (m, 1, 1)), specs,
                      init=init)
    free = train_heads(feats, np.tile(np.arange(N_TRAIN), (m, 1)), np.tile(q, (m, 1, 1)),
                       [HeadSpec(**{**s.__dict__, "fit_bias": True}) for s in specs], init=init)
    for h, spec in enumerate(specs):
        if spec.fit_bias:  # unchanged by its frozen neighbours in the same streams
            assert torch.equal(res.weight[h], free.weight[h]) and torch.equal(res.bias[h], free.bias[h])
            assert not torch.equal(res.bias[h], torch.as_tensor(b0[h]))
            continue
        assert torch.equal(res.bias[h], torch.as_tensor(b0[h]))  # exactly, SGD or Adam, any decay
        ref = _frozen_bias_reference(feats, q, spec, b0[h])
        np.testing.assert_allclose(res.weight[h].numpy(), ref.net.weight.detach().numpy().T, atol=1e-6)
        assert not torch.allclose(res.weight[h], free.weight[h], atol=1e-4)  # the bias mattered
        why = res.log(h).extra["certificate"]  # never certified (Adam is not, either way)
        assert why.startswith("bias frozen") if opt == "sgd" else why


def test_fit_bias_must_be_a_bool():
    with pytest.raises(TypeError, match="fit_bias"):
        HeadSpec("xent", 0.1, 5, seed=0, fit_bias="no")
