"""The analyses of an audit, one step each (``step(context, config) -> StepOutput``), run in the order of
:data:`auditor.audit.STEPS`: the core judge-vs-reference metrics, juries, PPI++, the alternative annotator test,
the personalization stage, the position, length, self-preference and variant probes."""
