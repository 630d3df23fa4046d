"""Everything that touches sunpy/reproject: projection, real regions, quiet-Sun patches,
the full-disk scan, the simulator's realism check."""
