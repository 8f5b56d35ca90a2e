"""The notebook figures (asi_lib.plots) draw only what publish shows."""
import numpy as np
import pandas as pd

from asi_lib import plots
from asi_lib.publish import TOTAL


def _shares():
    """Three municipalities and the total: B has k = 2 of 30 (a small count: its share is hidden)."""
    n, k = np.array([40, 30, 50]), np.array([10, 2, 20])
    frame = pd.DataFrame({"municipality": ["A", "B", "C", TOTAL], "measure": "grund_bortfall",
                          "n": [*n, n.sum()], "k": [*k, k.sum()]})
    frame["share"] = frame["k"] / frame["n"]
    frame["ci_low"], frame["ci_high"] = frame["share"] - 0.1, frame["share"] + 0.1
    frame.attrs["asi"] = {"group_cols": ["municipality"], "additive": True}
    return frame


def test_hidden_share_is_not_drawn_and_n_is_in_the_label():
    p = plots.plot_shares(_shares(), "municipality", min_cell=5)
    data = p._data.source_data   # the frame the figure is drawn from
    # B: k = 2 < 5 is hidden, and A with it (otherwise total − A − C gives B's k): neither is drawn
    assert set(data["grupp"]) == {"C (n = 50)", "Totalt (n = 120)"}
    # the drawn share is the raw k/n written out, in per cent
    assert np.isclose(data.loc[data["grupp"] == "C (n = 50)", "andel"].iloc[0], 100 * 20 / 50)


def test_visible_numbers_masks_exactly_the_published_markers():
    from asi_lib.publish import publish

    raw = _shares()
    pub = publish(raw, min_cell=5, labels=False)
    vis = plots.visible_numbers(raw, ["k", "share"], min_cell=5)
    for col in ("k", "share"):
        shown = ~pub[col].astype(str).isin(["<5", "..", "–", ""])
        assert (vis[col].notna() == shown).all(), col


def test_nothing_published_gives_no_figure():
    raw = _shares().iloc[[1]].copy()   # only B: k = 2
    raw.attrs = _shares().attrs
    assert plots.plot_shares(raw, "municipality", min_cell=5) is None
