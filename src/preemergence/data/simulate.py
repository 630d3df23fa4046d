"""Physically grounded simulation of a HEAR-like data set (model in docs/simulator.md).

Every region is a 256 x 256 Postel-like map at 1.4 Mm/px of B_LOS (G), averaged over
410.25 min at each time bin. Components (all fluxes in Mx, lengths in Mm, times in h):

- quiet-Sun network: features with a power-law flux distribution gathered on the lanes of
  an evolving supergranular (Voronoi) pattern, finite lifetimes and slow drift;
- internetwork: weak mixed-polarity features anywhere, independent between time bins;
- ephemeral regions: small growing bipoles with exponential flux distribution;
- decayed plage: occasional extended, mostly unipolar patches (the high-MTOT tail);
- for EARs only: the pre-emergence signal at the map centre (data/precursor.py: network-like
  flux elements organised into a bipole growing as exp(t / tau) towards emergence, obeying
  Hale's and Joy's laws, or the earlier compact bipole); some EARs have none;
- line-of-sight projection (B_LOS = B_r * mu) and white noise of a 410-min HMI average.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy.ndimage import gaussian_filter
from scipy.spatial import cKDTree

from preemergence.core.artifacts import atomic_directory
from preemergence.core.constants import (
    AVERAGING_WINDOW_MIN,
    PIXEL_AREA_CM2,
    PIXEL_SCALE_MM,
    REGION_SIZE_PX,
    SOLAR_RADIUS_MM,
    SYNODIC_RATE_DEG_PER_DAY,
)
from preemergence.core.progress import progress as show_progress
from preemergence.data import precursor as precursor_model
from preemergence.data.fluxes import power_law_mean, power_law_sample
from preemergence.data.regionstore import RegionMeta, region_map_path, write_region_map

if TYPE_CHECKING:
    from preemergence.core.schema import Simulate

MM_PER_DEG = np.pi / 180.0 * SOLAR_RADIUS_MM   # heliographic degree on the surface (Mm)
PAD_PX = 24                                     # margin simulated around the map (px)
EMERGENCE_CENTRE_PX = REGION_SIZE_PX / 2.0      # continuous coordinate of the map centre
WINDOW_H = AVERAGING_WINDOW_MIN / 60.0
SIMULATED_SPAN_H = (-28.0, 0.5)                  # always simulated, whatever the time bins


@dataclass(frozen=True)
class SimulatedRegion:
    meta: RegionMeta
    maps: dict[float, np.ndarray]   # time bin (h) -> 256 x 256 float32 B_LOS (G)


def window_overlap(birth, death, t_centre):
    """Fraction of the 410-min averaging window centred at t_centre (h) a feature lives."""
    start, stop = t_centre - WINDOW_H / 2, t_centre + WINDOW_H / 2
    return np.clip(np.minimum(death, stop) - np.maximum(birth, start), 0.0, None) / WINDOW_H


class _Sources:
    """Point sources (padded pixel coordinates, signed flux in Mx) grouped by blur width."""

    def __init__(self):
        self.parts = {}

    def add(self, sigma_px, x, y, flux):
        self.parts.setdefault(sigma_px, []).append((np.ravel(x), np.ravel(y), np.ravel(flux)))

    def render(self, size):
        field = np.zeros((size, size))
        for sigma, chunks in self.parts.items():
            x, y, flux = (np.concatenate(c) for c in zip(*chunks))
            ix, iy = np.floor(x).astype(int), np.floor(y).astype(int)
            ok = (ix >= 0) & (iy >= 0) & (ix < size) & (iy < size)
            grid = np.bincount(iy[ok] * size + ix[ok], weights=flux[ok], minlength=size * size)
            field += gaussian_filter(grid.reshape(size, size), sigma, mode="constant")
        return field / PIXEL_AREA_CM2   # Mx per pixel -> G


class RegionSimulator:
    """Simulates one region's maps at all time bins from the `simulate` parameters."""

    def __init__(self, params: "Simulate", time_bins):
        self.p = params
        self.time_bins = tuple(time_bins)
        self.size = REGION_SIZE_PX + 2 * PAD_PX
        # a fixed simulated span, so that choosing fewer time bins keeps the same realisation
        self.t_start = min(min(self.time_bins) - WINDOW_H / 2, SIMULATED_SPAN_H[0])
        self.t_stop = max(max(self.time_bins) + WINDOW_H / 2, SIMULATED_SPAN_H[1])
        self.area_cm2 = self.size ** 2 * PIXEL_AREA_CM2

    def simulate(self, stream, meta: RegionMeta) -> dict[float, np.ndarray]:
        """Maps (G) per time bin for one region; EARs get the emergence signal.

        stream(component, time_h=None) gives an independent generator per model component
        (and per time bin for the per-bin ones), so changing one component's parameters
        leaves the others' realisations unchanged.
        """
        q = self.p.quiet
        rng = stream("network")
        sign_bias = np.clip(rng.normal(0.0, q.polarity_imbalance), -0.4, 0.4)
        network = self._network(rng, sign_bias)
        ephemeral = self._ephemeral(stream("ephemeral"))
        plage = self._plage(stream("plage"))
        precursor = (precursor_model.draw(stream("precursor"), meta, self.p.emergence, q,
                                          EMERGENCE_CENTRE_PX + PAD_PX)
                     if meta.kind == "EAR" else None)
        maps = {}
        for t in self.time_bins:
            sources = _Sources()
            self._add_network(sources, network, t)
            self._add_internetwork(sources, stream("internetwork", t), sign_bias)
            self._add_ephemeral(sources, ephemeral, t)
            if plage is not None:
                sources.add(self.p.plage.blur_mm / PIXEL_SCALE_MM, *plage)
            if precursor is not None:
                precursor_model.add(sources, precursor, t, self.p.emergence, q, WINDOW_H)
            field = sources.render(self.size)[PAD_PX:-PAD_PX, PAD_PX:-PAD_PX]
            field *= self._mu_map(meta, t)
            field += stream("noise", t).normal(0.0, q.noise_g, field.shape)
            maps[t] = field.astype(np.float32)
        return maps

    # --- quiet Sun -------------------------------------------------------------------------
    def _network(self, rng, sign_bias):
        q = self.p.quiet
        lo, hi, slope = q.network_threshold_mx, q.feature_flux_max_mx, q.feature_flux_slope
        n_alive = rng.poisson(q.network_flux_density_g * self.area_cm2
                              / power_law_mean(lo, hi, slope))
        tau = q.network_lifetime_h
        span = self.t_stop - self.t_start
        n_born = rng.poisson(n_alive * span / tau)
        birth = np.concatenate([np.full(n_alive, -np.inf),
                                rng.uniform(self.t_start, self.t_stop, n_born)])
        death = np.maximum(birth, self.t_start) + rng.exponential(tau, birth.size)
        x, y = self._lane_positions(rng, np.maximum(birth, self.t_start))
        flux = power_law_sample(rng, birth.size, lo, hi, slope)
        sign = np.where(rng.random(birth.size) < 0.5 + sign_bias, 1.0, -1.0)
        v = rng.normal(0.0, q.drift_speed_kms * 3.6 / PIXEL_SCALE_MM, (2, birth.size))  # px/h
        return dict(x=x, y=y, vx=v[0], vy=v[1], flux=sign * flux, birth=birth, death=death,
                    t0=np.maximum(birth, self.t_start))

    def _add_network(self, sources, net, t):
        w = window_overlap(net["birth"], net["death"], t)
        live = w > 0
        dt = t - net["t0"][live]
        sources.add(self.p.quiet.feature_blur_mm / PIXEL_SCALE_MM,
                    net["x"][live] + net["vx"][live] * dt, net["y"][live] + net["vy"][live] * dt,
                    net["flux"][live] * w[live])

    def _lane_positions(self, rng, birth):
        """Positions (px) on supergranular lanes of the cell pattern alive at each birth (h)."""
        q = self.p.quiet
        cell_px = q.cell_size_mm / PIXEL_SCALE_MM
        seeds = self._cell_seeds(rng, cell_px)
        halfwidth = q.lane_halfwidth_mm / PIXEL_SCALE_MM
        epoch_h = q.cell_epoch_h
        epochs = np.floor((birth - self.t_start) / epoch_h).astype(int)
        x, y = np.empty(birth.size), np.empty(birth.size)
        for e in np.unique(epochs):
            idx = np.flatnonzero(epochs == e)
            t = self.t_start + (e + 0.5) * epoch_h
            alive = (seeds[:, 2] <= t) & (seeds[:, 3] > t)
            x[idx], y[idx] = self._sample_lanes(rng, cKDTree(seeds[alive, :2]), idx.size,
                                                halfwidth)
        return x, y

    def _cell_seeds(self, rng, cell_px):
        """Voronoi seeds (x, y, birth, death) of supergranules over the simulated span."""
        lo, hi = self.p.quiet.cell_lifetime_h
        n_alive = max(4, int(round((self.size / cell_px) ** 2)))
        span = self.t_stop - self.t_start
        n_born = rng.poisson(n_alive * span / ((lo + hi) / 2))
        life = rng.uniform(lo, hi, n_alive + n_born)
        birth = np.concatenate([self.t_start - rng.uniform(0, 1, n_alive) * life[:n_alive],
                                rng.uniform(self.t_start, self.t_stop, n_born)])
        xy = rng.uniform(0, self.size, (n_alive + n_born, 2))
        return np.column_stack([xy, birth, birth + life])

    def _sample_lanes(self, rng, tree, n, halfwidth):
        xs, ys = [], []
        need = n
        while need > 0:
            cand = rng.uniform(0, self.size, (3 * need + 16, 2))
            d, _ = tree.query(cand, k=2)
            on_lane = cand[(d[:, 1] - d[:, 0]) / 2 < halfwidth][:need]
            xs.append(on_lane[:, 0])
            ys.append(on_lane[:, 1])
            need -= len(on_lane)
        return np.concatenate(xs), np.concatenate(ys)

    def _add_internetwork(self, sources, rng, sign_bias):
        q = self.p.quiet
        lo, hi, slope = q.feature_flux_min_mx, q.network_threshold_mx, q.feature_flux_slope
        n = rng.poisson(q.internetwork_flux_density_g * self.area_cm2
                        / power_law_mean(lo, hi, slope))
        flux = power_law_sample(rng, n, lo, hi, slope)
        sign = np.where(rng.random(n) < 0.5 + sign_bias / 2, 1.0, -1.0)
        xy = rng.uniform(0, self.size, (2, n))
        sources.add(q.feature_blur_mm / PIXEL_SCALE_MM, xy[0], xy[1], sign * flux)

    # --- ephemeral regions and plage ------------------------------------------------------------
    def _ephemeral(self, rng):
        e = self.p.ephemeral
        map_area_mm2 = (REGION_SIZE_PX * PIXEL_SCALE_MM) ** 2
        pad_factor = (self.size / REGION_SIZE_PX) ** 2
        lead = 3 * e.lifetime_h
        rate_per_h = e.rate_per_1e5_mm2_per_day * map_area_mm2 / 1e5 * pad_factor / 24
        n = rng.poisson(rate_per_h * (self.t_stop - self.t_start + lead))
        birth = rng.uniform(self.t_start - lead, self.t_stop, n)
        life = rng.exponential(e.lifetime_h, n)
        flux = e.flux_min_mx + rng.exponential(e.flux_efold_mx, n)
        return dict(birth=birth, death=birth + life, life=life, flux=flux,
                    x=rng.uniform(0, self.size, n), y=rng.uniform(0, self.size, n),
                    angle=rng.uniform(0, 2 * np.pi, n))

    def _add_ephemeral(self, sources, er, t):
        e = self.p.ephemeral
        w = window_overlap(er["birth"], er["death"], t)
        live = w > 0
        age = np.clip((t - er["birth"][live]) / np.maximum(er["life"][live], 1e-6), 0.1, 1.0)
        half = 0.5 * age * e.max_separation_mm / PIXEL_SCALE_MM
        dx, dy = half * np.cos(er["angle"][live]), half * np.sin(er["angle"][live])
        pole_flux = 0.5 * er["flux"][live] * w[live]
        x, y = er["x"][live], er["y"][live]
        sources.add(e.blur_mm / PIXEL_SCALE_MM, np.concatenate([x + dx, x - dx]),
                    np.concatenate([y + dy, y - dy]), np.concatenate([pole_flux, -pole_flux]))

    def _plage(self, rng):
        p = self.p.plage
        if rng.random() >= p.probability:
            return None
        flux = p.flux_median_mx * np.exp(rng.normal(0, p.flux_sigma_ln))
        radius = rng.uniform(*p.radius_mm) / PIXEL_SCALE_MM
        # fragments spread with sigma = radius / 2: keep 2 sigma clear of the minimum distance
        centre = self._plage_centre(
            rng, p.min_distance_from_centre_mm / PIXEL_SCALE_MM + radius)
        n = p.fragments
        share = rng.lognormal(0.0, 0.7, n)
        sign = np.where(rng.random(n) < p.dominant_fraction, 1.0, -1.0) * rng.choice([-1, 1])
        xy = centre[:, None] + rng.normal(0, radius / 2, (2, n))
        return xy[0], xy[1], sign * flux * share / share.sum()

    def _plage_centre(self, rng, min_dist_px):
        centre = np.full(2, EMERGENCE_CENTRE_PX + PAD_PX)
        while True:
            xy = rng.uniform(0, self.size, 2)
            if np.hypot(*(xy - centre)) >= min_dist_px:
                return xy

    def _mu_map(self, meta: RegionMeta, time_h: float):
        """cos(heliocentric angle) per pixel at time_h (B0 = 0; B_LOS = B_r * mu).

        The map is tracked at the Carrington rate, so t h before emergence its centre lies
        SYNODIC_RATE * t further east than its central-meridian distance at emergence.
        """
        offsets_deg = (np.arange(REGION_SIZE_PX) + 0.5 - EMERGENCE_CENTRE_PX) \
            * PIXEL_SCALE_MM / MM_PER_DEG
        lat = meta.latitude_deg + offsets_deg
        lon_centre = meta.cmd_deg + SYNODIC_RATE_DEG_PER_DAY * time_h / 24.0
        lon = lon_centre + offsets_deg[None, :] / np.cos(np.deg2rad(lat))[:, None]
        mu = np.cos(np.deg2rad(lat))[:, None] * np.cos(np.deg2rad(lon))
        return np.clip(mu, 0.0, None)


