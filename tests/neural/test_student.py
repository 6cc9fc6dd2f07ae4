"""The student stage: centroid, movement cap, selection on the weak-labelled split, the public
student_data, and student-only settings that must not touch the weak model or the ceiling."""

import dataclasses
import math
from dataclasses import replace

import numpy as np
import pytest
from bayes_w2s.neural.cache import ArrayCache
from bayes_w2s.neural.compare import compare_summary
from bayes_w2s.neural.pipeline import run, run_seed, student_data
from bayes_w2s.neural.student import centroid_classifier, centroid_logits


def test_centroid_matches_sklearn_nearest_centroid_on_hard_labels():
    sk = pytest.importorskip("sklearn.neighbors")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 7)) * rng.uniform(0.5, 3, size=7) + rng.normal(size=7)
    y = rng.integers(0, 3, size=200)
    x[y == 1] += 1.5
    xt = rng.normal(size=(80, 7))
    q = np.eye(3)[y]
    mean, std = x.mean(0), x.std(0, ddof=1)
    ref = sk.NearestCentroid().fit((x - mean) / std, y).predict((xt - mean) / std)
    assert np.array_equal(centroid_logits(x, q, xt).argmax(1), ref)


def test_centroid_soft_labels_brute_force():
    rng = np.random.default_rng(1)
    x, xt = rng.normal(size=(30, 4)), rng.normal(size=(5, 4))
    q = rng.dirichlet(np.ones(2), size=30)  # asymmetric soft labels
    z, zt = (x - x.mean(0)) / x.std(0, ddof=1), (xt - x.mean(0)) / x.std(0, ddof=1)
    for i in range(5):
        for c in range(2):
            mu = sum(q[j, c] * z[j] for j in range(30)) / q[:, c].sum()
            want = -0.5 * sum((zt[i, d] - mu[d]) ** 2 for d in range(4))
            assert centroid_logits(x, q, xt)[i, c] == pytest.approx(want, rel=1e-5)
    with pytest.raises(ValueError, match="no weak-label mass"):
        centroid_logits(x, np.c_[np.ones(30), np.zeros(30)], xt)


def test_centroid_classifier_scores_several_sets_as_centroid_logits_does():
    rng = np.random.default_rng(2)
    x, q = rng.normal(size=(40, 6)), rng.dirichlet(np.ones(3), size=40)
    score = centroid_classifier(x, q)
    for m in (1, 7, 40):
        xt = rng.normal(size=(m, 6)) * 3
        assert np.array_equal(score(xt), centroid_logits(x, q, xt))  # the same arithmetic
    with pytest.raises(ValueError, match="D = 6"):
        score(rng.normal(size=(4, 5)))
    with pytest.raises(ValueError, match="need x_train"):
        centroid_classifier(x, q[:-1])


def test_cap_bounds_the_movement_and_selection_picks_the_best_validation_score(tiny_cfg, cache):
    df = run(
        tiny_cfg,
        (0,),
        cache=cache,
        methods=("xent", "xent+cap(0.01)", "xent+wd(0.1|1|10:weak-val)", "centroid"),
    )
    r = df.set_index("method")
    assert r.loc["xent+cap(0.01)", "param_distance"] <= 0.01 + 1e-6
    assert r.loc["xent", "param_distance"] > 0.02  # the cap bound something
    sel = r.loc["xent+wd(0.1|1|10:weak-val)"]
    scores = [float(v) for v in sel["val_scores"].split()]
    assert len(scores) == 3 and sel["selected"] == [0.1, 1, 10][int(np.argmax(scores))]
    assert sel["selected_recipe"] == f"xent+wd({sel['selected']:g})"
    assert sel["acc_w2s_oracle"] >= sel["acc_w2s"]  # ORACLE: best grid value on test
    assert r.loc["centroid", "steps"] == 0 and 0 <= r.loc["centroid", "acc_w2s"] <= 1
    assert (df.n_val == 20).all() and (df.n_weak_label == 80).all()
    # the selected row equals a fixed run of the selected value (same split, same seed)
    fixed = run_seed(replace(tiny_cfg, method=sel["selected_recipe"]), 0, cache=cache)
    assert fixed["acc_w2s"] == sel["acc_w2s"]


def test_student_settings_never_touch_weak_or_ceiling(tiny_cfg, cache):
    base = run_seed(tiny_cfg, 0, cache=cache)
    for change in (
        dict(epochs=3.0),
        dict(steps=7),
        dict(student_lr=0.01),
        dict(anchor="l2", anchor_weight=1.0),
        dict(weight_decay=1.0),
        dict(eval_every=2),
        dict(method="xent+wd(3)@lr=0.01@steps=5"),
    ):
        row = run_seed(replace(tiny_cfg, **change), 0, cache=cache)
        assert (row["acc_weak"], row["acc_ceiling"]) == (base["acc_weak"], base["acc_ceiling"]), (
            change
        )
    assert cache.misses["weak"] == 1 and cache.misses["ceiling"] == 1


