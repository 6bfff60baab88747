"""Stage 1-3 of the data path: read (``io``), check (``schema``), derive (``outcomes``, ``design``),
plus the programme facts (``programme``) and the synthetic programme (``synthetic``).

Nothing here imports from ``wpeval.estimators``, ``wpeval.inference``, ``wpeval.payments`` or
``wpeval.publish`` (tests/test_layers.py).
"""
