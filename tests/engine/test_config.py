import glob
import os

import pytest
import yaml

from videomamba.utils.config import ConfigError, data_mapping, load_config

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        yaml.safe_dump(data, f)
    return str(path)


def test_inheritance_deep_merge_lists_replaced_and_overrides(tmp_path):
    write(tmp_path / "_base_" / "a.yaml", {"train": {"lr": 1e-3, "opt_betas": [0.9, 0.95], "epochs": 3}})
    write(tmp_path / "_base_" / "b.yaml", {"_base_": "a.yaml", "train": {"epochs": 5}, "data": {"num_frames": 16}})
    cfg_path = write(tmp_path / "exp" / "x.yaml", {"_base_": ["../_base_/b.yaml"], "train": {"opt_betas": [0.8, 0.9]}})
    cfg = load_config(cfg_path, ["train.lr=2e-3", "data.flip=false"])
    assert cfg.train.lr == 2e-3 and cfg.train.epochs == 5
    assert list(cfg.train.opt_betas) == [0.8, 0.9]
    assert cfg.model.num_frames == 16  # interpolated from data.num_frames
    assert cfg.data.flip is False and cfg.train.weight_decay == 0.05  # untouched schema default


@pytest.mark.parametrize("override, key", [
    (["train.lrr=1"], "train.lrr"),
    (["train.lr=fast"], "train.lr"),
    (["data.num_frames=[1]"], "data.num_frames"),
    (["train.amp=fp8"], "train.amp"),
    (["train.layer_decay_mode=buggy"], "train.layer_decay_mode"),
    (["data.batch_size=0"], "data.batch_size"),
])
def test_bad_overrides_name_the_key(override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(None, override)


def test_unknown_key_in_file_names_file_and_key(tmp_path):
    path = write(tmp_path / "bad.yaml", {"model": {"nmae": "videomamba_tiny"}})
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "model.nmae" in str(err.value) and "bad.yaml" in str(err.value)
    path = write(tmp_path / "bad2.yaml", {"eval": {"test_num_crop": "three"}})
    with pytest.raises(ConfigError, match=r"eval\.test_num_crop"):
        load_config(path)


def test_missing_base_and_cycle(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(write(tmp_path / "x.yaml", {"_base_": ["nope.yaml"]}))
    write(tmp_path / "c1.yaml", {"_base_": "c2.yaml"})
    write(tmp_path / "c2.yaml", {"_base_": "c1.yaml"})
    with pytest.raises(ConfigError, match="circular"):
        load_config(str(tmp_path / "c1.yaml"))


def test_every_shipped_config_loads():
    files = sorted(glob.glob(os.path.join(REPO, "configs", "**", "*.yaml"), recursive=True))
    assert any(f.endswith(os.path.join("demo", "synthetic.yaml")) for f in files)
    for path in files:
        cfg = load_config(path)
        assert data_mapping(cfg)["num_frames"] == cfg.model.num_frames, path


def test_official_behaviour_base_selects_official_switches():
    cfg = load_config(os.path.join(REPO, "configs", "_base_", "official_behaviour.yaml"))
    assert cfg.train.layer_decay_mode == "official" and cfg.train.wd_exclusion == "official"
    assert cfg.eval.official_merge and cfg.data.video_id == "basename"
    default = load_config(None)
    assert default.train.layer_decay_mode == "fixed" and not default.eval.official_merge
