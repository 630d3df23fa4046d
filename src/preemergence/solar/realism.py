"""Realism check: statistics of simulated quiet-Sun region maps against real HMI patches.

All maps are 2-D arrays of B_LOS in Gauss (G) indexed ``map[y, x]`` at ``scale_mm`` Mm per
pixel (1.4 Mm); a collection of maps is a sequence of such arrays or a 3-D stack. Fluxes are
in Mx (G cm^2), wavenumbers in 1/Mm (cycles per Mm, k = 1/wavelength).

The real maps are single 720 s hmi.M_720s magnetograms (see :mod:`preemergence.solar.hmi_quiet`),
so they carry far more photon noise than the 410-min averages that HEAR maps (and our
simulation) represent; :func:`compare` estimates that noise from the core of the real pixel
distribution and adds a forward model (simulation + the same white noise) so that the two
can be compared fairly.
"""

import os
from pathlib import Path

import numpy as np
from astropy.io import fits
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from preemergence.core.artifacts import atomic_write_text, save_figure
from preemergence.core.constants import (
    PIXEL_AREA_CM2,
    PIXEL_SCALE_MM,
    SEGMENT_SIZE_PX,
    TILE_ORIGINS_PX,
)

HMI_NOISE_720S_G = 6.3      # per native 0.5 arcsec pixel, hmi.M_720s (Liu et al. 2012)
FRAMES_720S_PER_410MIN = 410.25 / 12.0   # ~34 independent 720 s magnetograms per average
STRONG_PIXEL_G = 50.0       # threshold of the "fraction of pixels above" statistic (G)
NOISE_SEED = 12345          # fixed seed of the sim + noise forward model


def load_patches(directory):
    """Read every ``*.fits`` map in ``directory`` (sorted by name) as a 2-D float64 array in G."""
    paths = sorted(Path(directory).glob("*.fits"))
    if not paths:
        raise FileNotFoundError(f"no *.fits patches in {directory}")
    return [np.asarray(fits.getdata(path), dtype=np.float64) for path in paths]


def _stack(maps):
    stack = np.asarray(maps, dtype=np.float64)
    if stack.ndim == 2:
        stack = stack[np.newaxis]
    if stack.ndim != 3 or stack.shape[0] == 0:
        raise ValueError(f"expected a 2-D map or a stack of maps, got shape {stack.shape}")
    return stack


def mean_abs_b(maps):
    """Mean |B_LOS| over all pixels of all maps (G)."""
    return float(np.mean(np.abs(_stack(maps))))


def abs_b_histogram(maps, bins):
    """Distribution of pixel |B_LOS|: (density per G, bin edges in G).

    ``bins`` is an int or an array of edges (G). The density is the fraction of *all* pixels
    per G in each bin, so pixels beyond the last edge still count in the normalisation.
    """
    values = np.abs(_stack(maps)).ravel()
    counts, edges = np.histogram(values, bins=bins)
    return counts / (values.size * np.diff(edges)), edges


def tile_mtot_mx(maps):
    """Unsigned flux sum(|B|) * pixel area of the 9 evaluation tiles of each map (Mx).

    Tiles are the 85 x 85 windows at x0, y0 in {0, 85, 170}, row-major per map; the result
    has 9 * n_maps entries.
    """
    stack = np.abs(_stack(maps))
    size = SEGMENT_SIZE_PX
    sums = [stack[:, y0:y0 + size, x0:x0 + size].sum(axis=(1, 2))
            for y0 in TILE_ORIGINS_PX for x0 in TILE_ORIGINS_PX]
    return (np.stack(sums, axis=1) * PIXEL_AREA_CM2).ravel()


def radial_power_spectrum(maps, scale_mm=PIXEL_SCALE_MM):
    """Azimuthally averaged 2-D power spectrum, mean over maps: (k in 1/Mm, power in G^2 Mm^2).

    Each map has its mean removed and is multiplied by a 2-D Hann window (limits leakage from
    the non-periodic edges); the power is normalised by the window's sum of squares so that
    its integral over the k-plane approximates the variance. Annuli are one frequency step
    (1 / (n * scale_mm)) wide, from that step up to the Nyquist wavenumber.
    """
    stack = _stack(maps)
    _, ny, nx = stack.shape
    window = np.outer(np.hanning(ny), np.hanning(nx))
    power = np.zeros((ny, nx))
    for image in stack:
        power += np.abs(np.fft.fft2((image - image.mean()) * window)) ** 2
    power *= scale_mm ** 2 / (window ** 2).sum() / len(stack)
    kx, ky = np.fft.fftfreq(nx, d=scale_mm), np.fft.fftfreq(ny, d=scale_mm)
    k_radius = np.hypot(*np.meshgrid(kx, ky))
    dk = 1.0 / (max(nx, ny) * scale_mm)
    index = np.rint(k_radius / dk).astype(int).ravel()
    n_bins = min(nx, ny) // 2
    total = np.bincount(index, weights=power.ravel(), minlength=n_bins + 1)
    count = np.bincount(index, minlength=n_bins + 1)
    k_index = np.arange(1, n_bins + 1)
    return k_index * dk, total[k_index] / np.maximum(count[k_index], 1)


