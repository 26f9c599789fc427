"""The mini-world gallery figure."""

from matplotlib.figure import Figure

from spinml.data import miniworld as mw


def test_gallery_draws_outlined_examples():
    fig = mw.gallery(n=4, columns=2, size=32)
    assert isinstance(fig, Figure)
    assert len([ax for ax in fig.axes if ax.images]) == 4
