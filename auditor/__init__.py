"""auditor: how far do LLM judges and reward models agree with human judges?

>>> import auditor
>>> result = auditor.audit("labels.jsonl", items="items.jsonl", task="likert")  # doctest: +SKIP
>>> result.metrics  # tidy DataFrame                                             # doctest: +SKIP
"""

__version__ = "0.1.0"

import auditor.advanced  # noqa: E402,F401  (PPI++, alt-test and juries run in every audit)
import auditor.personalization  # noqa: E402,F401  (stage metrics, as an audit extension)
import auditor.probes  # noqa: E402,F401  (bias probes, as an audit extension)
from auditor.audit import audit  # noqa: E402
from auditor.config import AuditConfig, Scale, load_config  # noqa: E402
from auditor.errors import AuditorError, InputError  # noqa: E402
from auditor.result import AuditResult  # noqa: E402

__all__ = ["audit", "AuditConfig", "Scale", "load_config", "AuditResult", "AuditorError", "InputError",
           "__version__"]
