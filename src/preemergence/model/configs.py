"""The runtime configurations of training and pruning runs, built from the validated
parameters (core.schema.Params) in this one place.

A run's configuration (``runs.TrainConfig``, ``prune_runs.PruneSchedule``) is part of its
key, so it holds plain values only; the schema has already checked every name and rule
(named schedules exist, E(N) for every pruning stage), so nothing here checks again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from preemergence.model.prune_runs import PruneSchedule
from preemergence.model.runs import TrainConfig

if TYPE_CHECKING:
    from preemergence.core.schema import Params


def train_config(params: "Params", schedule: str | None = None, **overrides) -> TrainConfig:
    """The configuration of a run: the named schedule of train.configs (default
    train.config) with the network of params and the training seed (train.seed, else the
    global seed); ``overrides`` replace fields
    (e.g. ``depth=3``, ``abs_field=True``)."""
    train = params.train
    name = schedule or train.config
    values = {**train.configs[name].model_dump(), "depth": params.depth,
              "final_filters": train.final_filters, "abs_field": train.abs_field,
              "mixed_precision": train.mixed_precision, "threshold": train.threshold,
              "seed": params.training_seed, **overrides}
    return TrainConfig(name=name, **values)


def prune_train_config(params: "Params") -> TrainConfig:
    """The training configuration of the selected pruning schedule (its first stage is a
    train-cv run when the two agree)."""
    return train_config(params, params.prune.selected.train_config)


def prune_schedule(params: "Params") -> PruneSchedule:
    """The selected pruning schedule (prune.schedule) as a run configuration."""
    spec = params.prune.selected
    return PruneSchedule(name=params.prune.schedule, first_epochs=spec.first_epochs,
                         epochs=dict(spec.epochs), final_filters=params.prune.final_filters,
                         finetune_samples_per_epoch=spec.finetune_samples_per_epoch,
                         learning_rate=spec.learning_rate,
                         score_samples=params.prune.score_samples)
