"""``auditor.cli.common.imports_frozen``: a run's modules imported with the cyclic garbage collector paused, every
object alive at the start kept out of its sight during the run and given back after, whatever the block does."""

from __future__ import annotations

import gc
import sys

import pytest

from auditor.cli.common import imports_frozen


class Alive:
    pass


def collected(thing: object) -> bool:
    """Whether the collector sees ``thing`` (in one of its generations, not frozen)."""
    return any(o is thing for o in gc.get_objects())


def test_the_block_runs_with_the_objects_alive_before_it_frozen_and_they_are_given_back_after():
    assert gc.get_freeze_count() == 0
    alive = Alive()
    assert collected(alive)
    with imports_frozen("auditor.metrics"):
        assert "auditor.metrics" in sys.modules
        assert gc.isenabled() and not collected(alive) and gc.get_freeze_count() > 0
        frozen = gc.get_freeze_count()
        garbage: list = []
        garbage.append(garbage)  # a reference cycle made in the block is still collected
        del garbage
        assert gc.collect() >= 1
        assert gc.get_freeze_count() == frozen
    assert gc.get_freeze_count() == 0 and gc.isenabled() and collected(alive)


def test_an_error_in_the_block_or_in_an_import_gives_the_objects_back_and_keeps_a_paused_collector_paused():
    with pytest.raises(ValueError), imports_frozen():
        assert gc.get_freeze_count() > 0
        raise ValueError("the run failed")
    assert gc.get_freeze_count() == 0 and gc.isenabled()
    with pytest.raises(ModuleNotFoundError), imports_frozen("auditor.no_such_module"):
        pass
    assert gc.get_freeze_count() == 0 and gc.isenabled()
    gc.disable()
    try:
        with imports_frozen():
            assert not gc.isenabled()
        assert not gc.isenabled() and gc.get_freeze_count() == 0
    finally:
        gc.enable()
