"""Small numerical helpers shared by the slow reference implementations in the tests."""


def bisect_increasing(func, lo, hi):
    """Root of an increasing function by bisection to the last bit."""
    for _ in range(2000):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if func(mid) < 0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)
