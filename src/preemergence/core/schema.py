"""The schema of params.yaml (pydantic): types, ranges and cross-field rules.

``load_params`` checks the whole file against it before any stage does work; a violation
is one line naming the file, the key and the problem (``ParamsError``). Units as in
params.yaml: G, Mx, Mm, h, deg.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field,
                      StrictBool, StrictInt, StrictStr, model_validator)

from preemergence.core.filters import filter_counts, pruning_stages

MAX_DEPTH = 8   # depth 8 (uncapped) is 25 M parameters; depth 9 needs ~10 GB per fold


from preemergence.core.schema_types import (Count, Fraction, NonNegative, Number, Positive,
                                             PositiveRange, Range, Section, TimeBin, _ordered)
from preemergence.core.schema_planted import InterpretValidate


class Data(Section):
    source: Literal["simulated", "hmi"]
    regions_dir: StrictStr
    on_missing_time_bin: Literal["error", "skip"]


class Acquire(Section):
    """The real-data path (docs/real-data.md): catalogue -> HMI frames -> region store."""

    catalogue: StrictStr
    series: Literal["hmi.M_720s", "hmi.M_45s"]
    frames_dir: StrictStr | None          # frames the user has; None: fetch from JSOC
    cache_dir: StrictStr                  # downloads (outside git)
    jsoc_url: StrictStr | None            # None: JSOC itself
    cutout: StrictBool                    # tracked im_patch cutouts instead of full disk
    cutout_size_deg: Positive
    min_good_fraction: Fraction
    control_tolerance_g: Positive         # HEAR: a CR's central mean |B| within this of its EAR's
    method: Literal["interpolation", "adaptive"]
    max_center_angle_deg: Annotated[Number, Field(gt=0, le=90)]
    retries: Annotated[StrictInt, Field(ge=0)]
    backoff_s: NonNegative


class Quiet(Section):
    cell_size_mm: Positive
    cell_lifetime_h: PositiveRange
    cell_epoch_h: Positive
    lane_halfwidth_mm: Positive
    feature_flux_min_mx: Positive
    feature_flux_max_mx: Positive
    feature_flux_slope: Number
    network_threshold_mx: Positive
    network_flux_density_g: NonNegative
    internetwork_flux_density_g: NonNegative
    network_lifetime_h: Positive
    drift_speed_kms: NonNegative
    feature_blur_mm: NonNegative
    polarity_imbalance: NonNegative
    noise_g: NonNegative


class Ephemeral(Section):
    rate_per_1e5_mm2_per_day: NonNegative
    flux_min_mx: Positive
    flux_efold_mx: Positive
    lifetime_h: Positive
    max_separation_mm: Positive
    blur_mm: NonNegative


class Plage(Section):
    probability: Fraction
    flux_median_mx: Positive
    flux_sigma_ln: NonNegative
    radius_mm: PositiveRange
    fragments: Count
    dominant_fraction: Fraction
    min_distance_from_centre_mm: NonNegative
    blur_mm: NonNegative


class PrecursorElements(Section):
    no_precursor_fraction: Fraction
    flux_at_emergence_median_mx: Positive
    persistent_fraction: Fraction
    abrupt_timescale_h: Positive
    pole_spread_mm: NonNegative
    mixed_fraction: Fraction


class PrecursorCompact(Section):
    no_precursor_fraction: Fraction
    flux_at_emergence_median_mx: Positive
    pole_spread_mm: NonNegative
    fragments_per_pole: Count
    blur_mm: NonNegative


class Emergence(Section):
    model: Literal["elements", "compact"]
    flux_at_emergence_sigma_ln: NonNegative
    growth_timescale_median_h: Positive
    growth_timescale_sigma_ln: NonNegative
    separation_mm: PositiveRange
    centre_offset_mm: NonNegative
    joy_factor: Number
    joy_scatter_deg: NonNegative
    hale_leading_sign_north: Literal[-1, 1]
    elements: PrecursorElements
    compact: PrecursorCompact


class Simulate(Section):
    n_ear: Count
    n_cr: Count
    latitude_deg: Annotated[tuple[Annotated[Number, Field(ge=0, le=90)],
                                  Annotated[Number, Field(ge=0, le=90)]],
                            AfterValidator(_ordered)]
    cmd_max_deg: Annotated[Number, Field(gt=0, le=90)]
    quiet: Quiet
    ephemeral: Ephemeral
    plage: Plage
    emergence: Emergence


class Prepare(Section):
    pe_per_ear: Count
    ne_per_ear: Count
    ne_per_cr: Count
    n_folds: Annotated[StrictInt, Field(ge=2)]
    data_docs: StrictBool


class Realism(Section):
    kind: Literal["EAR", "CR"]
    time_h: TimeBin


class Baseline(Section):
    boundary_max_mx: Positive
    grid_points: Annotated[StrictInt, Field(ge=2)]


class TrainSchedule(Section):
    """One named training schedule of train.configs (the runtime configuration of a run is
    model.runs.TrainConfig, built by model.configs)."""

    learning_rate: Positive
    batch_size: Count
    epochs: Count
    samples_per_epoch: Count | None
    max_val_samples: Count | None
    lr_schedule: Literal["constant", "cosine"]


class Train(Section):
    config: StrictStr
    configs: dict[str, TrainSchedule]
    final_filters: Count | None
    abs_field: StrictBool
    mixed_precision: StrictBool
    threshold: Annotated[Number, Field(gt=0, lt=1)]
    seed: Annotated[StrictInt, Field(ge=0)] | None     # training only; None: the global seed


class DepthStudy(Section):
    time_h: TimeBin
    depths: Annotated[list[Annotated[StrictInt, Field(ge=1, le=MAX_DEPTH)]], Field(min_length=1)]
    config: StrictStr


class PruneScheduleSpec(Section):
    """One named pruning schedule of prune.schedules (at run time: model.prune_runs.
    PruneSchedule, built by model.configs)."""

    train_config: StrictStr
    first_epochs: Count
    epochs: dict[StrictInt, Annotated[StrictInt, Field(ge=0)]]
    finetune_samples_per_epoch: Count | None
    learning_rate: Positive | None


class Prune(Section):
    time_bins: Annotated[list[TimeBin], Field(min_length=1)]
    schedule: StrictStr
    schedules: dict[str, PruneScheduleSpec]
    final_filters: Annotated[StrictInt, Field(ge=2)]
    score_samples: Count | None

    @property
    def selected(self) -> PruneScheduleSpec:
        """The schedule that runs (prune.schedule)."""
        return self.schedules[self.schedule]


class Bipole(Section):
    radius_max_mm: Positive
    radius_step_mm: Positive
    fields_g: Annotated[list[Positive], Field(min_length=1)]
    example_radius_mm: Positive
    example_field_g: Positive


class DepthSweep(Section):
    depths: Annotated[list[Annotated[StrictInt, Field(ge=1, le=MAX_DEPTH)]], Field(min_length=1)]
    folds: Annotated[list[Annotated[StrictInt, Field(ge=0)]], Field(min_length=1)]
    config: StrictStr
    max_filters: Count | None


class Occlusion(Section):
    mask_px: Annotated[StrictInt, Field(ge=1, le=85)]
    stride_px: Count
    regions_per_kind: Count | None      # None: every validation region of the fold
    figure_regions_per_kind: Count


class AbsField(Section):
    time_bins: Annotated[list[TimeBin], Field(min_length=1)]
    config: StrictStr


class Interpret(Section):
    time_h: TimeBin
    fold: Annotated[StrictInt, Field(ge=0)]
    max_samples: Count | None
    mtot_range_mx: Annotated[tuple[NonNegative, NonNegative], AfterValidator(_ordered)]
    mtot_bins: Count
    output_mtot_range_mx: Annotated[tuple[NonNegative, NonNegative], AfterValidator(_ordered)]
    output_mtot_bins: Count
    bipole: Bipole
    depth_sweep: DepthSweep
    occlusion: Occlusion
    abs_field: AbsField


METHOD = r"(cnn|da_mtot|da_mtot_dm|pruned|pruned_n2|random|n4|abs_field|cnn_depth[1-9])"
Comparison = Annotated[StrictStr, Field(pattern=rf"^{METHOD} - {METHOD}$")]
Method = Annotated[StrictStr, Field(pattern=rf"^{METHOD}$")]


class LeakageGuard(Section):
    time_h: TimeBin
    config: StrictStr
    confidence: Annotated[Number, Field(gt=0, lt=1)]


class Stats(Section):
    confidence: Annotated[Number, Field(gt=0, lt=1)]
    bootstrap_resamples: Annotated[StrictInt, Field(ge=100)]
    interval_method: Literal["BCa", "percentile", "basic"]
    permutations: Annotated[StrictInt, Field(ge=100)]
    comparisons: list[Comparison]
    summary_methods: Annotated[list[Method], Field(min_length=1)]
    repeats: Count
    leakage_guard: LeakageGuard


class Params(Section):
    """Every parameter of the pipeline, with the rules that tie sections together."""

    seed: Annotated[StrictInt, Field(ge=0)]
    depth: Annotated[StrictInt, Field(ge=1, le=MAX_DEPTH)]
    time_bins: Annotated[list[TimeBin], Field(min_length=1)]
    data: Data
    simulate: Simulate
    acquire: Acquire
    prepare: Prepare
    realism: Realism
    baseline: Baseline
    train: Train
    depth_study: DepthStudy
    prune: Prune
    interpret: Interpret
    interpret_validate: InterpretValidate
    stats: Stats

    @property
    def training_seed(self) -> int:
        """The seed of training (weights, batch order): train.seed, else the global seed."""
        return self.seed if self.train.seed is None else self.train.seed

    @model_validator(mode="after")
    def _cross_field_rules(self) -> "Params":
        problems = [*self._named_configs(), *self._time_bins(), *self._prune_stages()]
        if self.interpret.fold >= self.prepare.n_folds:
            problems.append(("interpret.fold", f"{self.interpret.fold} is not a fold: "
                             f"prepare.n_folds is {self.prepare.n_folds}"))
        for fold in self.interpret.depth_sweep.folds:
            if fold >= self.prepare.n_folds:
                problems.append(("interpret.depth_sweep.folds", f"{fold} is not a fold: "
                                 f"prepare.n_folds is {self.prepare.n_folds}"))
        if problems:
            raise CrossFieldError(problems)
        return self

    def _named_configs(self):
        configs = self.train.configs
        named = {"train.config": self.train.config,
                 "depth_study.config": self.depth_study.config,
                 "interpret.depth_sweep.config": self.interpret.depth_sweep.config,
                 "interpret.abs_field.config": self.interpret.abs_field.config,
                 "stats.leakage_guard.config": self.stats.leakage_guard.config,
                 "interpret_validate.config": self.interpret_validate.config,
                 **{f"prune.schedules.{k}.train_config": s.train_config
                    for k, s in self.prune.schedules.items()}}
        for key, name in named.items():
            if name not in configs:
                yield key, f"'{name}' is not one of train.configs ({', '.join(configs)})"
        if self.prune.schedule not in self.prune.schedules:
            yield "prune.schedule", (f"'{self.prune.schedule}' is not one of prune.schedules "
                                     f"({', '.join(self.prune.schedules)})")

    def _time_bins(self):
        bins = list(self.time_bins)
        if len(set(bins)) != len(bins):
            yield "time_bins", f"{bins} repeats a time bin"
        for key, values in (("depth_study.time_h", [self.depth_study.time_h]),
                            ("prune.time_bins", self.prune.time_bins),
                            ("interpret.abs_field.time_bins", self.interpret.abs_field.time_bins),
                            ("realism.time_h", [self.realism.time_h]),
                            ("stats.leakage_guard.time_h", [self.stats.leakage_guard.time_h])):
            missing = [t for t in values if t not in bins]
            if missing:
                yield key, f"{missing} not among time_bins {bins}"
        if self.interpret.time_h not in self.prune.time_bins:
            yield "interpret.time_h", (f"{self.interpret.time_h} is not among prune.time_bins "
                                       f"{self.prune.time_bins} (the pruned networks are needed)")


    def _prune_stages(self):
        """The selected pruning schedule has an E(N) for every N on the way down."""
        schedule = self.prune.schedules.get(self.prune.schedule)
        if schedule is None:
            return
        start = filter_counts(self.depth, final_filters=self.train.final_filters)[-1]
        final = self.prune.final_filters
        try:
            counts = pruning_stages(start, final)
        except ValueError as exc:
            yield "prune.final_filters", (f"the last layer has {start} filters (depth "
                                          f"{self.depth}, train.final_filters): {exc}")
            return
        missing = [n for n in counts[1:] if n not in schedule.epochs]
        if missing:
            yield (f"prune.schedules.{self.prune.schedule}.epochs",
                   f"no E(N) for N = {missing} (stages {counts})")


class CrossFieldError(ValueError):
    """Rules between sections; ``problems`` is a list of (dotted key, message)."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("; ".join(f"{k}: {m}" for k, m in self.problems))
