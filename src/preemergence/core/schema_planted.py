"""The params.yaml section ``interpret_validate``: the planted-truth sets that validate the
interpretation probes (interpret/planted_sets.py) and their pass criteria. Units: G, Mm."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictInt, StrictStr

from preemergence.core.schema_types import (Count, Fraction, NonNegative, Number, Positive,
                                            PositiveRange, Section)


class PlantedBipoles(Section):
    radius_mm: Positive
    field_g: Positive
    field_sigma_ln: NonNegative
    grid: Annotated[StrictInt, Field(ge=1, le=16)]


class PlantedLengthScale(PlantedBipoles):
    ne_radii_mm: Annotated[list[PositiveRange], Field(min_length=1)]


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
    sets: Annotated[list[Literal["length_scale", "location", "flux_only", "polarity"]],
                    Field(min_length=1)]
    n_ear: Annotated[StrictInt, Field(ge=2)]
    n_cr: Annotated[StrictInt, Field(ge=2)]
    n_folds: Annotated[StrictInt, Field(ge=2)]
    samples_per_region: Annotated[StrictInt, Field(ge=2)]
    background_rms_g: Positive
    config: StrictStr
    occlusion_regions: Count
    length_scale: PlantedLengthScale
    location: PlantedLocation
    flux_only: PlantedFluxOnly
    polarity: PlantedBipoles
    criteria: PlantedCriteria
