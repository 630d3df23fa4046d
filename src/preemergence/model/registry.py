"""Trained CNNs as MLflow models, and train-cv's models in the MLflow model registry.

Every newly trained train-cv / depth-study / |B| run logs its network as an MLflow model
(Keras flavour) with its input/output signature and, as model metadata, what a user needs
to apply it: the standardisation constants (G), the classification threshold, |B| or B,
the run key, time bin, fold, depth and schedule. train-cv's models are registered as
``preemergence-cnn-<t-03.2h>`` (one registered model per time bin, named so that the
registry lists them in time order), one version per run, with the alias ``fold<k>`` on the
version of the current parameters' run of fold k; a reused run moves the alias back to
the version logged when it was trained. Load one with
``preemergence scan --model models:/preemergence-cnn-t-03.2h@fold0`` or
``mlflow.keras.load_model("models:/preemergence-cnn-t-03.2h@fold0")``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from preemergence.core.constants import SEGMENT_SIZE_PX, sortable_time_label, time_bin_label
from preemergence.core.paths import MODEL_FILE
from preemergence.core.profiling import timed

REGISTERED_PREFIX = "preemergence-cnn"
MODEL_NAME = "model"        # the logged model's name within its run


def registered_name(time_h: float) -> str:
    """The registered model of a time bin, e.g. preemergence-cnn-t-03.2h (names that the
    MLflow model registry lists in time order: t-03.2h ... t-24.5h)."""
    return f"{REGISTERED_PREFIX}-{sortable_time_label(time_h)}"


def signature():
    """Input: standardised B (or |B|) windows (n, 85, 85, 1); output: P(PE) (n, 1)."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import Schema, TensorSpec
    size = SEGMENT_SIZE_PX
    return ModelSignature(
        inputs=Schema([TensorSpec(np.dtype(np.float32), (-1, size, size, 1), "input")]),
        outputs=Schema([TensorSpec(np.dtype(np.float32), (-1, 1), "p_pe")]))


def model_metadata(result: dict, source: str) -> dict:
    """What applying the model needs, from a run's result.json, and its training data."""
    config = result["config"]
    return {"data_source": source, "mean_g": float(result["standardisation"]["mean"]),
            "std_g": float(result["standardisation"]["std"]),
            "threshold": float(config["threshold"]), "abs_field": bool(config["abs_field"]),
            "run_key": result["run_key"], "time_h": float(result["time_h"]),
            "fold": int(result["fold"]), "depth": int(config["depth"]),
            "config": config["name"]}


@timed("model registration")
def log_cnn(mlflow, folder: Path, result: dict, register: bool, source: str) -> None:
    """Log the run's network as an MLflow model in the active run (the one this process
    just trained, else folder/model.keras); with ``register``, as a new version of its time
    bin's registered model, tagged, described and aliased fold<k>."""
    import keras
    import tensorflow as tf
    from preemergence.model.runs import just_trained
    model = just_trained(result["run_key"])
    if model is None:
        model = keras.models.load_model(Path(folder) / MODEL_FILE, compile=False)
    info = mlflow.keras.log_model(
        model, name=MODEL_NAME, signature=signature(), metadata=model_metadata(result, source),
        pip_requirements=[f"tensorflow=={tf.__version__}", f"keras=={keras.__version__}"])
    if register:
        name = registered_name(result["time_h"])
        version = mlflow.register_model(
            info.model_uri, name, await_registration_for=0,
            tags={"run_key": result["run_key"], "tss": f"{result['tss']:.4f}"}).version
        client = mlflow.MlflowClient()
        client.update_model_version(name, version, description=version_description(result))
        client.set_registered_model_alias(name, f"fold{result['fold']}", version)
        if str(version) == "1":                     # the registered model was just created
            client.update_registered_model(name, description=registered_description(
                result["time_h"]))


def registered_description(time_h: float) -> str:
    """What a registered model is (shown in the MLflow UI's model list)."""
    return (f"The CNN trained on segments {-time_h:g} h before emergence (PE) against "
            f"never-emerging (NE), one version per cross-validation run; alias fold<k> = "
            f"the current parameters' run of fold k. Input: standardised B_LOS windows "
            f"(85 x 85 px); output: P(PE). Its TSS on its fold's tiles is in each version's "
            f"description and 'tss' tag.")


def version_description(result: dict) -> str:
    """One version: its fold, depth, schedule and TSS on its fold's evaluation tiles."""
    config = result["config"]
    field = "|B|" if config["abs_field"] else "B"
    return (f"{time_bin_label(result['time_h'])} fold {result['fold']}: depth "
            f"{config['depth']}, schedule '{config['name']}', trained on {field}; TSS "
            f"{100 * result['tss']:.1f} % on the fold's {result['n_tiles']} evaluation tiles. "
            f"Run key {result['run_key']}.")


@timed("model registration")
def alias_reused(mlflow, result: dict) -> bool:
    """Point fold<k>'s alias at the version logged when this (reused) run was trained;
    False when no version of it is registered (e.g. a store made before registration)."""
    client = mlflow.MlflowClient()
    name = registered_name(result["time_h"])
    try:
        versions = client.search_model_versions(
            f"name = '{name}' and tags.run_key = '{result['run_key']}'")
    except mlflow.exceptions.MlflowException:
        return False
    if not versions:
        return False
    latest = max(versions, key=lambda v: int(v.version))
    client.set_registered_model_alias(name, f"fold{result['fold']}", latest.version)
    return True


def load_registered(uri: str):
    """(Keras model, metadata) of a logged or registered model URI (models:/..., runs:/...)."""
    from preemergence.core import tracking
    mlflow = tracking.connect()
    try:
        info = mlflow.models.get_model_info(uri)
    except mlflow.exceptions.MlflowException as exc:
        raise ValueError(f"{uri}: no such MLflow model ({' '.join(str(exc).split())[:200]})") \
            from exc
    return mlflow.keras.load_model(uri), dict(info.metadata or {})
