"""Association of known Solar System objects with DIASources, and the nightly pipeline.

``sso.associate`` is :func:`sso.association.associate` and ``sso.__version__`` the toolkit's
version (:mod:`ephemerides.provenance`), imported on first use so that the command line starts
without loading the numerical stack.
"""


def __getattr__(name):
    if name == "associate":
        from sso.association import associate

        return associate
    if name == "__version__":
        from ephemerides.provenance import __version__

        return __version__
    raise AttributeError(f"module 'sso' has no attribute {name!r}")
