"""The audit's engine: the state of one audit (:mod:`~auditor.engine.context`) and the computations every
analysis shares (agreement, the human ceiling, slicing, p-value adjustment, the cases behind the gaps)."""
