"""The value types of the params.yaml schema (core/schema.py): numbers that refuse YAML
text and booleans, ranges, counts, time bins, and the frozen section base class."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictInt


def _number(value: Any) -> Any:
    """A real number: YAML text ('high', '1e21') and booleans are refused."""
    if isinstance(value, (bool, str)) or value is None:
        raise ValueError("must be a number")
    return value


def _ordered(pair: tuple[float, float]) -> tuple[float, float]:
    if pair[0] > pair[1]:
        raise ValueError(f"must be [low, high] with low <= high, not {list(pair)}")
    return pair


Number = Annotated[float, BeforeValidator(_number)]
Positive = Annotated[Number, Field(gt=0)]
NonNegative = Annotated[Number, Field(ge=0)]
Fraction = Annotated[Number, Field(ge=0, le=1)]
Count = Annotated[StrictInt, Field(ge=1)]
Range = Annotated[tuple[Number, Number], AfterValidator(_ordered)]
PositiveRange = Annotated[tuple[Positive, Positive], AfterValidator(_ordered)]
TimeBin = Annotated[Number, Field(ge=-1000, le=0)]   # h before emergence


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