def test_student_data_is_the_students_training_set(tiny_cfg, cache):
    sd = student_data(tiny_cfg, 0, cache=cache)
    assert sd.x_train.shape == (80, sd.x_test.shape[1]) and sd.q_train.shape == (80, 2)
    assert np.allclose(sd.q_train.sum(1), 1)
    assert len(set(sd.train_idx) | set(sd.val_idx) | set(sd.test_idx)) == 80 + 20 + 100
    row = run_seed(tiny_cfg, 0, cache=cache)
    assert (sd.acc_weak, sd.acc_ceiling) == (row["acc_weak"], row["acc_ceiling"])


def test_user_baseline_in_ten_lines(tiny_cfg, cache):
    """The example of docs/findings/neural_recipes.md: logistic regression on the weak labels."""
    lm = pytest.importorskip("sklearn.linear_model")
    sd = student_data(tiny_cfg, seed=0, cache=cache)
    x_train, x_test = sd.standardize(sd.x_train), sd.standardize(sd.x_test)
    clf = lm.LogisticRegression(C=0.01, max_iter=1000).fit(x_train, sd.q_train.argmax(1))
    acc = float((clf.predict(x_test) == sd.y_test).mean())
    pgr = (acc - sd.acc_weak) / (sd.acc_ceiling - sd.acc_weak)
    assert 0 <= acc <= 1 and math.isfinite(pgr)
    assert np.allclose(x_train.mean(0), 0, atol=1e-4)
    # a constant feature column standardizes to 0, not NaN
    x = sd.x_train.copy()
    x[:, 0] = 1.0
    sd2 = dataclasses.replace(sd, x_train=x)
    assert np.isfinite(sd2.standardize(x)).all() and (sd2.standardize(x)[:, 0] == 0).all()


def test_compare_summary_has_selection_and_best_regularized_columns(tiny_cfg, cache):
    rows = run(
        tiny_cfg,
        (0, 1, 2),
        cache=cache,
        methods=("xent", "ve+budget(1|100:weak-val)", "xent+wd(0.1|10:weak-val)", "centroid"),
    )
    s = compare_summary(rows, n_boot=200).set_index("method")
    reg = s.loc[["xent+wd(0.1|10:weak-val)", "centroid"], "pgr"]
    assert (s["best_reg"] == reg.idxmax()).all()
    assert s.loc[reg.idxmax(), "pgr_diff_reg"] == pytest.approx(0.0)
    ve = s.loc["ve+budget(1|100:weak-val)"]
    assert ve["selected_set"].startswith("{") and ve["select_rule"] == "weak-val"
    assert ve["diff_reg_lo"] <= ve["pgr_diff_reg"] <= ve["diff_reg_hi"]
    assert math.isnan(s.loc["xent", "selected_median"])


def test_gt_val_selection_states_its_size(tiny_cfg, cache):
    row = run_seed(replace(tiny_cfg, method="xent+wd(0.1|10:gt-val)", n_gt_val=30), 0, cache=cache)
    assert row["n_gt_val"] == 30 and row["select_rule"] == "gt-val"
    with pytest.raises(ValueError, match="gt-val split"):
        run_seed(
            replace(tiny_cfg, method="xent+wd(0.1|10:gt-val)", n_gt_val=0),
            0,
            cache=ArrayCache(enabled=False),
        )


def test_batched_heads_equal_one_at_a_time(tiny_cfg, cache):
    methods = (
        "xent",
        "ve+budget(1|10:weak-val)",
        "xent+cap(0.01)",
        "xent+stop(weak-val)",
        "xent+wd(0.1|3:weak-val)",
        "logconf",
        "product",
    )
    a = run(tiny_cfg, (0, 1), cache=cache, methods=methods)  # both seeds in one batched call
    b = run(tiny_cfg, (0, 1), cache=cache, methods=methods, batched=False)
    for col in ("acc_w2s", "param_distance", "selected"):
        np.testing.assert_allclose(
            a[col].to_numpy(float), b[col].to_numpy(float), atol=1e-4, err_msg=col
        )
    assert list(a.method) == list(b.method) and list(a.val_scores) == list(b.val_scores)
    assert list(a.seed) == [0] * len(methods) + [1] * len(methods)
    # a seed trained beside another gives exactly what it gives alone (independent streams)
    alone = run(tiny_cfg, (1,), cache=cache, methods=methods)
    joint = a[a.seed == 1].reset_index(drop=True)
    for col in ("acc_w2s", "param_distance", "kl_from_init", "distance_bound_data", "flip_bound"):
        np.testing.assert_array_equal(joint[col].to_numpy(float), alone[col].to_numpy(float), err_msg=col)
