"""Each interpretation probe on data with a planted, known answer (interpret/planted_sets.py).

Per planted set, one CNN per region fold (the interpretation's architecture, schedule
``interpret_validate.config``) is trained and every region is scored by the network that
never saw it, on all its windows. The probe of the paper's findings then runs as on the
real data, and its pass criterion (stated in params.yaml ``interpret_validate.criteria`` and
in docs/prune-and-interpret.md before any run) says whether it found the planted answer:

- length_scale (Figs. 14-15, 17): the bipole probe's characteristic radius R_c at the
  planted field B* lies in [R* - tolerance, smallest larger NE radius), for every fold;
- location (Fig. 18 / Table 4; Fig. 3): the main report's Fig. 18 criterion on held-out
  regions (EAR - CR box output and EAR - CR occlusion contrast box - outside, intervals
  above 0), and the EAR composite shows the planted Hale bipole in the box;
- flux_only (Figs. 10-11, 24): the CNN does no better than the MTOT discriminant (paired
  interval of TSS(CNN) - TSS(DA) contains 0), its output rises with MTOT (Spearman rho of
  held-out windows >= min_rank_correlation) and the output bins sort PE from NE;
- flux_only_filters (Fig. 12): the flux_only networks pruned by the prune stage's procedure;
  on every fold, filters ordered by net score, the slopes of <F_i> against MTOT positive
  for the first half and negative for the second (interpret/planted_pruning.py);
- polarity (Table 5): the B network beats the |B| network (paired interval above 0), the
  |B| network has no skill (interval contains 0), and on the location set (where |B|
  suffices) the two cannot be told apart.
- size_trend (Fig. 16): EAR bipoles larger than CR bipoles; the networks pruned as for
  flux_only_filters; on every fold, filters ordered by net score, the correlations of F_i
  with the radius of example-field bipoles (0-30 Mm) positive for the first half and
  negative for the second (interpret/planted_pruning.py).

A planted set the CNN does not learn (pooled TSS < min_planted_tss) validates nothing. The
negative control trains the same network on a random label per region, drawn within each
kind (stats/leakage.py), and runs the same probe, read where its arbitrary sign cannot help
it (docs/prune-and-interpret.md); the probe must not find the planted answer there.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from preemergence.core.executor import resolve as resolve_executor
from preemergence.core.paths import MODEL_FILE, run_store
from preemergence.interpret.planted_sets import planted_store, sampling_plan
from preemergence.data.segments import assign_folds, segment_table
from preemergence.model import fanout
from preemergence.model.configs import train_config
from preemergence.model.discriminant import evaluate_folds
from preemergence.model.predictions import runs_table
from preemergence.model.runs import TimeBinData, TrainConfig, train_fold
from preemergence.stats.leakage import region_labels
from preemergence.stats.resampling import Interval, paired_difference, tss_interval

if TYPE_CHECKING:
    from preemergence.core.schema import Params


# probe sets that reuse another planted set's data (and so its networks)
DATA_OF_PROBE_SET = {"flux_only_filters": "flux_only"}


@dataclass
class PlantedSet:
    """One planted set: its data (one time bin), region store and the parameters."""

    name: str
    data: TimeBinData
    store: object
    params: "Params"

    @property
    def section(self):
        return self.params.interpret_validate

    @property
    def threshold(self) -> float:
        return float(self.params.train.threshold)


def planted_set(name: str, params: "Params") -> PlantedSet:
    """Maps, windows (each sample also an evaluation 'tile': every window of a held-out
    region is scored), folds and standardisation of one planted set (a probe set of
    DATA_OF_PROBE_SET: those of its data set)."""
    section, t, seed = params.interpret_validate, params.interpret.time_h, params.seed
    data_name = DATA_OF_PROBE_SET.get(name, name)
    store = planted_store(data_name, section, t, seed,
                          params.simulate.emergence.hale_leading_sign_north)
    folds = assign_folds(store, section.n_folds, seed)
    table, const = segment_table(store, t, folds, sampling_plan(data_name, section), seed)
    samples = table[table.subset == "sample"]
    table = pd.concat([samples, samples.assign(subset="tile")], ignore_index=True)
    index = {r.region_id: i for i, r in enumerate(store.regions)}
    # the content (windows, folds, labels, maps, constants) keys the networks, not the
    # section: editing a criterion or the list of sets retrains nothing
    digest = hashlib.sha256(json.dumps([data_name, seed, t, const], sort_keys=True,
                                       default=str).encode())
    digest.update(pd.util.hash_pandas_object(table, index=False).to_numpy().tobytes())
    digest.update(np.ascontiguousarray(store.maps[t]).tobytes())
    data = TimeBinData(t, store.maps[t], index, table, const["mean_g"], const["std_g"],
                       data_key=digest.hexdigest()[:16])
    return PlantedSet(name, data, store, params)


def planted_config(params: "Params", **overrides) -> TrainConfig:
    """The planted networks' configuration: schedule interpret_validate.config."""
    return train_config(params, params.interpret_validate.config, **overrides)


