"""Figures of the interpretation stage (paper Figs. 3, 10-18, 24), from plain arrays.

Every function takes a `note` saying which data produced the figure (e.g. 'data:
simulated'), printed at the bottom of the figure, and writes a PNG atomically. Maps are
map[y, x] drawn with y (north) up and x (west) right, in Mm from the map centre. Error bars
are `err_scale` times the standard error of the mean (the paper shows 3, 20 and 5 sigma in
Figs. 11, 12 and 24); the scale is written on the axis label.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib import colormaps

from preemergence.core.artifacts import save_figure
from preemergence.core.constants import PIXEL_SCALE_MM
from preemergence.core.figures import new_figure
from preemergence.interpret.binning import (
    N_OUTPUT_BINS,
    bin_centres,
    binned_mean,
    class_fractions,
    example_indices,
    outcome,
    output_bins,
)
from preemergence.interpret.bipole import synthetic_bipole

DPI = 110
NOTE_FONTSIZE = 7
MAP_VMAX_G = 150.0            # magnetograms: saturated at +-150 G (paper Figs. 10, 13, 18)
COMPOSITE_VMAX_G = 15.0       # averages: the paper saturates its Fig. 3 at +-15 G
FILTER_VMAX = 1.0             # filter outputs and occlusion maps: saturated at +-1
CONTOUR_G = 100.0             # +-100 G contours over filter maps (paper Figs. 13-14)
CONTOUR_SHRINK = 1e-6         # contours drawn this fraction inside the level (see _contours)
EXAMPLE_RADIUS_MM = 25.0      # the example bipole of Figs. 14-15
EXAMPLE_FIELD_G = 100.0
MX_PER_UNIT = 1e20            # MTOT axis unit (1e20 Mx)
NAN_COLOUR = "0.75"           # pixels without data (e.g. in no segment)


# --- shared pieces -----------------------------------------------------------------------
def _note(fig, note: str) -> None:
    """The data-source note, bottom right (kept clear of the axes by the layout engine)."""
    fig.supxlabel(note, fontsize=NOTE_FONTSIZE, color="0.35", x=0.99, ha="right")


def extent_mm(shape, pixel_mm: float = PIXEL_SCALE_MM) -> tuple[float, float, float, float]:
    """imshow extent (left, right, bottom, top) in Mm of a map centred on (0, 0)."""
    height, width = shape[:2]
    return (-0.5 * width * pixel_mm, 0.5 * width * pixel_mm,
            -0.5 * height * pixel_mm, 0.5 * height * pixel_mm)


def _grey_cmap():
    return colormaps["gray"].with_extremes(bad=NAN_COLOUR)


def _diverging_cmap(name: str = "bwr"):
    return colormaps[name].with_extremes(bad=NAN_COLOUR)


def _show(ax, data, vmin, vmax, cmap, pixel_mm, extent=None):
    """imshow of a map[y, x] with y up, in Mm."""
    return ax.imshow(np.asarray(data, dtype=float), origin="lower", cmap=cmap, vmin=vmin,
                     vmax=vmax, extent=extent or extent_mm(np.shape(data), pixel_mm),
                     interpolation="nearest")


def _write(fig, path: Path, note: str) -> Path:
    _note(fig, note)
    return save_figure(fig, path, dpi=DPI)


# --- Fig. 3: composites ------------------------------------------------------------------
def plot_composites(maps_by_kind_and_time: dict, path: Path, note: str,
                    vmax_g: float = COMPOSITE_VMAX_G, pixel_mm: float = PIXEL_SCALE_MM,
                    title: str = "Average maps after Hale/Joy flips") -> Path:
    """Fig. 3: rows = kinds (EAR, CR), columns = time bins (h, earliest first); grey maps
    saturated at +-vmax_g (G), axes in Mm. maps_by_kind_and_time: {(kind, time_h): map}."""
    kinds = list(dict.fromkeys(k for k, _ in maps_by_kind_and_time))
    times = sorted({t for _, t in maps_by_kind_and_time})
    fig = new_figure(2.3 * len(times) + 0.8, 2.3 * len(kinds) + 0.6)
    axes = np.atleast_2d(fig.subplots(len(kinds), len(times), squeeze=False))
    image = None
    for r, kind in enumerate(kinds):
        for c, time_h in enumerate(times):
            ax = axes[r, c]
            data = maps_by_kind_and_time.get((kind, time_h))
            if data is None:
                ax.axis("off")
                continue
            image = _show(ax, data, -vmax_g, vmax_g, _grey_cmap(), pixel_mm)
            ax.set_title(f"{kind}, {time_h:+.1f} h", fontsize=9)
            ax.set_xlabel("x (Mm)" if r == len(kinds) - 1 else "")
            ax.set_ylabel("y (Mm)" if c == 0 else "")
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.8, label="B_LOS (G)")
    fig.suptitle(title)
    return _write(fig, path, note)


# --- Figs. 14-17: synthetic bipoles ------------------------------------------------------
def plot_bipole_response(radii_mm, outputs_by_field: dict, path: Path, note: str,
                         title: str = "CNN output for synthetic bipoles",
                         example_g: np.ndarray | None = None,
                         pixel_mm: float = PIXEL_SCALE_MM, *, threshold: float) -> Path:
    """Fig. 15: left, an example bipole (default 100 G, radius 25 Mm); right, CNN output vs
    disc radius (Mm), one line per field strength (G). outputs_by_field: {field_g: (n_radii,)}."""
    if example_g is None:
        example_g = synthetic_bipole(EXAMPLE_RADIUS_MM, EXAMPLE_FIELD_G, pixel_mm=pixel_mm)
    fig = new_figure(9.5, 4.0)
    left, right = fig.subplots(1, 2, width_ratios=[1, 1.4])
    vmax = float(np.abs(example_g).max()) or 1.0
    image = _show(left, example_g, -vmax, vmax, _grey_cmap(), pixel_mm)
    fig.colorbar(image, ax=left, shrink=0.8, label="B_LOS (G)")
    left.set(xlabel="x (Mm)", ylabel="y (Mm)", title="example synthetic bipole")
    for field_g, outputs in sorted(outputs_by_field.items()):
        right.plot(radii_mm, outputs, marker=".", label=f"{field_g:g} G")
    right.set(xlabel="synthetic bipole radius (Mm)", ylabel="CNN output y", ylim=(-0.02, 1.02),
              title=title)
    right.axhline(threshold, color="0.7", linestyle=":", linewidth=0.8)
    right.legend(title="|B|", fontsize=8)
    return _write(fig, path, note)


def plot_filter_response(radii_mm, contributions, path: Path, note: str,
                         title: str = "Filter contributions for 100 G synthetic bipoles",
                         labels=None) -> Path:
    """Fig. 16: filter contribution F_i = w_i max(O_i) (dimensionless) vs bipole radius (Mm);
    contributions: (n_filters, n_radii)."""
    contributions = np.atleast_2d(contributions)
    labels = labels or [f"filter {i + 1}" for i in range(len(contributions))]
    fig = new_figure(6.5, 4.2)
    ax = fig.add_subplot()
    for row, label in zip(contributions, labels):
        ax.plot(radii_mm, row, marker=".", label=label)
    ax.axhline(0, color="0.7", linewidth=0.8)
    ax.set(xlabel="synthetic bipole radius (Mm)", ylabel="filter contribution F_i", title=title)
    ax.legend(fontsize=8)
    return _write(fig, path, note)


def plot_depth_bipole(radii_mm, outputs_by_depth: dict, path: Path, note: str,
                      title: str = "CNN output for synthetic bipoles vs network depth",
                      max_cols: int = 4, *, threshold: float) -> Path:
    """Fig. 17: one panel per depth (number of conv layers), CNN output vs bipole radius
    (Mm), one line per field (G). outputs_by_depth: {depth: {field_g: (n_radii,)}}."""
    depths = sorted(outputs_by_depth)
    ncols = min(max_cols, len(depths))
    nrows = -(-len(depths) // ncols)
    fig = new_figure(3.2 * ncols, 2.8 * nrows + 0.5)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False, sharey=True)).ravel()
    for ax, depth in zip(axes, depths):
        for field_g, outputs in sorted(outputs_by_depth[depth].items()):
            ax.plot(radii_mm, outputs, marker=".", label=f"{field_g:g} G")
        ax.set(title=f"{depth} conv layers", xlabel="radius (Mm)", ylim=(-0.02, 1.02))
        ax.axhline(threshold, color="0.7", linestyle=":", linewidth=0.8)
    for ax in axes[len(depths):]:
        ax.axis("off")
    axes[0].set_ylabel("CNN output y")
    axes[0].legend(fontsize=7)
    fig.suptitle(title)
    return _write(fig, path, note)


# --- Figs. 13-14: filter maps ------------------------------------------------------------
def plot_filter_maps(image_g, filter_maps, path: Path, note: str,
                     title: str = "Final-layer filter outputs", vmax_g: float = MAP_VMAX_G,
                     vmax_filter: float = FILTER_VMAX, contour_g: float = CONTOUR_G,
                     pixel_mm: float = PIXEL_SCALE_MM, filter_labels=None) -> Path:
    """Figs. 13-14: the input (G, grey, +-vmax_g) and each final-layer filter output map
    (h, w, n_filters; 'bwr', +-vmax_filter) drawn over the input's extent in Mm (a 6 x 6
    depth-5 map spans the whole segment), with the input's +contour_g (white) and
    -contour_g (black) G contours on top."""
    image_g = np.asarray(image_g, dtype=float)
    filter_maps = np.asarray(filter_maps, dtype=float)
    n_filters = filter_maps.shape[-1]
    labels = filter_labels or [f"filter {i + 1}" for i in range(n_filters)]
    extent = extent_mm(image_g.shape, pixel_mm)
    fig = new_figure(2.6 * (n_filters + 1) + 0.8, 3.2)
    axes = np.atleast_1d(fig.subplots(1, n_filters + 1))
    grey = _show(axes[0], image_g, -vmax_g, vmax_g, _grey_cmap(), pixel_mm)
    axes[0].set(title="input", xlabel="x (Mm)", ylabel="y (Mm)")
    fig.colorbar(grey, ax=axes[0], shrink=0.7, label="B_LOS (G)")
    for i, ax in enumerate(axes[1:]):
        shown = _show(ax, filter_maps[..., i], -vmax_filter, vmax_filter, _diverging_cmap(),
                      pixel_mm, extent=extent)
        _contours(ax, image_g, contour_g, pixel_mm)
        ax.set(title=labels[i], xlabel="x (Mm)")
    fig.colorbar(shown, ax=axes[1:], shrink=0.7, label="filter output")
    fig.suptitle(title)
    return _write(fig, path, note)


def _contours(ax, image_g, level_g: float, pixel_mm: float) -> None:
    """+level_g (white) and -level_g (black) solid contours (G) of image_g at its pixel
    centres (Mm); a level the image never reaches is skipped. The contour is drawn a hair
    (CONTOUR_SHRINK, relative) inside the level, so that a map whose extreme equals the
    level (a 100 G synthetic bipole with 100 G contours) is still outlined."""
    height, width = image_g.shape
    xc = (np.arange(width) + 0.5 - 0.5 * width) * pixel_mm
    yc = (np.arange(height) + 0.5 - 0.5 * height) * pixel_mm
    level = level_g * (1.0 - CONTOUR_SHRINK)
    for sign, colour in ((1.0, "white"), (-1.0, "black")):
        if np.any(sign * image_g >= level):
            ax.contour(xc, yc, image_g, levels=[sign * level], colors=colour,
                       linewidths=1.0, linestyles="solid")


# --- Fig. 18: occlusion over regions -----------------------------------------------------
def plot_occlusion_regions(panels: list[dict], path: Path, note: str,
                           vmax_g: float = MAP_VMAX_G, pixel_mm: float = PIXEL_SCALE_MM,
                           title: str = "CNN output and occlusion maps (Eqs. D7-D8)") -> Path:
    """Fig. 18: one row per region: magnetogram (G, +-vmax_g), recombined CNN output
    (0 blue .. 1 red) and recombined occlusion map (-1 .. 1). panels: dicts with keys
    'field_g', 'output', 'occlusion' (2-D maps of one shape; NaN = no segment, grey) and
    'title'."""
    fig = new_figure(11.0, 3.3 * len(panels) + 0.5)
    axes = np.atleast_2d(fig.subplots(len(panels), 3, squeeze=False))
    specs = (("field_g", -vmax_g, vmax_g, _grey_cmap(), "B_LOS (G)"),
             ("output", 0.0, 1.0, _diverging_cmap(), "CNN output y"),
             ("occlusion", -FILTER_VMAX, FILTER_VMAX, _diverging_cmap(), "occlusion"))
    for row, panel in zip(axes, panels):
        for ax, (key, vmin, vmax, cmap, label) in zip(row, specs):
            image = _show(ax, panel[key], vmin, vmax, cmap, pixel_mm)
            fig.colorbar(image, ax=ax, shrink=0.8, label=label)
            ax.set(title=label, xlabel="x (Mm)")
        row[0].set_ylabel(f"{panel.get('title', '')}\ny (Mm)")
    fig.suptitle(title)
    return _write(fig, path, note)


# --- Figs. 10-12, 24: statistics ---------------------------------------------------------
def plot_output_bins(outputs, labels, mtot_mx, path: Path, note: str,
                     n_bins: int = N_OUTPUT_BINS, err_scale: float = 1.0,
                     title: str = "PE and NE samples by CNN-output bin", *,
                     threshold: float) -> Path:
    """Fig. 11: left, fraction of the PE and of the NE samples in each CNN-output bin (width
    1/n_bins); right, mean MTOT (1e20 Mx) per bin for PE and NE, with err_scale x standard
    error. outputs: CNN outputs y; labels: 1 = PE, 0 = NE; mtot_mx: MTOT (Mx)."""
    bins = output_bins(outputs, n_bins)
    labels = np.asarray(labels).astype(bool)
    mtot = np.asarray(mtot_mx, dtype=float) / MX_PER_UNIT
    centres = bin_centres(0.0, 1.0, n_bins)
    width = 1.0 / n_bins
    frac_pe, frac_ne = class_fractions(bins, labels, n_bins)
    fig = new_figure(10.0, 4.0)
    left, right = fig.subplots(1, 2)
    left.bar(centres - width / 4, frac_pe, width / 2, color="tab:red", label="PE")
    left.bar(centres + width / 4, frac_ne, width / 2, color="tab:blue", label="NE")
    left.set(xlabel="CNN output y", ylabel="population fraction", xlim=(0, 1))
    left.legend()
    for cls, colour, name in ((labels, "tab:red", "PE"), (~labels, "tab:blue", "NE")):
        mean, sem, count = binned_mean(mtot[cls], bins[cls], n_bins)
        right.errorbar(centres, mean, yerr=err_scale * sem, marker="o", capsize=3,
                       color=colour, label=f"{name} (n = {int(count.sum())})")
    right.axvline(threshold, color="0.5", linestyle="--", linewidth=0.8)
    right.set(xlabel="CNN output y", xlim=(0, 1),
              ylabel=f"mean MTOT (1e20 Mx), bars {err_scale:g} x s.e.")
    right.text(threshold - 0.02, 0.97, "identified as\nnon-emerging", ha="right", va="top",
               transform=right.get_xaxis_transform(), fontsize=8)
    right.text(threshold + 0.02, 0.97, "identified as\nemerging", ha="left", va="top",
               transform=right.get_xaxis_transform(), fontsize=8)
    right.legend(fontsize=8, loc="upper left")
    for ax in (left, right):
        ax.set_xticks(np.linspace(0, 1, n_bins + 1),
                      ["0"] + [f"{i}/{n_bins}" for i in range(1, n_bins)] + ["1"])
    fig.suptitle(title)
    return _write(fig, path, note)


def plot_example_segments(segments_g, outputs, labels, mtot_mx, path: Path, note: str,
                          correct: bool = True, n_per_side: int = 3,
                          n_bins: int = N_OUTPUT_BINS, vmax_g: float = MAP_VMAX_G,
                          pixel_mm: float = PIXEL_SCALE_MM, names=None, *,
                          threshold: float) -> Path:
    """Fig. 10: per CNN-output bin (rows, y increasing downwards) the n_per_side correctly
    (correct=True: TP/TN) or wrongly (FP/FN) classified segments of lowest and of highest
    MTOT; each titled with its outcome and MTOT (1e20 Mx). segments_g: (n, 85, 85) in G;
    names: optional per-sample label (e.g. region id and PE/NE) added to the title."""
    segments_g = np.asarray(segments_g, dtype=float)
    kinds = outcome(labels, outputs, threshold)
    keep = np.isin(kinds, ["TP", "TN"] if correct else ["FP", "FN"])
    picks = example_indices(outputs, mtot_mx, keep, n_bins, n_per_side)
    ncols = 2 * n_per_side
    fig = new_figure(1.7 * ncols + 1.2, 1.8 * n_bins + 0.6)
    axes = fig.subplots(n_bins, ncols, squeeze=False)
    mtot = np.asarray(mtot_mx, dtype=float) / MX_PER_UNIT
    for b, (row, members) in enumerate(zip(axes, picks)):
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
        for ax, k in zip(row, members):
            _show(ax, segments_g[k], -vmax_g, vmax_g, _grey_cmap(), pixel_mm)
            extra = f"\n{names[k]}" if names is not None else ""
            ax.set_title(f"{kinds[k]} {mtot[k]:.1f}e20 Mx{extra}", fontsize=7)
        for ax in row[len(members):]:
            ax.set_frame_on(False)                   # empty slot; keeps the row label
        row[0].set_ylabel(f"y in ({b}/{n_bins}, {b + 1}/{n_bins})", fontsize=8)
    fig.suptitle(("accurately (TP, TN)" if correct else "inaccurately (FP, FN)")
                 + f" classified segments; lowest {n_per_side} | highest {n_per_side} MTOT"
                 + f" per output bin; ±{vmax_g:g} G")
    return _write(fig, path, note)


def plot_filter_contribution_vs_mtot(mtot_bin_centres_mx, mean_contrib, err, path: Path,
                                     note: str, err_scale: float = 1.0, labels=None,
                                     title: str = "Filter contributions vs MTOT") -> Path:
    """Fig. 12: mean filter contribution <F_i> per MTOT bin (centres in Mx), one line per
    filter; mean_contrib and err (standard errors): (n_filters, n_bins)."""
    mean_contrib, err = np.atleast_2d(mean_contrib), np.atleast_2d(err)
    labels = labels or [f"filter {i + 1}" for i in range(len(mean_contrib))]
    centres = np.asarray(mtot_bin_centres_mx, dtype=float) / MX_PER_UNIT
    fig = new_figure(6.5, 4.2)
    ax = fig.add_subplot()
    for mean, e, label in zip(mean_contrib, err, labels):
        ax.errorbar(centres, mean, yerr=err_scale * e, marker="o", capsize=3, label=label)
    ax.axhline(0, color="0.7", linewidth=0.8)
    ax.set(xlabel="MTOT (1e20 Mx)", ylabel=f"<F_i>, bars {err_scale:g} x s.e.", title=title)
    ax.legend(fontsize=8)
    return _write(fig, path, note)


def plot_output_vs_mtot(bin_centres_mx, mean_pe, err_pe, mean_ne, err_ne, path: Path,
                        note: str, err_scale: float = 1.0,
                        title: str = "Mean CNN output vs MTOT", *, threshold: float) -> Path:
    """Fig. 24: mean CNN output <y> of PE and of NE samples per MTOT bin (centres in Mx),
    with err_scale x standard error."""
    centres = np.asarray(bin_centres_mx, dtype=float) / MX_PER_UNIT
    fig = new_figure(6.5, 4.2)
    ax = fig.add_subplot()
    for mean, e, colour, name in ((mean_pe, err_pe, "tab:red", "PE"),
                                  (mean_ne, err_ne, "tab:blue", "NE")):
        ax.errorbar(centres, mean, yerr=err_scale * np.asarray(e, dtype=float), marker="o",
                    capsize=3, color=colour, label=name)
    ax.axhline(threshold, color="0.7", linestyle=":", linewidth=0.8)
    ax.set(xlabel="MTOT (1e20 Mx)", ylabel=f"<y>, bars {err_scale:g} x s.e.",
           ylim=(-0.02, 1.02), title=title)
    ax.legend()
    return _write(fig, path, note)
