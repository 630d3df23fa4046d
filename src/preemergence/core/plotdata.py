"""Long tables for the DVC plots drawn by the project's templates (.dvc/plots/series.json
and panels.json): column `series` names each line, `panel` each panel, and `panel_order`
keeps the panels in the order they first appear in the table."""

from __future__ import annotations

import pandas as pd


def with_series(table: pd.DataFrame, series, panel=None) -> pd.DataFrame:
    """table with its line names (`series`) and, given `panel`, its panel names and order."""
    out = table.assign(series=list(series))
    if panel is not None:
        panel = list(panel)
        order = {name: i for i, name in enumerate(dict.fromkeys(panel))}
        out = out.assign(panel=panel, panel_order=[order[name] for name in panel])
    return out
