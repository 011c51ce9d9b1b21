"""Association of known Solar System objects with DIASources, and the nightly pipeline."""
