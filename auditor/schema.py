"""Compatibility name for :mod:`auditor.contract`, which holds the data contract."""

from auditor.contract import (  # noqa: F401
    DEFAULT_REFERENCE,
    ITEM_COLUMNS_KNOWN,
    ITEM_ID,
    LABEL_COLUMNS,
    LABEL_REQUIRED,
    ORDERS,
    PAIRWISE_LABELS,
    TASK_KINDS,
    TaskKind,
)
