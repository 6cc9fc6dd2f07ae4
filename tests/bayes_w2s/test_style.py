"""The house figure style: fixed colours, data-covering colour scales, marked clipping, legends off the data."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from bayes_w2s.harness import style  # noqa: E402


def test_rule_colours_are_fixed_per_family_and_distinct_across_families():
    assert style.color_of("VE budget(budget=100)") == style.color_of("VE budget(budget=50)")
    families = ["hard Bayes", "tempered w=0.1", "VE const log r=0.1", "VE budget(budget=100)",
                "VE pseries(c=1, p=2)", "VE geometric(first=1, ratio=0.99)"]
    colours = [style.color_of(f) for f in families]
    assert len(set(colours)) == len(colours)
    assert style.OKABE_ITO["yellow"] not in colours  # too pale for lines on white
    assert style.rule_style("some new rule") == style.rule_style("some new rule")  # stable fallback
    assert style.color_of("xent") == style.color_of("hard Bayes")  # the unbounded baseline is black everywhere


def test_diverging_norm_is_centred_and_covers_the_data():
    balanced = style.diverging_norm([-1.52, 0.3, 0.88])
    assert (balanced.vmin, balanced.vmax) == (-1.52, 1.52)
    skewed = style.diverging_norm([-4.9, 0.0, 1.0])
    assert isinstance(skewed, mcolors.TwoSlopeNorm)
    assert skewed.vmin == -4.9 and skewed.vmax == 1.0 and skewed.vcenter == 0.0
    assert skewed(-4.9) == 0.0 and skewed(1.0) == 1.0 and skewed(0.0) == 0.5


def test_heatmap_scale_does_not_saturate_and_text_contrasts():
    fig, ax = plt.subplots()
    values = np.array([[-1.5, -1.0, 1.2], [0.1, np.nan, 0.0]])
    text = [["a", "b", "e"], ["c", "d", "f"]]
    image = style.diverging_heatmap(ax, values, text=text)
    assert image.norm(-1.5) == 0.0 and image.norm(-1.0) > 0.0  # -1.5 darker than -1
    colours = {t.get_text(): t.get_color() for t in ax.texts}
    assert colours["a"] == "white" and colours["c"] == "black" and colours["n/a"] == style.GREY
    plt.close(fig)


def _table():
    rng = np.random.default_rng(0)
    rows = [{"rule": r, "n": n, "rep": k, "value": v}
            for r, shift in (("hard Bayes", 0.0), ("VE budget(budget=10)", -3.0))
            for n in (1, 10, 100, 1000) for k in range(10)
            for v in [shift + rng.normal()]]
    return pd.DataFrame(rows)


def test_whiskers_mark_and_count_what_the_axis_cuts():
    df = _table()
    fig, ax = plt.subplots()
    n = style.lines_with_whiskers(ax, df, "n", "value", "rule", at="all", logx=True, clip=(-2.0, 2.0))
    assert ax.get_ylim() == (-2.0, 2.0)
    st = df.groupby(["rule", "n"]).value
    below = (st.mean() < -2).sum() + (st.quantile(0.1) < -2).sum()
    above = (st.mean() > 2).sum() + (st.quantile(0.9) > 2).sum()
    assert n == below + above > 0
    assert any("axis clipped" in t.get_text() for t in ax.texts)
    plt.close(fig)


def test_near_decades_picks_one_checkpoint_per_power_of_ten():
    xs = [1, 2, 8, 9, 11, 95, 120, 1000, 20000]
    assert style.near_decades(xs).tolist() == [1, 11, 95, 1000, 20000]  # nearest in log distance


def test_legend_outside_does_not_cover_any_axes():
    df = _table()
    with style.context():
        fig, axes = style.new_grid(None, 1, 2)
    for a in axes.flat:
        style.lines_with_whiskers(a, df, "n", "value", "rule", logx=True)
    legend = style.legend_outside(fig, loc="outside lower center", ncols=2)
    fig.canvas.draw()
    box = legend.get_window_extent()
    for a in axes.flat:
        assert a.get_legend() is None
        assert not box.overlaps(a.get_window_extent())
    plt.close(fig)


def test_setting_title_names_the_setting():
    text = style.setting_title("misspecification", N=10000, worlds=20, kappa=400.0, prior=None)
    assert text == r"misspecification: N = $10^{4}$, 20 worlds, $\kappa$ = 400"
    assert "\n" in style.setting_title("x", wrap=True, worlds=3)


def test_small_multiples_one_panel_per_group():
    df = _table()
    fig, axes = plt.subplots(1, 3)
    handles = style.small_multiples(axes, df, "n", "value", "rule")
    assert [a.get_title() for a in axes[:2]] == ["hard Bayes", "VE budget(budget=10)"]
    assert not axes[2].get_visible() and len(handles) == 4
    with pytest.raises(ValueError, match="need 2 axes"):
        style.small_multiples(axes[:1], df, "n", "value", "rule")
    plt.close(fig)


def test_experiment_figures_carry_the_setting_and_no_legend_on_the_axes(tmp_path):
    from bayes_w2s.harness.runs import draw_figures, write_run
    from bayes_w2s.simulations import coinflip

    cfg = coinflip.Config(n=200, replicates=2, grid_size=11, per_decade=3)
    folder = write_run(tmp_path / "run", "coinflip", cfg, coinflip.run(cfg))
    written = draw_figures(folder)
    assert {p.suffix for p in written} == {".png", ".pdf"}
    df = pd.read_csv(folder / "results.csv")
    df.attrs["config"] = {"epsilon": cfg.epsilon, "fair_band": cfg.fair_band}
    for plot in coinflip.FIGURES.values():
        fig = plot(df)
        assert "n = 200" in fig._suptitle.get_text() and "2 replicates" in fig._suptitle.get_text()
        assert all(a.get_legend() is None for a in fig.axes) and fig.legends
        plt.close(fig)
