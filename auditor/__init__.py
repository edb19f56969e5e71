"""auditor: how far do LLM judges and reward models agree with human judges?

>>> import auditor
>>> result = auditor.audit("labels.jsonl", items="items.jsonl", task="likert")  # doctest: +SKIP
>>> result.metrics  # tidy DataFrame                                             # doctest: +SKIP

``import auditor`` is light: the names below load on first use (PEP 562), so the package imports neither pandas nor
scipy until an audit needs them, and never the command line (``auditor.cli``), ``judges`` or ``reports``.  Any
submodule is an attribute as well (``auditor.stats``, ``auditor.metrics``, ...), imported when first touched.
"""

from __future__ import annotations

import importlib
import sys
import types

__version__ = "0.1.0"

#: Public name -> the module that defines it.
_LAZY = {
    "audit": "auditor.audit",
    "AuditConfig": "auditor.config",
    "Scale": "auditor.config",
    "load_config": "auditor.config",
    "AuditResult": "auditor.result",
    "AuditorError": "auditor.errors",
    "InputError": "auditor.errors",
}

__all__ = [
    "audit",
    "AuditConfig",
    "Scale",
    "load_config",
    "AuditResult",
    "AuditorError",
    "InputError",
    "__version__",
]


class _Package(types.ModuleType):
    """The ``auditor`` package object: keeps ``auditor.audit`` the function.

    The import system sets every submodule it loads as an attribute of its package; ``auditor.audit`` the module
    must not replace ``auditor.audit`` the function.
    """

    def __setattr__(self, name: str, value: object) -> None:
        is_submodule = isinstance(value, types.ModuleType) and value.__name__ == f"{self.__name__}.{name}"
        if not (is_submodule and name == "audit"):
            super().__setattr__(name, value)


def __getattr__(name: str) -> object:
    """The public names of :data:`__all__` and the submodules, imported on first access."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if not name.startswith("_"):
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


sys.modules[__name__].__class__ = _Package
