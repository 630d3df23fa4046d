"""The region catalogue: reading, the one-line errors, control locations, the examples."""

from pathlib import Path

import astropy.units as u
import pytest
from astropy.time import Time

from preemergence.acquire.catalogue import (CatalogueError, check_pairs, control_location,
                                            control_region, format_t0, from_hear_row,
                                            parse_t0, read_catalogue, stonyhurst_at,
                                            write_catalogue)
from preemergence.acquire.records import CatalogueRegion, averaging_window
from preemergence.core.constants import SYNODIC_RATE_DEG_PER_DAY

ROOT = Path(__file__).resolve().parents[2]
CATALOGUES = ROOT / "data" / "catalogues"
# T_REC of the two shared HMI files (/work/shared/data/hmi/README.md); written here so the
# test needs no ../shared.
SHARED_T_REC = {"20160707": Time("2016-07-07T01:00:00", scale="tai"),
                "20190621": Time("2019-06-21T06:00:00", scale="tai")}

# A test EAR (NOAA 99999 is not assigned) and its CR two days later.
EAR = CatalogueRegion("E1", "EAR", Time("2012-03-04T05:06:00", scale="tai"), 100.0, 12.5,
                      "99999")
CR = control_region(EAR, EAR.t0 + 2 * u.day, "C1")
HEADER = "region_id,kind,noaa,t0,carr_lon_deg,lat_deg,pair"
GOOD = [HEADER,
        "E1,EAR,99999,2012-03-04T05:06:00 TAI,100.0,12.5,",
        f"C1,CR,,{format_t0(CR.t0)},{CR.carr_lon_deg:.4f},{CR.lat_deg:.4f},E1"]


