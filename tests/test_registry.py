import pytest

import nncore
from nncore import ACTIVATIONS, DATASETS, LAYERS, LOSSES, METRICS, OPTIMIZERS, create, lookup


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError) as error:
        lookup(ACTIVATIONS, "activation", "relux")
    assert str(error.value) == (
        "unknown activation 'relux'; choose one of: "
        "leaky_relu, linear, relu, sigmoid, softmax, tanh"
    )


def test_create_passes_options_and_rejects_unknown_ones():
    adam = create(OPTIMIZERS, "optimizer", "adam", learning_rate=0.05, beta_1=0.8)
    assert (adam.learning_rate, adam.beta_1) == (0.05, 0.8)
    with pytest.raises(
        ValueError,
        match="unknown option 'lr' for optimizer 'adam'; choose from: learning_rate, decay",
    ):
        create(OPTIMIZERS, "optimizer", "adam", lr=0.1)


@pytest.mark.parametrize("table", [ACTIVATIONS, DATASETS, LAYERS, LOSSES, METRICS, OPTIMIZERS])
def test_registry_entries_are_public_names(table):
    for entry in table.values():
        assert getattr(nncore, entry.__name__) is entry
