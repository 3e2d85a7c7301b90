"""Config nodes -> nncore objects. Pure functions; every user mistake becomes a ConfigError."""

import numpy as np
from omegaconf import DictConfig, ListConfig, OmegaConf

from nncore import ACTIVATIONS, INITIALIZERS, LOSSES, OPTIMIZERS, Dense, Dropout, Model, create
from nncore.registry import accepted_options
from runner.data import load_dataset
from runner.dataset import CLASSIFICATION, REGRESSION
from runner.errors import ConfigError, config_key

# What each loss needs from the data and which output activation it pairs with.
LOSS_TASKS = {
    "categorical_crossentropy": (CLASSIFICATION, "softmax"),
    "binary_crossentropy": (CLASSIFICATION, "sigmoid"),
    "mse": (REGRESSION, "linear"),
    "mae": (REGRESSION, "linear"),
}
LAYER_KEYS = (
    "units",
    "activation",
    "dropout",
    "weight_init",
    "weight_scale",
    "weight_regularizer_l1",
    "weight_regularizer_l2",
    "bias_regularizer_l1",
    "bias_regularizer_l2",
)
MODEL_KEYS = ("name", "width", "layers", "output", "weight_init", "weight_scale")


DEFAULT_LOSS = (
    "categorical_crossentropy"  # conf/config.yaml's; with data.task=auto it follows the task
)


def loss_name(cfg, task=None):
    """The loss a run trains with: ``loss.name``, except that the default loss on a regression
    target becomes ``mse`` while ``data.task`` is ``auto`` (the default loss follows the task)."""
    name = cfg.loss.get("name")
    if not isinstance(name, str) or name not in LOSSES:  # a list is no name
        raise ConfigError(
            "loss.name", name, f"unknown loss; choose one of: {', '.join(sorted(LOSSES))}"
        )
    if task == REGRESSION and name == DEFAULT_LOSS and cfg.data.get("task", "auto") == "auto":
        return "mse"
    return name


def build_loss(loss_cfg, name=None):
    if name is not None and name != loss_cfg.get("name"):  # the default loss, followed the task
        loss_cfg = OmegaConf.create({"name": name})
    return _create("loss", LOSSES, loss_cfg)


def build_optimizer(optimizer_cfg):
    return _create("optimizer", OPTIMIZERS, optimizer_cfg)


def _create(group, table, node):
    """``table[node.name](**rest of node)`` with errors naming ``group.key``."""
    name = node.get("name")
    if not isinstance(name, str) or name not in table:  # a list is no name
        raise ConfigError(
            f"{group}.name", name, f"unknown {group}; choose one of: {', '.join(sorted(table))}"
        )
    options = _options(node)
    allowed = accepted_options(table[name])
    for key, value in options.items():
        if key not in allowed:
            raise ConfigError(
                f"{group}.{key}",
                value,
                f"not an option of {group}={name}; choose from: {', '.join(allowed)}",
            )
        _require_number(f"{group}.{key}", value)
    with config_key(group, options):
        return create(table, group, name, **options)


def output_layer(cfg, dataset):
    """(units, activation) of the output layer, checked against the loss and the data."""
    loss = loss_name(cfg, dataset.task)
    task, natural = LOSS_TASKS[loss]
    data = cfg.data.get("name")
    if task != dataset.task:
        fits = sorted(n for n, (t, _) in LOSS_TASKS.items() if t == dataset.task)
        what = "class labels" if dataset.task == CLASSIFICATION else "a regression target"
        raise ConfigError(
            "loss",
            loss,
            f"needs {'class labels' if task == CLASSIFICATION else 'a regression target'} but data={data} has {what}; use loss={' or loss='.join(fits)}",
        )
    if loss == "binary_crossentropy" and dataset.n_classes != 2:
        raise ConfigError(
            "loss",
            loss,
            f"needs 2 classes but data={data} has {dataset.n_classes}; use loss=categorical_crossentropy, or data.classes=2",
        )
    activation = (cfg.model.get("output") or {}).get("activation", "auto")
    if activation in (None, "auto"):
        activation = natural
    elif not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise ConfigError(
            "model.output.activation",
            activation,
            f"unknown activation; choose one of: auto, {', '.join(sorted(ACTIVATIONS))}",
        )
    elif task == CLASSIFICATION and activation != natural:
        raise ConfigError(
            "model.output.activation",
            activation,
            f"does not fit loss={loss}; use {natural} (or auto)",
        )
    elif task == REGRESSION and activation == "softmax":
        raise ConfigError(
            "model.output.activation",
            activation,
            f"softmax outputs sum to 1 and cannot fit a regression target; use linear (or auto) with loss={loss}",
        )
    if task == REGRESSION:
        return dataset.n_targets, activation
    return (1 if loss == "binary_crossentropy" else dataset.n_classes), activation


