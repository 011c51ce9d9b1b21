"""Linking of unassociated detections into new Solar System objects."""
