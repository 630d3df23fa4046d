"""Region store, window geometry, segment sets, validation (Great Expectations), simulator."""