def build_model(cfg, dataset, seeds):
    """Model for ``dataset``: hidden layers from ``model.layers``, output layer fitted to the loss.

    ``seeds`` is a SeedSequence; each layer and the shuffling get their own child stream.
    """
    model_cfg = cfg.model
    _reject_unknown("model", model_cfg, MODEL_KEYS)
    hidden = model_cfg.get("layers") or []
    if not isinstance(hidden, (list, ListConfig)):
        raise ConfigError("model.layers", hidden, "must be a list of {units, activation} entries")
    units, activation = output_layer(cfg, dataset)
    output_cfg = dict(model_cfg.get("output") or {})
    output_cfg.update(units=units, activation=activation)
    specs = [(f"model.layers.{i}", entry) for i, entry in enumerate(hidden)]
    specs.append(("model.output", output_cfg))
    streams = iter(seeds.spawn(2 * len(specs) + 1))
    defaults = {
        k: model_cfg[k] for k in ("weight_init", "weight_scale") if model_cfg.get(k) is not None
    }
    layers, width = [], dataset.n_inputs
    for key, entry in specs:
        block = _layer(key, entry, width, defaults, cfg.dtype, streams)
        layers.extend(block)
        width = block[0].n_neurons
    loss = build_loss(cfg.loss, loss_name(cfg, dataset.task))
    optimizer = build_optimizer(cfg.optimizer)
    return Model(layers, loss, optimizer, seed=np.random.default_rng(next(streams)))


def _layer(key, entry, n_inputs, defaults, dtype, streams):
    """One config entry -> [Dense, activation] or [Dense, activation, Dropout]."""
    if not isinstance(entry, (dict, DictConfig)):
        raise ConfigError(
            key, entry, "each layer must be a mapping like {units: 64, activation: relu}"
        )
    entry = dict(entry)
    _reject_unknown(key, entry, LAYER_KEYS)
    units = entry.get("units")
    if isinstance(units, bool) or not isinstance(units, int) or units < 1:
        raise ConfigError(f"{key}.units", units, "must be a positive integer")
    activation = entry.get("activation")
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise ConfigError(
            f"{key}.activation",
            activation,
            f"unknown activation; choose one of: {', '.join(sorted(ACTIVATIONS))}",
        )
    options = {**defaults, **{k: v for k, v in entry.items() if k.startswith(("weight_", "bias_"))}}
    init = options.get("weight_init", "normal")
    if not isinstance(init, str) or init not in INITIALIZERS:
        raise ConfigError(
            f"{key}.weight_init",
            options["weight_init"],
            f"choose one of: {', '.join(INITIALIZERS)}",
        )
    for name, value in options.items():
        if name != "weight_init":
            _require_number(f"{key}.{name}", value)
    with config_key(key, entry):
        dense = Dense(
            n_inputs, units, **options, seed=np.random.default_rng(next(streams)), dtype=dtype
        )
    layers = [dense, ACTIVATIONS[activation]()]
    rate = entry.get("dropout")
    seed = next(streams)
    if rate:
        _require_number(f"{key}.dropout", rate)
        if not 0 <= rate < 1:
            raise ConfigError(
                f"{key}.dropout",
                rate,
                "must be a number >= 0 and < 1 (the fraction of units dropped)",
            )
        layers.append(Dropout(rate, seed=np.random.default_rng(seed), dtype=dtype))
    return layers


def _options(node):
    return {k: v for k, v in OmegaConf.to_container(node, resolve=True).items() if k != "name"}


def _reject_unknown(key, node, allowed):
    for name in node:
        if name not in allowed:
            raise ConfigError(
                f"{key}.{name}", node[name], f"unknown key; allowed: {', '.join(allowed)}"
            )


def _require_number(key, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(key, value, "must be a number")


def dataset_and_model(cfg, seed, base_dir, cache_dir=None):
    """The run's data and its untrained model, both drawn from ``seed`` (so a run's files are
    enough to rebuild them: see runner.analysis.run_plots)."""
    data_seeds, model_seed = np.random.SeedSequence(seed).spawn(2)
    dataset = load_dataset(cfg.data, data_seeds.spawn(3), cfg.dtype, base_dir, cache_dir)
    return dataset, build_model(cfg, dataset, model_seed)