def train_folds(data: TimeBinData, config: TrainConfig, n_folds: int, label: str,
                folds=None) -> list[dict]:
    """One run per fold (finished runs reused from the run store)."""
    folds = list(range(n_folds)) if folds is None else list(folds)
    fanout.produce_runs([fanout.train_task(data, k, config) for k in folds],
                        resolve_executor(), label)
    return [train_fold(data, k, config) for k in folds]


def load_run(result: dict):
    """(model, mean, std) of a finished run of the run store."""
    import keras
    model = keras.models.load_model(run_store() / result["run_key"] / MODEL_FILE)
    const = result["standardisation"]
    return model, const["mean"], const["std"]


def predictions(planted: PlantedSet, results: list[dict], method: str,
                data: TimeBinData | None = None) -> pd.DataFrame:
    """Out-of-fold prediction rows of runs, against the labels of ``data`` (default: the
    planted, true labels; for the negative control, the random labels it was trained on)."""
    data = planted.data if data is None else data
    return runs_table({data.time_h: data}, results, method, planted.threshold)


def pooled_tss(planted: PlantedSet, rows: pd.DataFrame) -> Interval:
    """Pooled TSS of prediction rows with its region-bootstrap interval (params stats)."""
    return tss_interval(rows, planted.params.stats, planted.params.seed)


def difference(planted: PlantedSet, first: pd.DataFrame, second: pd.DataFrame) -> Interval:
    """TSS(first) - TSS(second) on the same windows, region-bootstrap interval."""
    return paired_difference(first, second, planted.params.stats, planted.params.seed)[0]


def random_label_runs(planted: PlantedSet, config: TrainConfig
                      ) -> tuple[TimeBinData, list[dict]]:
    """The negative control: the same network trained on a random label per region, half
    of each fold's EARs and half of its CRs PE, so that the labels say nothing about the
    planted class; one network per fold of interpret_validate.control_folds (in that
    order)."""
    shuffled = region_labels(planted.data, planted.params.seed, within_kind=True)
    return shuffled, train_folds(shuffled, config, planted.section.n_folds,
                                 f"{planted.name}: random labels",
                                 folds=planted.section.control_folds)


def control_record(folds: list[dict]) -> dict:
    """The negative control of a probe read per network: each control fold's record (with
    its "fold" and "finds_planted"); it finds the planted answer when any fold does (the
    rule fixed in docs/prune-and-interpret.md before any run)."""
    return {"folds": folds, "finds_planted": any(f["finds_planted"] for f in folds)}


def da_mtot_rows(planted: PlantedSet) -> pd.DataFrame:
    """Out-of-fold predictions of the MTOT discriminant on the same windows."""
    return pd.concat([r.predictions for r in evaluate_folds(planted.data.table, "mtot")],
                     ignore_index=True)
