"""The run config: JSON + overrides build it, validation names every problem, types are checked per field."""

from __future__ import annotations

import json

import pytest

from edgeclip_train.config import ConfigError, RunConfig, apply_overrides, load_config, main, validate


def test_defaults_are_valid_and_round_trip_through_json(tmp_path):
    cfg = validate(RunConfig())
    path = tmp_path / "c.json"
    path.write_text(json.dumps(cfg.to_dict()))
    assert load_config(path) == cfg


def test_file_then_overrides(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"objective": "simclr", "optim": {"lr": 0.1}, "augment": {"views": 3}}))
    cfg = load_config(path, ["optim.warmup_steps=5", "augment.crop_scale=[0.3, 1]", "precision=bf16"])
    assert (cfg.objective, cfg.optim.lr, cfg.optim.warmup_steps) == ("simclr", 0.1, 5)
    assert cfg.optim.weight_decay == RunConfig().optim.weight_decay  # untouched fields keep their defaults
    assert cfg.augment.crop_scale == (0.3, 1.0) and cfg.augment.views == 3 and cfg.precision == "bf16"


def test_unknown_objective_lists_the_known_ones():
    with pytest.raises(ConfigError) as e:
        validate(RunConfig(objective="clipp"))
    assert "unknown objective 'clipp'" in str(e.value)
    for name in ("byol", "clip", "moco", "simclr", "supcon", "triplet"):
        assert name in str(e.value)
    assert e.value.code == "invalid_config"


def test_every_problem_is_reported_at_once():
    cfg = load_config(None, ["batch_size=30", "grad_accum_steps=2", "steps=0", "precision=fp16", "optim.lr=-1"])
    with pytest.raises(ConfigError) as e:
        validate(cfg, world_size=4)
    text = str(e.value)
    assert "batch_size 30 is not divisible by world_size 4 x grad_accum_steps 2" in text
    assert "steps must be positive" in text and "precision must be one of" in text and "optim.lr" in text
    assert len(e.value.problems) >= 4


def test_objective_that_needs_captions_rejects_data_without_them():
    cfg = load_config(None, ["objective=clip", "data.source=folder", "data.path=/x", "data.with_captions=false"])
    with pytest.raises(ConfigError, match="objective 'clip' needs captions"):
        validate(cfg)
    validate(load_config(None, ["objective=simclr", "data.source=folder", "data.path=/x", "data.with_captions=false"]))


def test_sources_with_files_need_a_path_and_unknown_sources_are_named():
    with pytest.raises(ConfigError, match="data.path is required"):
        validate(load_config(None, ["data.source=csv"]))
    with pytest.raises(ConfigError, match="unknown data.source 'parquet'"):
        validate(load_config(None, ["data.source=parquet"]))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("batch_size=abc", "batch_size: expected an integer"),
        ("batch_size=1.5", "batch_size: expected an integer"),
        ("optim.betas=[0.9]", "optim.betas: expected a list of 2 numbers"),
        ("progress=1", "progress: expected true/false"),
        ("optim=3", "optim: expected an object"),
        ("nosuch=1", "unknown field 'nosuch'"),
        ("optim.nosuch=1", "unknown field 'optim.nosuch'"),
        ("novalue", "expected key=value"),
    ],
)
def test_bad_values_name_the_field(override, message):
    with pytest.raises(ConfigError) as e:
        load_config(None, [override])
    assert message in str(e.value)


def test_bad_file_is_a_config_error(tmp_path):
    path = tmp_path / "c.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(path)
    path.write_text(json.dumps({"optim": {"lrr": 1}}))
    with pytest.raises(ConfigError, match="unknown field 'optim.lrr'"):
        load_config(path)


def test_overrides_do_not_mutate_their_input():
    d = RunConfig().to_dict()
    apply_overrides(d, ["optim.lr=1"])
    assert d["optim"]["lr"] == RunConfig().optim.lr


def test_command_prints_the_config_or_every_problem(capsys):
    assert main(["--set", "objective=simclr", "--set", "batch_size=16", "--world-size", "4"]) == 0
    assert json.loads(capsys.readouterr().out)["objective"] == "simclr"
    assert main(["--set", "objective=nope", "--set", "batch_size=6", "--world-size", "4"]) == 2
    err = capsys.readouterr().err
    assert "unknown objective 'nope'" in err and "batch_size 6 is not divisible" in err
