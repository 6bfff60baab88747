"""The last stage of the data path: report tables with disclosure control (``tables``,
``disclosure``), the notebook-side ``Report`` (``report``), typed parameters (``params``),
provenance (``provenance``) and the runner that executes the notebooks and writes
``outputs/`` (``run``), with its nbconvert templates.
"""