def write(tmp_path, lines, name="cat.csv"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def edit(line_no, column, value):
    """GOOD with one cell replaced (line_no 1-based as in the file)."""
    lines = [line.split(",") for line in GOOD]
    lines[line_no - 1][HEADER.split(",").index(column)] = value
    return [",".join(cells) for cells in lines]


def test_good_catalogue_reads(tmp_path):
    regions = read_catalogue(write(tmp_path, GOOD))
    assert [r.region_id for r in regions] == ["E1", "C1"]
    ear, cr = regions
    assert (ear.kind, ear.noaa, ear.pair, cr.noaa, cr.pair) == ("EAR", "99999", None, None, "E1")
    assert ear.t0.scale == "tai" and abs((ear.t0 - EAR.t0).sec) < 1e-6


BAD = {
    "empty region_id": (edit(2, "region_id", ""), 2, "region_id"),
    "unknown kind": (edit(2, "kind", "AR"), 2, "kind"),
    "NOAA on a CR": (edit(3, "noaa", "11158"), 3, "noaa"),
    "EAR without NOAA": (edit(2, "noaa", ""), 2, "noaa"),
    "NOAA not 5 digits": (edit(2, "noaa", "1158"), 2, "noaa"),
    "t0 without scale": (edit(2, "t0", "2012-03-04T05:06:00"), 2, "t0"),
    "t0 unknown scale": (edit(2, "t0", "2012-03-04T05:06:00 TT"), 2, "t0"),
    "t0 unparseable": (edit(2, "t0", "2012-13-04T05:06:00 UTC"), 2, "t0"),
    "lon not a number": (edit(2, "carr_lon_deg", "east"), 2, "carr_lon_deg"),
    "lon out of range": (edit(2, "carr_lon_deg", "360"), 2, "carr_lon_deg"),
    "lat out of range": (edit(2, "lat_deg", "-90.5"), 2, "lat_deg"),
    "lat not finite": (edit(2, "lat_deg", "nan"), 2, "lat_deg"),
    "EAR with a pair": (edit(2, "pair", "C1"), 2, "pair"),
    "CR without pair": (edit(3, "pair", ""), 3, "pair"),
    "CR pair unknown": (edit(3, "pair", "E9"), 3, "pair"),
    "CR pair not an EAR": (edit(3, "pair", "C1"), 3, "pair"),
    "CR off its EAR's place": (edit(3, "carr_lon_deg", f"{CR.carr_lon_deg + 0.5:.4f}"), 3,
                               "carr_lon_deg"),
    "CR latitude off": (edit(3, "lat_deg", "12.8"), 3, "lat_deg"),
    "illustrative EAR with NOAA": ([line.replace("E1", "ILL-E1").replace("C1", "ILL-C1")
                                    for line in GOOD], 2, "noaa"),
    "duplicate region_id": (GOOD + [GOOD[1]], 4, "region_id"),
    "EAR paired twice": (GOOD + [GOOD[2].replace("C1,", "C2,", 1)], 4, "pair"),
    "missing column": ([",".join(line.split(",")[:-1]) for line in GOOD], 1, "pair"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_row_gives_one_line_naming_file_line_and_column(tmp_path, case):
    lines, line_no, column = BAD[case]
    path = write(tmp_path, lines)
    with pytest.raises(CatalogueError) as info:
        read_catalogue(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: line {line_no}")
    assert column in message
    assert isinstance(info.value, ValueError)


def test_several_problems_share_one_line(tmp_path):
    lines = edit(2, "kind", "AR")
    lines[2] = lines[2].replace(",CR,", ",XX,")
    message = str(pytest.raises(CatalogueError, read_catalogue, write(tmp_path, lines)).value)
    assert "line 2, column kind" in message and "line 3, column kind" in message
    assert "; " in message and "\n" not in message


def test_row_with_wrong_cell_count_and_empty_files(tmp_path):
    with pytest.raises(CatalogueError, match=r"line 3: 8 cells"):
        read_catalogue(write(tmp_path, GOOD[:2] + [GOOD[2] + ",x"]))
    with pytest.raises(CatalogueError, match=r"line 2: no data rows"):
        read_catalogue(write(tmp_path, [HEADER]))
    with pytest.raises(CatalogueError, match=r"line 1: the catalogue is empty"):
        read_catalogue(write(tmp_path, [""]))


def test_time_notations_utc_and_tai():
    tai = parse_t0("2016-07-07T04:12:00 TAI")
    assert parse_t0("2016.07.07_04:12:00_TAI") == tai
    assert parse_t0("2016-07-07 04:12 tai") == tai
    utc = parse_t0("2016-07-07T04:11:24 UTC")     # TAI - UTC = 36 s in July 2016
    assert utc.scale == "utc" and abs((utc - tai).sec) < 1e-6
    assert format_t0(utc) == "2016-07-07T04:11:24 UTC"
    for text in ("2016-07-07T04:12:00", "2016-07-07T04:12:00Z", "2016.07.07_04:12:00"):
        with pytest.raises(ValueError, match="no time scale"):
            parse_t0(text)


def test_control_location_round_trip():
    """A CR two days after its EAR has the EAR's Stonyhurst coordinates; the Sun turns
    ~13.2 deg/day seen from Earth, so the CR is ~26.4 deg lower in Carrington longitude."""
    cr_t0 = EAR.t0 + 2 * u.day
    lon, lat = control_location(EAR, cr_t0)
    cr = CatalogueRegion("C", "CR", cr_t0, lon, lat, pair="E1")
    for got, want in zip(stonyhurst_at(cr, cr_t0), stonyhurst_at(EAR, EAR.t0)):
        assert got == pytest.approx(want, abs=1e-6)
    shift = (lon - EAR.carr_lon_deg + 180.0) % 360.0 - 180.0
    assert shift == pytest.approx(-2 * SYNODIC_RATE_DEG_PER_DAY, abs=0.3)
    assert lat == pytest.approx(EAR.lat_deg, abs=1e-9)
    back = control_location(cr, EAR.t0)           # and back to the EAR
    assert back[0] == pytest.approx(EAR.carr_lon_deg, abs=1e-6)


def test_check_pairs_reports_a_misplaced_control():
    moved = CatalogueRegion("C1", "CR", CR.t0, (CR.carr_lon_deg + 1.0) % 360, CR.lat_deg,
                            pair="E1")
    assert check_pairs([EAR, CR]) == []
    [(region_id, column, message)] = check_pairs([EAR, moved])
    assert (region_id, column) == ("C1", "carr_lon_deg") and "E1" in message


def test_from_hear_row_conversions():
    by_carr = from_hear_row(99999, "2012.03.04_05:06", 12.5, 100.0, lon_kind="carrington",
                            scale="TAI")
    assert (by_carr.region_id, by_carr.noaa, by_carr.carr_lon_deg) == ("99999", "99999", 100.0)
    assert by_carr.t0 == EAR.t0
    cmd, _ = stonyhurst_at(EAR, EAR.t0)
    by_cmd = from_hear_row("99999", "2012-03-04 05:06 TAI", 12.5, cmd, lon_kind="cmd")
    assert by_cmd.carr_lon_deg == pytest.approx(100.0, abs=1e-3)
    with pytest.raises(ValueError, match="no time scale"):
        from_hear_row("99999", "2012-03-04 05:06", 12.5, 100.0, lon_kind="carrington")
    with pytest.raises(ValueError, match="not UTC"):
        from_hear_row("99999", "2012-03-04 05:06 TAI", 12.5, 100.0, lon_kind="carrington",
                      scale="UTC")
    with pytest.raises(ValueError, match="5-digit"):
        from_hear_row("1158", "2012-03-04 05:06 TAI", 12.5, 100.0, lon_kind="carrington")


def test_write_then_read_round_trip(tmp_path):
    path = tmp_path / "out.csv"
    write_catalogue([EAR, CR], path, notes={"E1": "test, not HEAR"})
    ear, cr = read_catalogue(path)
    assert (ear.region_id, cr.pair, cr.carr_lon_deg) == ("E1", "E1", round(CR.carr_lon_deg, 4))


def test_example_catalogues_read():
    files = sorted(CATALOGUES.glob("*.csv"))
    assert CATALOGUES / "illustrative_shared_hmi.csv" in files
    for path in files:
        assert read_catalogue(path)


def test_illustrative_rows_fall_on_the_shared_hmi_files():
    """Each ILL- region: no NOAA number, its -3.2 h window holds the T_REC of the shared
    file its id names, and it is on the disk within 40 deg of disk centre then."""
    regions = read_catalogue(CATALOGUES / "illustrative_shared_hmi.csv")
    assert {r.kind for r in regions} == {"EAR", "CR"} and len(regions) == 4
    for r in regions:
        assert r.region_id.startswith("ILL-") and r.noaa is None
        t_rec = SHARED_T_REC[r.region_id[-8:]]
        assert averaging_window(r, -3.2).contains(t_rec)
        lon, lat = stonyhurst_at(r, t_rec)
        assert lon ** 2 + lat ** 2 < 40 ** 2
