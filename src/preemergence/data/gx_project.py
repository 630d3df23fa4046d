"""The prepare stage's Great Expectations project: file-backed, with Data Docs.

prepare validates every segment table with the suite of ``data.expectations`` (through
``data.validation``, which condenses the results into the one-line failure message and
``segments_<t>.json``). This module keeps the same validation as GX users know it, in the
folder reports/validation/:

- ``gx/``: a file-backed GX project (``great_expectations.yml``); ``expectations/`` holds the
  saved suites (one per time bin, built from params.yaml's sampling plan);
  ``validation_definitions/`` and ``checkpoints/`` one per time bin (``prepare_t-3_2h``: GX
  store names cannot hold a dot); ``uncommitted/validations/`` GX's native validation
  results;
- ``data_docs/index.html``: GX's Data Docs site for those suites and results.

prepare rebuilds the folder on every run (the suites depend on the parameters). Open the
project with ``gx.get_context(mode="file", project_root_dir="reports/validation")``; a
checkpoint needs its table as ``batch_parameters={"dataframe": ...}`` (the columns of
``data.expectations.derive_columns``).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd

from preemergence.core.constants import time_bin_label
from preemergence.core.profiling import timed
from preemergence.data.expectations import build_suite, derive_columns, import_gx

SITE = "segment_tables"
DOCS_DIR = "data_docs"       # beside gx/, relative to the project's gx/ folder below
DOCS_INDEX = f"{DOCS_DIR}/index.html"


def gx_name(time_h: float) -> str:
    """GX-safe name of a time bin's objects, e.g. t-3_2h."""
    return time_bin_label(time_h).replace(".", "_")


def _context(gx, root: Path):
    """A file-backed GX project in root/gx, with one Data Docs site in root/data_docs."""
    from great_expectations.data_context.types.base import ProgressBarsConfig
    context = gx.get_context(mode="file", project_root_dir=str(root))
    context.variables.progress_bars = ProgressBarsConfig(globally=False,
                                                         metric_calculations=False)
    for site in list(context.get_site_names()):
        context.delete_data_docs_site(site)
    context.add_data_docs_site(site_name=SITE, site_config={
        "class_name": "SiteBuilder",
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                          "base_directory": f"../{DOCS_DIR}"}})
    return context


@timed("Great Expectations")
def build_project(root: Path, tables: dict, plan: dict, time_bins) -> dict[float, bool]:
    """Write the GX project and Data Docs for the segment tables into root; run one
    checkpoint per time bin. plan: pe_per_ear, ne_per_ear, ne_per_cr, n_folds.
    Returns each time bin's validation success."""
    gx = import_gx()
    success = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        context = _context(gx, Path(root))
        source = context.data_sources.add_or_update_pandas("segment_tables")
        for t, table in tables.items():
            success[t] = _checkpoint(gx, context, source, t, table, plan, time_bins)
    return success


def _checkpoint(gx, context, source, time_h: float, table: pd.DataFrame, plan: dict,
                time_bins) -> bool:
    """Suite, validation definition and checkpoint of one time bin, run with Data Docs."""
    name = gx_name(time_h)
    asset = source.add_dataframe_asset(name=f"segments_{name}")
    batch = asset.add_batch_definition_whole_dataframe("whole_table")
    suite = context.suites.add_or_update(
        build_suite(gx, f"segments_{name}", schema_only=False, **plan))
    definition = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=f"segments_{name}", data=batch, suite=suite))
    checkpoint = context.checkpoints.add_or_update(gx.Checkpoint(
        name=f"prepare_{name}", validation_definitions=[definition],
        actions=[gx.checkpoint.UpdateDataDocsAction(name="data_docs", site_names=[SITE])]))
    result = checkpoint.run(batch_parameters={"dataframe": derive_columns(table, time_bins)})
    return bool(result.success)
