"""One figure style for every lesson: readable sizes, labelled axes, a colour-blind-safe palette."""

from __future__ import annotations

import matplotlib as mpl

#: Okabe-Ito palette (Okabe and Ito 2008), distinguishable with every common colour-vision deficiency.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]


def use_course_style() -> None:
    """Apply the course's matplotlib defaults (called by :func:`course.setup`)."""
    mpl.rcParams.update({
        "figure.figsize": (6.4, 4.0),
        "figure.dpi": 100,
        "savefig.dpi": 100,
        "font.size": 11,
        "axes.titlesize": 12,
        "axes.labelsize": 11,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.prop_cycle": mpl.cycler(color=PALETTE),
        "image.cmap": "viridis",
        "legend.frameon": False,
    })
