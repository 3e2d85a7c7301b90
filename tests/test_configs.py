"""Every option of every config group, and every experiment preset, composes and builds."""

import numpy as np
import pytest
from conftest import CONF_DIR, compose

from runner.build import build_model
from runner.data import load_dataset

GROUPS = ["model", "data", "loss", "optimizer", "experiment", "hparams_search", "debug"]
PLUGIN_OF_GROUP = {"hparams_search": "optuna"}
# what a group option needs beside it to make a valid run
COMPANIONS = {
    "data/sine": ["loss=mse"],
    "data/moons": [],
    "data/csv": ["data.path=iris.csv", "data.target=species"],
    "loss/binary_crossentropy": ["data.classes=2"],
    "loss/mse": ["data=sine"],
    "loss/mae": ["data=sine"],
}


def _options(group):
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def _build(cfg, base_dir):
    seeds = np.random.SeedSequence(cfg.seed).spawn(2)
    dataset = load_dataset(cfg.data, seeds[0].spawn(2), cfg.dtype, base_dir)
    return dataset, build_model(cfg, dataset, seeds[1])


@pytest.fixture(scope="module")
def iris_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("csv")
    rng = np.random.default_rng(0)
    rows = ["sepal,petal,species"]
    for i in range(60):
        rows.append(
            f"{rng.normal(i % 3, 0.3):.3f},{rng.normal(2 * (i % 3), 0.3):.3f},{['a', 'b', 'c'][i % 3]}"
        )
    (folder / "iris.csv").write_text("\n".join(rows) + "\n")
    return folder


def test_every_group_has_options():
    for group in GROUPS:
        assert _options(group), f"conf/{group} is empty"


@pytest.mark.parametrize(
    "group, option", [(g, o) for g in GROUPS for o in _options(g)], ids=lambda v: str(v)
)
def test_option_composes_and_builds(group, option, iris_dir):
    if group in PLUGIN_OF_GROUP:
        pytest.importorskip(PLUGIN_OF_GROUP[group])
    cfg = compose(f"{group}={option}", *COMPANIONS.get(f"{group}/{option}", []))
    dataset, model = _build(cfg, iris_dir)
    assert model.n_inputs == dataset.n_inputs
    output = model.predict(dataset.X_val[:5])
    assert output.shape[0] == min(5, len(dataset.X_val)) and np.all(np.isfinite(output))


def test_defaults_are_the_seed_network():
    cfg = compose()
    assert [cfg.model.layers[0].units, cfg.model.layers[0].activation] == [64, "relu"]
    _, model = _build(cfg, CONF_DIR)
    assert [type(layer).__name__ for layer in model.layers] == ["Dense", "ReLU", "Dense", "Softmax"]
    assert (model.layers[0].weights.shape, model.layers[2].weights.shape) == ((2, 64), (64, 3))


@pytest.mark.parametrize("experiment", _options("experiment"))
def test_experiment_file_starts_with_its_command(experiment):
    text = (CONF_DIR / "experiment" / f"{experiment}.yaml").read_text()
    assert text.startswith("# @package _global_\n#")
    assert "python -m runner" in text.split("defaults")[0]


def test_output_layer_follows_the_loss_and_the_data():
    _, binary = _build(compose("loss=binary_crossentropy", "data.classes=2"), CONF_DIR)
    assert binary.layers[-2].n_neurons == 1 and type(binary.layers[-1]).__name__ == "Sigmoid"
    _, regression = _build(compose("data=sine", "loss=mae"), CONF_DIR)
    assert regression.layers[-2].n_neurons == 1 and type(regression.layers[-1]).__name__ == "Linear"


def test_dropout_and_regularizers_reach_the_layers():
    _, model = _build(compose("model=wide"), CONF_DIR)
    names = [type(layer).__name__ for layer in model.layers]
    assert names == ["Dense", "ReLU", "Dropout", "Dense", "Softmax"]
    assert model.layers[2].rate == 0.1 and model.layers[0].weight_regularizer_l2 == 5e-4


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dtype_reaches_data_and_model(dtype):
    dataset, model = _build(compose(f"dtype={dtype}"), CONF_DIR)
    assert dataset.X_train.dtype == dtype and model.dtype == np.dtype(dtype)