def noise_sigma_g(maps):
    """Width of the core of the B_LOS distribution (G): HWHM / sqrt(2 ln 2).

    For single magnetograms the core is dominated by photon noise, so this estimates the
    per-pixel noise. Weak real field widens the core (bias up); bilinear interpolation makes
    the noise variance vary from pixel to pixel, which sharpens the core (bias down: pure
    6.3 G native noise sampled bilinearly at 1.4 Mm has rms 4.2 G and core width 3.9 G).
    """
    values = _stack(maps).ravel()
    mad = 1.4826 * np.median(np.abs(values - np.median(values)))
    half_range = 5.0 * mad + 1.0
    counts, edges = np.histogram(values, bins=401, range=(-half_range, half_range))
    counts = np.convolve(counts, np.ones(5) / 5.0, mode="same")
    centres = 0.5 * (edges[1:] + edges[:-1])
    peak = int(np.argmax(counts))
    half = counts[peak] / 2.0
    right = _crossing(centres[peak:], counts[peak:], half)
    left = _crossing(centres[peak::-1], counts[peak::-1], half)
    return float(0.5 * (abs(right - centres[peak]) + abs(centres[peak] - left))
                 / np.sqrt(2.0 * np.log(2.0)))


def _crossing(x, y, level):
    below = np.nonzero(y < level)[0]
    if below.size == 0:
        return x[-1]
    i = below[0]
    return x[i - 1] + (x[i] - x[i - 1]) * (y[i - 1] - level) / (y[i - 1] - y[i])


def add_noise(maps, sigma_g, seed=NOISE_SEED):
    """Maps plus white Gaussian noise of standard deviation ``sigma_g`` (G), fixed seed."""
    stack = _stack(maps)
    return stack + np.random.default_rng(seed).normal(0.0, sigma_g, stack.shape)


def band_power(k, power, k_min, k_max):
    """Mean power (G^2 Mm^2) of a radial spectrum over k_min <= k < k_max (1/Mm)."""
    keep = (k >= k_min) & (k < k_max)
    return float(np.mean(power[keep])) if np.any(keep) else float("nan")


def _summary(prefix, maps, scale_mm=PIXEL_SCALE_MM):
    stack = _stack(maps)
    k, power = radial_power_spectrum(stack, scale_mm)
    absb = np.abs(stack)
    mtot = tile_mtot_mx(stack)
    p50, p90, p99 = np.percentile(absb, [50, 90, 99])
    q25, q50, q75 = np.percentile(mtot, [25, 50, 75])
    return {f"{prefix}_n_maps": float(len(stack)),
            f"{prefix}_mean_abs_b_g": float(absb.mean()),
            f"{prefix}_rms_b_g": float(np.sqrt(np.mean(stack ** 2))),
            f"{prefix}_abs_b_p50_g": float(p50),
            f"{prefix}_abs_b_p90_g": float(p90),
            f"{prefix}_abs_b_p99_g": float(p99),
            f"{prefix}_frac_abs_b_gt_50g": float(np.mean(absb > STRONG_PIXEL_G)),
            f"{prefix}_tile_mtot_q25_mx": float(q25),
            f"{prefix}_tile_mtot_median_mx": float(q50),
            f"{prefix}_tile_mtot_q75_mx": float(q75),
            f"{prefix}_core_sigma_g": noise_sigma_g(stack),
            f"{prefix}_psd_supergran_g2mm2": band_power(k, power, 0.02, 0.04),
            f"{prefix}_psd_nyquist_g2mm2": float(power[-1])}


