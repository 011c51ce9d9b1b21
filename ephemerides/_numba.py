"""Numba settings shared by every kernel module: one place to change them."""

import numba

# cache=True: compile once per machine, reuse across processes. error_model="numpy": division by
# zero gives inf/NaN instead of raising, as the NumPy references do. fastmath stays off so that
# results are IEEE-reproducible and match the references bit for bit where they should.
NJIT = {"cache": True, "nogil": True, "error_model": "numpy", "fastmath": False}

njit = numba.njit(**NJIT)
