"""The params.yaml section ``interpret_validate``: the planted-truth sets that validate the
interpretation probes (interpret/planted_sets.py) and their pass criteria. Units: G, Mm."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictInt, StrictStr, model_validator

from preemergence.core.schema_types import (Count, Fraction, NonNegative, Number, Positive,
                                            PositiveRange, Section)


class PlantedBipoles(Section):
    radius_mm: Positive
    field_g: Positive
    field_sigma_ln: NonNegative
    grid: Annotated[StrictInt, Field(ge=1, le=16)]


class PlantedLengthScale(PlantedBipoles):
    ne_radii_mm: Annotated[list[PositiveRange], Field(min_length=1)]

    @model_validator(mode="after")
    def _ne_radii_apart_from_r_star(self):
        """NE radii must differ from R*, and one range must lie above it (the bipole probe's
        tolerance window ends where that range starts)."""
        for low, high in self.ne_radii_mm:
            if low <= self.radius_mm <= high:
                raise ValueError(f"the range [{low:g}, {high:g}] Mm contains radius_mm "
                                 f"{self.radius_mm:g}: NE bipoles must differ in size")
        if not any(low > self.radius_mm for low, _ in self.ne_radii_mm):
            raise ValueError(f"no range lies above radius_mm {self.radius_mm:g} Mm")
        return self


class PlantedSizeTrend(Section):
    """One field distribution (median field_g G, lognormal field_sigma_ln) for every bipole;
    EAR radii in pe_radii_mm, CR radii in ne_radii_mm (Mm)."""
    field_g: Positive
    field_sigma_ln: NonNegative
    grid: Annotated[StrictInt, Field(ge=1, le=16)]
    pe_radii_mm: PositiveRange
    ne_radii_mm: PositiveRange

    @model_validator(mode="after")
    def _ne_radii_below_pe_radii(self):
        """Every CR bipole smaller than every EAR bipole: PE grows with size."""
        if self.ne_radii_mm[1] >= self.pe_radii_mm[0]:
            raise ValueError(f"ne_radii_mm {list(self.ne_radii_mm)} must lie below "
                             f"pe_radii_mm {list(self.pe_radii_mm)}: CR bipoles smaller "
                             "than EAR bipoles")
        return self


class PlantedLocation(Section):
    radius_mm: Positive
    field_g: Positive


class PlantedFluxOnly(Section):
    amplitude_sigma_ln: NonNegative
    excess: Positive


class PlantedCriteria(Section):
    radius_tolerance_mm: NonNegative
    min_rank_correlation: Annotated[Number, Field(ge=-1, le=1)]
    min_planted_tss: Fraction


class InterpretValidate(Section):
    sets: Annotated[list[Literal["length_scale", "location", "flux_only", "flux_only_filters",
                                 "polarity", "size_trend"]],
                    Field(min_length=1)]
    n_ear: Annotated[StrictInt, Field(ge=2)]
    n_cr: Annotated[StrictInt, Field(ge=2)]
    n_folds: Annotated[StrictInt, Field(ge=2)]
    control_folds: Annotated[list[Annotated[StrictInt, Field(ge=0)]], Field(min_length=1)]
    samples_per_region: Annotated[StrictInt, Field(ge=2)]
    background_rms_g: Positive
    config: StrictStr
    occlusion_regions: Count
    length_scale: PlantedLengthScale
    location: PlantedLocation
    flux_only: PlantedFluxOnly
    polarity: PlantedBipoles
    size_trend: PlantedSizeTrend
    criteria: PlantedCriteria

    @model_validator(mode="after")
    def _control_folds_exist(self):
        beyond = [k for k in self.control_folds if k >= self.n_folds]
        if beyond or len(set(self.control_folds)) < len(self.control_folds):
            raise ValueError(f"control_folds {self.control_folds}: each fold once, below "
                             f"n_folds = {self.n_folds}")
        return self