def compare(sim_maps, real_maps, scale_mm=PIXEL_SCALE_MM):
    """Flat dict of summary statistics (floats, units in the names) for sim and real maps.

    Keys ``sim_*`` and ``real_*``: number of maps, mean |B| (G), rms B (G), |B| percentiles
    50/90/99 (G), fraction of pixels with |B| > 50 G, tile MTOT quartiles (Mx), core width of
    the B distribution (G), radial power (G^2 Mm^2) averaged over k = 0.02-0.04 1/Mm
    (25-50 Mm, supergranular scales, ``*_psd_supergran_g2mm2``) and in the Nyquist annulus
    (``*_psd_nyquist_g2mm2``). Noise terms: ``real_noise_sigma_g`` (= real core width),
    ``real_noise_psd_g2mm2`` (flat power of white noise of that sigma, sigma^2 * scale^2),
    ``real_noise_only_mean_abs_b_g`` (mean |B| of pure noise of that sigma, 0.798 sigma),
    ``real_rms_b_noise_corrected_g`` (sqrt(rms^2 - sigma^2)), and ``simnoise_*`` statistics
    of the simulation plus white noise of that sigma (the like-for-like comparison).
    """
    stats = {**_summary("sim", sim_maps, scale_mm), **_summary("real", real_maps, scale_mm)}
    sigma = stats["real_core_sigma_g"]
    stats["real_noise_sigma_g"] = sigma
    stats["real_noise_psd_g2mm2"] = float(sigma ** 2 * scale_mm ** 2)
    stats["real_noise_only_mean_abs_b_g"] = float(sigma * np.sqrt(2.0 / np.pi))
    stats["real_rms_b_noise_corrected_g"] = float(
        np.sqrt(max(stats["real_rms_b_g"] ** 2 - sigma ** 2, 0.0)))
    noisy = _summary("simnoise", add_noise(sim_maps, sigma), scale_mm)
    stats.update({key: value for key, value in noisy.items() if key != "simnoise_n_maps"})
    stats["ratio_mean_abs_b_sim_over_real"] = stats["sim_mean_abs_b_g"] / stats["real_mean_abs_b_g"]
    stats["ratio_tile_mtot_median_sim_over_real"] = (stats["sim_tile_mtot_median_mx"]
                                                     / stats["real_tile_mtot_median_mx"])
    return stats


def plot_comparison(sim_maps, real_maps, png_path, scale_mm=PIXEL_SCALE_MM, stats=None):
    """Write a 2 x 3-panel PNG comparing simulated and real maps (see module doc)."""
    sim, real = _stack(sim_maps), _stack(real_maps)
    stats = stats if stats is not None else compare(sim, real)
    fig = Figure(figsize=(16, 9.5), constrained_layout=True)
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 3)
    _plot_map(fig, axes[0, 0], sim[0], scale_mm, "Simulated CR map (example)")
    _plot_map(fig, axes[0, 1], real[0], scale_mm, "Real HMI quiet Sun (example, 720 s)")
    _plot_abs_b(axes[0, 2], sim, real)
    _plot_mtot(axes[1, 0], sim, real)
    _plot_spectra(axes[1, 1], sim, real, scale_mm, stats["real_noise_psd_g2mm2"])
    _plot_means(axes[1, 2], stats)
    save_figure(fig, png_path)


def _plot_map(fig, ax, image, scale_mm, title):
    ny, nx = image.shape
    shown = ax.imshow(image, origin="lower", cmap="gray", vmin=-100, vmax=100,
                      extent=(0, nx * scale_mm, 0, ny * scale_mm))
    ax.set(title=title, xlabel="x (Mm, west)", ylabel="y (Mm, north)")
    fig.colorbar(shown, ax=ax, label="B_LOS (G)", extend="both")


def _plot_abs_b(ax, sim, real):
    bins = np.arange(0.0, 302.0, 2.0)
    for maps, label in ((sim, "simulated"), (real, "real HMI")):
        density, edges = abs_b_histogram(maps, bins)
        ax.stairs(np.where(density > 0, density, np.nan), edges, label=label)
    ax.set(yscale="log", xlabel="|B_LOS| (G)", ylabel="fraction of pixels per G",
           title="Pixel |B| distribution")
    ax.legend()


def _plot_mtot(ax, sim, real):
    mtot = {"simulated": tile_mtot_mx(sim) / 1e20, "real HMI": tile_mtot_mx(real) / 1e20}
    top = max(np.percentile(np.concatenate(list(mtot.values())), 99.5), 1e-3) * 1.1
    bins = np.linspace(0.0, top, 31)
    for label, values in mtot.items():
        ax.hist(values, bins=bins, density=True, histtype="step", linewidth=1.5,
                label=f"{label} (median {np.median(values):.2f})")
    ax.set(xlabel="tile MTOT (1e20 Mx)", ylabel="density", title="85x85 tile unsigned flux")
    ax.legend()