def region_positions(rng, params):
    """Latitude (deg, signed) and central-meridian distance (deg) of one EAR/CR pair."""
    lat = rng.uniform(*params.latitude_deg) * rng.choice([-1.0, 1.0])
    cmd = rng.uniform(-params.cmd_max_deg, params.cmd_max_deg)
    return lat, cmd


def region_metas(params: "Simulate", seed: int) -> list[RegionMeta]:
    """Metadata of all simulated regions; CR i shares EAR i's latitude and CMD (HEAR pairing)."""
    n_pairs = max(params.n_ear, params.n_cr)
    positions = [region_positions(np.random.default_rng([seed, 0, i]), params)
                 for i in range(n_pairs)]
    metas = []
    for kind, n in (("EAR", params.n_ear), ("CR", params.n_cr)):
        for i in range(n):
            lat, cmd = positions[i]
            metas.append(RegionMeta(region_id=f"SIM-{kind}-{i + 1:04d}", kind=kind,
                                    latitude_deg=round(lat, 3), cmd_deg=round(cmd, 3),
                                    pixel_scale_mm=PIXEL_SCALE_MM, source="synthetic"))
    return metas


COMPONENTS = ("network", "ephemeral", "plage", "precursor", "internetwork", "noise")


def region_streams(seed: int, meta: RegionMeta):
    """Generator factory of one region: stream(component, time_h=None) -> numpy Generator.

    Seeded with (seed, kind, index, component[, time bin]), so each component of each
    region (and time bin) has its own reproducible random stream.
    """
    kind_code = 1 if meta.kind == "EAR" else 2
    index = int(meta.region_id.rsplit("-", 1)[1])

    def stream(component: str, time_h: float | None = None):
        key = [seed, kind_code, index, COMPONENTS.index(component)]
        if time_h is not None:
            key.append(int(round(abs(time_h) * 10)))
        return np.random.default_rng(key)
    return stream


def simulate_region(params: "Simulate", time_bins, seed: int, meta: RegionMeta) -> SimulatedRegion:
    """One region, deterministic for (seed, region id, parameters)."""
    simulator = RegionSimulator(params, time_bins)
    return SimulatedRegion(meta, simulator.simulate(region_streams(seed, meta), meta))


def simulate_store(params: "Simulate", time_bins, seed: int, out_dir: Path,
                   progress: bool = True) -> list[RegionMeta]:
    """Simulate every region and write the region store to out_dir (atomically, whole folder)."""
    metas = region_metas(params, seed)
    with atomic_directory(out_dir) as tmp, \
            show_progress(metas, progress, "simulating regions", "region") as iterator:
        for meta in iterator:
            region = simulate_region(params, time_bins, seed, meta)
            for t, data in region.maps.items():
                write_region_map(region_map_path(tmp, meta.region_id, t), data, meta, t)
    return metas
