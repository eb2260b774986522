"""GenZoo: data, registry, checkpoints, training, sampling and the app's building blocks."""
from .checkpoints import CheckpointError, load_model
from .data import DATASETS, DataError
from .registry import GENERATIVE, SPECS, get_spec

__all__ = ["load_model", "CheckpointError", "DataError", "DATASETS", "SPECS", "GENERATIVE", "get_spec"]