def _plot_spectra(ax, sim, real, scale_mm, noise_psd):
    for maps, label in ((sim, "simulated"), (real, "real HMI")):
        k, power = radial_power_spectrum(maps, scale_mm)
        ax.loglog(k, power, label=label)
    ax.axhline(noise_psd, color="0.5", linestyle="--", label="white noise of real maps")
    ax.set(xlabel="k (1/Mm)", ylabel="power (G^2 Mm^2)", title="Radial power spectrum")
    ax.legend()


def _plot_means(ax, stats):
    labels = ["simulated", "real HMI\n(720 s)", "sim + real\nnoise model", "noise only"]
    values = [stats["sim_mean_abs_b_g"], stats["real_mean_abs_b_g"],
              stats["simnoise_mean_abs_b_g"], stats["real_noise_only_mean_abs_b_g"]]
    bars = ax.bar(labels, values, color=["C0", "C1", "C2", "0.6"])
    for bar, value in zip(bars, values):
        ax.text(bar.get_x() + bar.get_width() / 2, value, f"{value:.2f}", ha="center",
                va="bottom")
    ax.set(ylabel="mean |B_LOS| (G)",
           title=f"Mean |B| (real noise sigma {stats['real_noise_sigma_g']:.2f} G)")


_TABLE_ROWS = [
    ("maps", "n_maps", 1.0, "{:.0f}"),
    ("mean abs B (G)", "mean_abs_b_g", 1.0, "{:.2f}"),
    ("rms B (G)", "rms_b_g", 1.0, "{:.2f}"),
    ("abs B 50th percentile (G)", "abs_b_p50_g", 1.0, "{:.2f}"),
    ("abs B 90th percentile (G)", "abs_b_p90_g", 1.0, "{:.2f}"),
    ("abs B 99th percentile (G)", "abs_b_p99_g", 1.0, "{:.1f}"),
    ("fraction of pixels with abs B > 50 G (%)", "frac_abs_b_gt_50g", 100.0, "{:.3f}"),
    ("tile MTOT 25th percentile (1e20 Mx)", "tile_mtot_q25_mx", 1e-20, "{:.2f}"),
    ("tile MTOT median (1e20 Mx)", "tile_mtot_median_mx", 1e-20, "{:.2f}"),
    ("tile MTOT 75th percentile (1e20 Mx)", "tile_mtot_q75_mx", 1e-20, "{:.2f}"),
    ("core width of B distribution (G)", "core_sigma_g", 1.0, "{:.2f}"),
    ("power at k = 0.02-0.04 1/Mm (G^2 Mm^2)", "psd_supergran_g2mm2", 1.0, "{:.0f}"),
    ("power at Nyquist, k = 0.36 1/Mm (G^2 Mm^2)", "psd_nyquist_g2mm2", 1.0, "{:.1f}"),
]


