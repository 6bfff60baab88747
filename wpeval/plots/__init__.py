"""Plots: free functions ``plot_*(result, ax=None, **kw) -> matplotlib.axes.Axes``.

One submodule per area (``checks``, ``randomised``, ``survival``, ``tables``, ``ranking``);
the functions are re-exported here.
"""
