"""The audit is an explicit, ordered tuple of steps whose options all live in the nested AuditConfig: no step is
registered by importing a module, the TOML tables map into the config, and a step left out leaves no trace."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap
from dataclasses import replace

import pytest

import auditor
from auditor.analyses import (
    alt_test,
    baselines,
    core,
    jury,
    length,
    personalization,
    position,
    ppi,
    self_preference,
    variants,
)
from auditor.config import AuditConfig, config_from_mapping, load_config
from auditor.data import load
from auditor.errors import ConfigError
from auditor.simulate import simulate_probe_study, simulate_study

audit_module = importlib.import_module("auditor.audit")  # `auditor.audit` is also the function


@pytest.fixture(scope="module")
def study():
    return simulate_study(seed=2, n_users=20, n_items=160, with_truth=False)


def test_steps_are_one_explicit_tuple_in_order():
    assert audit_module.STEPS == (
        core.step,
        jury.step,
        baselines.step,
        ppi.step,
        alt_test.step,
        personalization.step,
        position.step,
        length.step,
        self_preference.step,
        variants.step,
    )


def test_the_pipeline_runs_every_analysis_without_the_old_extension_modules(tmp_path):
    """``auditor.audit`` alone (the package's ``__init__`` not run, ``auditor.advanced``, ``.personalization`` and
    ``.probes`` made unimportable) still runs juries, PPI, the alt-test and the probes."""
    root = audit_module.__file__.rsplit("/auditor/", 1)[0]
    script = textwrap.dedent(f"""
        import sys, types
        package = types.ModuleType("auditor")
        package.__path__ = [{root!r} + "/auditor"]
        package.__version__ = "0"
        sys.modules["auditor"] = package
        for name in ("auditor.advanced", "auditor.personalization", "auditor.probes"):
            sys.modules[name] = None  # importing it raises ImportError
        from auditor.audit import audit
        from auditor.config import config_from_mapping
        from auditor.simulate import simulate_study
        study = simulate_study(seed=2, n_users=20, n_items=160, with_truth=False)
        result = audit(study.labels, study.items, config=config_from_mapping(study.config()), resamples=0)
        print(sorted(k for k in ("jury", "ppi", "alt_test", "probes") if k in result.meta))
        print("alt_test_pass" in set(result.metrics["metric"]), "jury:majority" in set(result.metrics["judge"]))
    """)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["['alt_test', 'jury', 'ppi', 'probes']", "True True"]


def test_a_pipeline_without_a_step_has_none_of_its_rows_or_sections(study):
    config = config_from_mapping(study.config()).with_overrides(resamples=0, max_cases=0)
    table = load(study.labels, study.items, config)
    only_core = audit_module.run_audit(table, steps=(core.step,))
    full = audit_module.run_audit(load(study.labels, study.items, config))
    assert not {"jury", "ppi", "alt_test", "probes"} & set(only_core.meta)
    assert "jury:majority" not in set(only_core.metrics["judge"])
    assert {"jury", "alt_test"} <= set(full.meta) and "jury:majority" in set(full.metrics["judge"])
    columns = ["metric", "judge", "reference", "value", "n", "slice"]
    core_rows = full.metrics.iloc[: len(only_core.metrics)].reset_index(drop=True)  # the core comes first
    assert core_rows[columns].equals(only_core.metrics[columns])


def test_options_switch_analyses_off(study):
    config = config_from_mapping(study.config()).with_overrides(resamples=0, max_cases=0)
    off = config.with_options(
        ppi={"enabled": False},
        alt_test={"enabled": False},
        jury={"enabled": False},
        probes={"position": False, "length": False, "self_preference": False, "variants": False},
    )
    result = auditor.audit(study.labels, study.items, config=off)
    assert not {"jury", "ppi", "alt_test", "probes"} & set(result.meta)
    assert not result.metrics["metric"].str.startswith(("alt_test", "jury", "ppi_", "length_", "self_")).any()


def test_the_length_probe_alone_off_keeps_the_other_probes():
    probe = simulate_probe_study(seed=1, n_users=12, n_items=100)
    config = config_from_mapping(probe.config()).with_overrides(resamples=0, max_cases=0)
    both = auditor.audit(probe.labels, probe.items, config=config)
    no_length = auditor.audit(probe.labels, probe.items, config=config.with_options(probes={"length": False}))
    assert "length" in both.meta["probes"] and "length" not in no_length.meta["probes"]
    assert {"self_preference", "variants"} <= set(no_length.meta["probes"])
    assert "length_preference" in set(both.metrics["metric"])
    assert "length_preference" not in set(no_length.metrics["metric"])


def test_toml_tables_map_into_the_nested_config(tmp_path):
    path = tmp_path / "audit.toml"
    path.write_text(
        textwrap.dedent("""
        task = "categorical"
        stage = "extraction"
        [labels]
        categories = ["accept", "uncertain", "reject"]
        [ppi]
        enabled = false
        [alt_test]
        epsilon = 0.1
        level = 0.1
        alignment = "accuracy"
        min_items = 10
        [jury]
        rules = ["majority"]
        members = ["a", "b"]
        [personalization]
        problematic = ["reject"]
        kappa_table = false
        [probes]
        length = false
    """),
        encoding="utf-8",
    )
    config = load_config(path)
    assert config.ppi.enabled is False
    assert (
        config.alt_test.epsilon,
        config.alt_test.level,
        config.alt_test.alignment,
        config.alt_test.min_items,
    ) == (0.1, 0.1, "accuracy", 10)
    assert config.jury.rules == ("majority",) and config.jury.members == ("a", "b")
    assert config.personalization.stage == "extraction"  # the top-level key keeps working
    assert config.personalization.problematic == ("reject",) and config.personalization.kappa_table is False
    assert config.probes.length is False and config.probes.position is True
    assert config == AuditConfig(
        task="categorical", categories=("accept", "uncertain", "reject"), source=str(path)
    ).with_options(
        ppi={"enabled": False},
        alt_test={"epsilon": 0.1, "level": 0.1, "alignment": "accuracy", "min_items": 10},
        jury={"rules": ("majority",), "members": ("a", "b")},
        personalization={"stage": "extraction", "problematic": ("reject",), "kappa_table": False},
        probes={"length": False},
    )


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        ("[alt_test]\nepsilon = 'wide'", "alt_test.epsilon", "expected a number"),
        ("[alt_test]\nalignment = 'rmse'", "alt_test.alignment", "unknown alignment 'rmse'"),
        ("[alt_test]\nlevel = 1.5", "alt_test.level", "between 0 and 1"),
        ("[jury]\nrules = ['median']", "jury.rules", "unknown jury rule 'median'"),
        ("[baselines]\nnames = ['coin']", "baselines.names", "unknown baseline 'coin'"),
        ("[ppi]\nenabled = 'yes'", "ppi.enabled", "expected true or false"),
        ("[probes]\nlenght = false", "probes.lenght", "unknown key(s) in [probes]: lenght"),
        (
            "stage = 'generation'\n[personalization]\nstage = 'relevance'",
            "personalization.stage",
            "given twice",
        ),
        ("[personalization]\nstage = 'stage9'", "stage", "unknown stage 'stage9'"),
    ],
)
def test_bad_analysis_options_name_the_file_and_the_key(tmp_path, text, key, fragment):
    path = tmp_path / "audit.toml"
    path.write_text("task = 'pairwise'\n" + text + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.file == str(path) and caught.value.column == key
    assert fragment in str(caught.value)


def test_with_options_refuses_unknown_names():
    with pytest.raises(ConfigError, match="unknown option.*epsilom"):
        AuditConfig().with_options(alt_test={"epsilom": 0.1})
    with pytest.raises(ConfigError, match="unknown analysis 'alt'"):
        AuditConfig().with_options(alt={"epsilon": 0.1})


def test_toml_and_python_options_give_the_same_audit(study, tmp_path):
    mapping = dict(study.config())
    mapping["alt_test"] = {"epsilon": 0.6}
    mapping["jury"] = {"rules": ["mean"]}
    from_toml = config_from_mapping(mapping).with_overrides(resamples=0, max_cases=0)
    from_python = replace(
        config_from_mapping(study.config()).with_overrides(resamples=0, max_cases=0)
    ).with_options(alt_test={"epsilon": 0.6}, jury={"rules": ("mean",)})
    a = auditor.audit(study.labels, study.items, config=from_toml)
    b = auditor.audit(study.labels, study.items, config=from_python)
    assert a.meta["alt_test"]["epsilon"] == 0.6 and a.meta["jury"]["rules"] == ["mean"]
    assert a.metrics.equals(b.metrics) and a.meta == b.meta
