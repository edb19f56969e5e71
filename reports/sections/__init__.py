"""The report's sections, one module each; every one reads an :class:`reports.view.AuditView` and returns plain
data (sentences and :class:`reports.sections.base.Table` objects), never markup.

- ``headline``: the findings in plain sentences.
- ``judges``: the per-judge tables of a slice (agreement beside the ceiling, outcome rates, gaps, other metrics).
- ``probes`` (persona and profile views), ``position`` (position bias), ``ppi`` (PPI++), ``alt_test`` (the
  alternative annotator test), ``jury``, ``baselines`` (trivial judges and the human ceiling): the dedicated
  sections, present only when their data are.
- ``exclusions`` (exclusions and warnings), ``method`` (policy and method lines), ``cases`` (the case browser).

:func:`reports.model.build_model` puts them together, once per audit.
"""