def _table(stats):
    lines = ["| quantity | simulated | sim + real noise model | real HMI (720 s) |",
             "| --- | --- | --- | --- |"]
    for label, key, factor, fmt in _TABLE_ROWS:
        cells = []
        for prefix in ("sim", "simnoise", "real"):
            value = stats.get(f"{prefix}_{key}")
            cells.append("" if value is None else fmt.format(value * factor))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _discussion(stats):
    sigma = stats["real_noise_sigma_g"]
    noise_only = stats["real_noise_only_mean_abs_b_g"]
    real_mean, sim_mean = stats["real_mean_abs_b_g"], stats["sim_mean_abs_b_g"]
    simnoise_mean = stats["simnoise_mean_abs_b_g"]
    averaged = HMI_NOISE_720S_G / np.sqrt(FRAMES_720S_PER_410MIN)
    noise_mtot = noise_only * SEGMENT_SIZE_PX ** 2 * PIXEL_AREA_CM2 / 1e20
    nyquist_ratio = stats["real_psd_nyquist_g2mm2"] / stats["real_noise_psd_g2mm2"]
    return f"""**The real maps are not the same kind of data as the simulation.** They are single
720 s magnetograms (hmi.M_720s), whereas the SDO/HEAR maps used by Dhuri et al. (2020), which
our simulation is meant to resemble, are 410-min averages. The HMI line-of-sight noise is about
{HMI_NOISE_720S_G} G per native 0.5 arcsec pixel at 720 s (Liu et al. 2012); a 410-min average
spans about {FRAMES_720S_PER_410MIN:.0f} independent 720 s intervals, so its noise is roughly
1/sqrt({FRAMES_720S_PER_410MIN:.0f}) lower, about {averaged:.1f} G per native pixel (HEAR
averages 547 frames of 45 s with about 10 G noise each, which gives a similar 0.4-1 G). The real
maps here are therefore much noisier than a HEAR map, and their mean |B| and tile MTOT are
upper bounds for what a noise-free (or 410-min averaged) map of the same Sun would show.

Noise contribution, measured: the core of the real B_LOS distribution has a width (HWHM /
1.177) of **{sigma:.2f} G** per 1.4 Mm pixel. (For comparison, 6.3 G native noise sampled
bilinearly at 1.4 Mm would have an rms of 4.2 G and a core width of 3.9 G; weak real field
widens the core, so the real noise is probably at or below this width.) Gaussian noise of
{sigma:.2f} G alone has a mean |B| of **{noise_only:.2f} G**, i.e. {100 * noise_only / real_mean:.0f} %
of the real mean |B| of {real_mean:.2f} G (up to about 3.3 G if the full 6.3 G applied), and
alone would give every 85 x 85 tile an MTOT of about {noise_mtot:.1f}e20 Mx. Noise and field do not
add linearly in |B|, so the like-for-like comparison is the forward model in the table: the
simulation plus white noise of {sigma:.2f} G has mean |B| = {simnoise_mean:.2f} G (simulation
alone {sim_mean:.2f} G) against {real_mean:.2f} G real, and a tile-MTOT median of
{stats['simnoise_tile_mtot_median_mx'] / 1e20:.2f}e20 Mx against
{stats['real_tile_mtot_median_mx'] / 1e20:.2f}e20 Mx. The rms field corrected for the noise
variance is {stats['real_rms_b_noise_corrected_g']:.2f} G real against
{stats['sim_rms_b_g']:.2f} G simulated. In the power spectrum the white noise is flat at
{stats['real_noise_psd_g2mm2']:.1f} G^2 Mm^2, {nyquist_ratio:.1f} times below the real power at
the Nyquist wavenumber, so {_nyquist_phrase(nyquist_ratio)}; the supergranular band (k = 0.02-0.04 1/Mm, 25-50 Mm) is the cleanest
comparison of network structure.

Other differences to keep in mind: (i) a 410-min average also smears the evolving
intranetwork and weak mixed-polarity field, so even a noise-free HEAR map would show a lower
mean |B| than a noise-free single magnetogram; (ii) the projection method matters: the same
disk-centre patch of 2016-07-07 has mean |B| of about 5.7 G with bilinear interpolation and
4.4 G with flux-area averaging (`reproject_adaptive`), because averaging also cancels noise and
unresolved mixed polarity; (iii) the real patches come from two dates only (2016-07-07,
declining phase, and 2019-06-21, solar minimum), within 35 deg of disk centre, and are B_LOS,
not radial field. The real statistics are a reference to check the simulator against, not
targets to tune every knob to; large mismatches in the supergranular-band power, the
strong-pixel tail (99th percentile, fraction above 50 G) or the noise-corrected rms are the
ones that point to a problem in the simulator."""


def _nyquist_phrase(ratio):
    if ratio >= 3.0:
        return "even the smallest resolved scales of the real maps are dominated by field"
    return "noise is a large part of the real power at the smallest scales"


def write_report(stats, figure_path, report_path, sim_source, real_source, extra=()):
    """Write the markdown realism report (table, figure, discussion, then the `extra`
    lines) atomically."""
    report_path = Path(report_path)
    figure = os.path.relpath(Path(figure_path), report_path.parent)
    text = f"""# Realism of the simulated quiet Sun against real SDO/HMI

Simulated maps: {sim_source}.
Real maps: {real_source}. HMI data courtesy of NASA/SDO and the HMI science team.

All maps are 256 x 256 Postel maps of B_LOS at 1.4 Mm per pixel; tile MTOT is the unsigned
flux of the nine non-overlapping 85 x 85 evaluation tiles of each map. "Sim + real noise model"
is the simulation with white Gaussian noise of the width measured in the real maps added.

{_table(stats)}

![Simulated versus real quiet Sun]({figure})

## Discussion

{_discussion(stats)}
"""
    if extra:
        text += "\n" + "\n".join(extra)
    atomic_write_text(report_path, text)
    return report_path
