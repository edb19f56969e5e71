"""auditor: how far do LLM judges and reward models agree with human judges?

>>> import auditor
>>> result = auditor.audit("labels.jsonl", items="items.jsonl", task="likert")  # doctest: +SKIP
>>> result.metrics  # tidy DataFrame                                             # doctest: +SKIP

``import auditor`` is light: the names below load on first use (PEP 562), so the package imports neither pandas nor
scipy until an audit needs them, and never the command line (``auditor.cli``), ``judges`` or ``reports``.  Any
submodule is an attribute as well (``auditor.stats``, ``auditor.advanced``, ...), imported when first touched.
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

__all__ = ["audit", "AuditConfig", "Scale", "load_config", "AuditResult", "AuditorError", "InputError",
           "__version__"]

# -- the audit extensions (interim, issue 14) ------------------------------------------------------------------
# PPI++ / alt-test / juries, the stage metrics and the bias probes join every audit by registering themselves with
# ``auditor.audit.register_extension`` when imported.  They used to be imported here, at package import; now they
# load as soon as ``auditor.audit`` has loaded (whichever way it was reached: ``auditor.audit(...)``,
# ``from auditor.personalization import audit_stage``, ``from auditor.audit import run_audit``, ...), always in this
# order, which is the order of their rows in the metrics table.  An explicit pipeline in auditor/audit.py replaces
# this.
_EXTENSIONS = ("auditor.advanced", "auditor.personalization", "auditor.probes")
_extensions_loaded = False


def _initializing(module: types.ModuleType | None) -> bool:
    """True while the module's own code is still running (the import system's flag on its spec)."""
    return bool(getattr(getattr(module, "__spec__", None), "_initializing", False))


def _load_extensions() -> None:
    """Import the extensions in :data:`_EXTENSIONS` order once ``auditor.audit`` has loaded.

    Stops at the first extension whose import is under way (it registers when it finishes, and later ones may need
    it); the package calls this again each time one of its submodules finishes loading.
    """
    global _extensions_loaded
    core = sys.modules.get("auditor.audit")
    if _extensions_loaded or core is None or _initializing(core):
        return
    for name in _EXTENSIONS:
        module = sys.modules.get(name)
        if module is None:
            importlib.import_module(name)
        elif _initializing(module):
            return
    _extensions_loaded = True


class _Package(types.ModuleType):
    """The ``auditor`` package object: keeps ``auditor.audit`` the function and loads the extensions.

    The import system sets every submodule it loads as an attribute of its package; ``auditor.audit`` the module
    must not replace ``auditor.audit`` the function.
    """

    def __setattr__(self, name: str, value: object) -> None:
        is_submodule = isinstance(value, types.ModuleType) and value.__name__ == f"{self.__name__}.{name}"
        if not (is_submodule and name == "audit"):
            super().__setattr__(name, value)
        if is_submodule:
            _load_extensions()


def __getattr__(name: str) -> object:
    """The public names of :data:`__all__` and the submodules, imported on first access."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        if name == "audit":
            _load_extensions()
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
