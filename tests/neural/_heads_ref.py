"""The one-at-a-time reference for tests of :mod:`bayes_w2s.neural.heads`: train.train on a
FeatureHead built as Backend.model builds it, one head after another."""

import torch
from bayes_w2s.neural.backend import BestCheckpoint
from bayes_w2s.neural.features import FeatureHead
from bayes_w2s.neural.losses import get_loss
from bayes_w2s.neural.train import train


def projector(model, cap):
    """on_step hook: project (W, b) onto ||theta - theta_0|| <= cap (projected SGD)."""
    w0, b0 = model.net.weight.detach().clone(), model.net.bias.detach().clone()

    @torch.no_grad()
    def on_step(t, m):
        dw, db = m.net.weight - w0, m.net.bias - b0
        dist = (dw.pow(2).sum() + db.pow(2).sum()).sqrt()
        if dist > cap:
            m.net.weight.copy_(w0 + dw * (cap / dist))
            m.net.bias.copy_(b0 + db * (cap / dist))

    return on_step


def reference(features, train_idx, targets, spec, *, val=None, eval_every=0, heldout=None,
              init=None):
    """(model, TrainLog, keeper) of one head trained by train.train."""
    feats = torch.as_tensor(features, dtype=torch.float32)
    x = feats[torch.as_tensor(train_idx)].double()
    model = FeatureHead(feats.shape[1], targets.shape[1], mean=x.mean(0).float(),
                        std=x.std(0).clamp_min(1e-6).float())
    if init is not None:
        with torch.no_grad():
            model.net.weight.copy_(torch.as_tensor(init[0]).T)
            model.net.bias.copy_(torch.as_tensor(init[1]))
    keeper = None
    hooks = []
    if spec.max_distance is not None:
        hooks.append(projector(model, spec.max_distance))
    if val is not None:
        keeper = BestCheckpoint(model, {"features": feats[torch.as_tensor(val[0])]}, val[1],
                                eval_every, device="cpu")
        hooks.append(keeper.on_step)

    def on_step(t, m):
        for h in hooks:
            h(t, m)

    log = train(model, {"features": feats[torch.as_tensor(train_idx)]}, targets,
                get_loss(spec.loss), spec.train_config(), seed=spec.seed,
                strengths=spec.strengths, strengths_over=spec.over,
                heldout={"features": feats[torch.as_tensor(heldout)]} if heldout is not None else None,
                device="cpu", on_step=on_step if hooks else None,
                on_end=keeper.restore if keeper is not None else None)
    return model, log, keeper
