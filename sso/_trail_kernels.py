"""Numba kernels of the trailed-source fit (:mod:`sso.trails`): NumPy arrays in, NumPy out.

The model (Vereš et al. 2012, PASP 124, 1197, eq. 3): a Gaussian PSF of σ (pixels) moved
uniformly along a segment of length L at angle θ (from +x towards +y) centred on (x0, y0),
total flux F. With x', y' the pixel's offsets along and across the trail and a = √2 σ,

    S = F / (2 √(2π) σ L) · exp(-y'² / 2σ²) · [erf((x' + L/2) / a) - erf((x' - L/2) / a)],

sampled at pixel centres (pixel (i, j) of ``image[j, i]`` is at x = i, y = j). S is even in L
(a trail has no head) and tends to the Gaussian PSF as L → 0; |L| below ``MIN_LENGTH`` is
evaluated at ``MIN_LENGTH`` (the model then differs from the PSF by ~1e-9 of its peak).
Parameters are ``X0, Y0, LENGTH, ANGLE, FLUX``; θ in radians.
"""

import math

import numpy as np

from ephemerides._numba import njit

X0, Y0, LENGTH, ANGLE, FLUX = range(5)
N_PARAMS = 5
MIN_LENGTH = 1e-3
# Flags (bits of the kernel's flag word; sso.trails names them).
EDGE, OFF_IMAGE, MASKED, NO_CONVERGE, SUSPECT_LONG = 1, 2, 4, 8, 16
# The fit uses the pixels within this many σ of the segment: beyond, the model is below
# exp(-6.1) = 2e-3 of its peak: 7e-5 of a point source's position information lies there
# ((1 + 12.25) e^-12.25 of the integral of r² G²).
FIT_SIGMAS = 3.5
# Rendering reaches this far (exp(-32): 1e-14 of the peak).
RENDER_SIGMAS = 8.0
MAX_ITERATIONS = 60
MOMENT_ITERATIONS = 12
MOMENT_GROWTH_SNR = 30.0
POINT_ITERATIONS = 4
# Free parameters of the trail fit and of the point-source fit it is compared with.
TRAIL = np.array([True, True, True, True, True])
POINT = np.array([True, True, False, False, True])
_INV_SQRT_PI = 1.0 / math.sqrt(math.pi)
_INV_2_SQRT_2PI = 1.0 / (2.0 * math.sqrt(2.0 * math.pi))


@njit
def trail_model(x, y, params, sigma):
    """Model value at pixel centre (x, y) (scalar)."""
    c, s = math.cos(params[ANGLE]), math.sin(params[ANGLE])
    dx, dy = x - params[X0], y - params[Y0]
    along = dx * c + dy * s
    across = -dx * s + dy * c
    length = max(abs(params[LENGTH]), MIN_LENGTH)
    a = math.sqrt(2.0) * sigma
    e = math.erf((along + 0.5 * length) / a) - math.erf((along - 0.5 * length) / a)
    return (params[FLUX] * _INV_2_SQRT_2PI / (sigma * length)
            * math.exp(-0.5 * across * across / (sigma * sigma)) * e)


@njit
def render(shape_y, shape_x, params, sigma, out):
    """Add every trail of ``params`` (n, 5) to ``out`` (shape_y, shape_x), within
    ``RENDER_SIGMAS`` of its segment's box."""
    for k in range(params.shape[0]):
        p = params[k]
        half = 0.5 * abs(p[LENGTH])
        reach_x = half * abs(math.cos(p[ANGLE])) + RENDER_SIGMAS * sigma + 1.0
        reach_y = half * abs(math.sin(p[ANGLE])) + RENDER_SIGMAS * sigma + 1.0
        i0, i1 = max(math.floor(p[X0] - reach_x), 0), min(int(p[X0] + reach_x) + 1,
                                                                 shape_x - 1)
        j0, j1 = max(math.floor(p[Y0] - reach_y), 0), min(int(p[Y0] + reach_y) + 1,
                                                                 shape_y - 1)
        for j in range(j0, j1 + 1):
            for i in range(i0, i1 + 1):
                out[j, i] += trail_model(float(i), float(j), p, sigma)


@njit
def _erf(x, gauss):
    """erf(x) given ``gauss`` = exp(-x²) (Abramowitz & Stegun 7.1.26: error < 1.5e-7, i.e. a
    model error below 1e-7 of the trail's peak, far under any pixel's noise)."""
    t = 1.0 / (1.0 + 0.3275911 * abs(x))
    value = 1.0 - t * (0.254829592 + t * (-0.284496736 + t * (
        1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * gauss
    return value if x >= 0.0 else -value


@njit
def _accumulate(params, sigma, px, py, values, weights, n, normal, gradient, point):
    """χ² of the pixels (px, py, values, weights = 1/variance; first n) at ``params``, JᵀWJ
    (``normal``) and JᵀW r (``gradient``, r = data - model); with ``point`` of the PSF alone
    (L = 0: no derivatives in L and θ)."""
    c, s = math.cos(params[ANGLE]), math.sin(params[ANGLE])
    sign = 1.0 if params[LENGTH] >= 0.0 else -1.0
    length = max(abs(params[LENGTH]), MIN_LENGTH)
    a = math.sqrt(2.0) * sigma
    inv_a = 1.0 / a
    inv_s2 = 1.0 / (sigma * sigma)
    k_flux = _INV_2_SQRT_2PI / (sigma * length)
    k_point = 0.5 / (math.pi * sigma * sigma)
    flux = params[FLUX]
    for u in range(N_PARAMS):
        gradient[u] = 0.0
        for v in range(N_PARAMS):
            normal[u, v] = 0.0
    d = np.zeros(N_PARAMS)
    chi2 = 0.0
    for m in range(n):
        dx, dy = px[m] - params[X0], py[m] - params[Y0]
        if point:
            r2 = (dx * dx + dy * dy) * inv_s2
            if r2 > 25.0:  # the PSF is below exp(-12.5) = 4e-6 of its peak there
                chi2 += weights[m] * values[m] * values[m]
                continue
            shape = k_point * math.exp(-0.5 * r2)
            model = flux * shape
            d[X0] = model * dx * inv_s2
            d[Y0] = model * dy * inv_s2
        else:
            along = dx * c + dy * s
            across = -dx * s + dy * c
            up = (along + 0.5 * length) * inv_a
            um = (along - 0.5 * length) * inv_a
            ep, em = math.exp(-up * up), math.exp(-um * um)
            e = _erf(up, ep) - _erf(um, em)
            g = math.exp(-0.5 * across * across * inv_s2)
            shape = k_flux * g * e  # the model per unit flux
            model = flux * shape
            d_along = flux * k_flux * g * 2.0 * _INV_SQRT_PI * (ep - em) * inv_a
            d_across = -model * across * inv_s2
            d[X0] = -d_along * c + d_across * s
            d[Y0] = -d_along * s - d_across * c
            d[LENGTH] = sign * (flux * k_flux * g * _INV_SQRT_PI * (ep + em) * inv_a
                                - model / length)
            d[ANGLE] = d_along * across - d_across * along
        d[FLUX] = shape
        r = values[m] - model
        w = weights[m]
        chi2 += w * r * r
        for u in range(N_PARAMS):
            wd = w * d[u]
            gradient[u] += wd * r
            for v in range(u + 1):
                normal[u, v] += wd * d[v]
    for u in range(N_PARAMS):
        for v in range(u + 1, N_PARAMS):
            normal[u, v] = normal[v, u]
    return chi2


@njit
def _solve(matrix, rhs, out):
    """Solve the symmetric system ``matrix`` x = ``rhs`` by Cholesky; False when it is not
    positive definite."""
    n = rhs.shape[0]
    low = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1):
            total = matrix[i, j]
            for k in range(j):
                total -= low[i, k] * low[j, k]
            if i == j:
                if not total > 0.0:
                    return False
                low[i, i] = math.sqrt(total)
            else:
                low[i, j] = total / low[j, j]
    for i in range(n):
        total = rhs[i]
        for k in range(i):
            total -= low[i, k] * out[k]
        out[i] = total / low[i, i]
    for i in range(n - 1, -1, -1):
        total = out[i]
        for k in range(i + 1, n):
            total -= low[k, i] * out[k]
        out[i] = total / low[i, i]
    return True


@njit
def _moment_sums(image, variance, mask, cx, cy, ixx, iyy, ixy, i0, i1, j0, j1, positive,
                 sums):
    """Weighted sums about (cx, cy) with the Gaussian weight of inverse covariance (ixx, iyy,
    ixy), of every pixel or only the ``positive`` ones: ``sums[0:6]`` flux, first and second
    moments, ``sums[6]`` the variance of ``sums[0]``."""
    sums[:] = 0.0
    # Along a row the weight exp(-q/2) is a Gaussian in dx: from its largest value in the box
    # outwards, each step multiplies it by a ratio that itself shrinks by exp(-ixx) (two
    # exponentials per row, none per pixel, and nothing that can overflow).
    decay = math.exp(-ixx)
    for j in range(j0, j1 + 1):
        dy = j - cy
        top = min(max(round(cx - ixy * dy / ixx), i0), i1)
        dx = top - cx
        peak = math.exp(-0.5 * (ixx * dx * dx + 2.0 * ixy * dx * dy + iyy * dy * dy))
        for direction in (1, -1):
            ratio = math.exp(-0.5 * ixx * (2.0 * direction * dx + 1.0) - direction * ixy * dy)
            weight = peak
            i = top
            if direction == -1:
                weight *= ratio
                ratio *= decay
                i -= 1
            while i0 <= i <= i1:
                if not mask[j, i] and variance[j, i] > 0.0 and (
                        image[j, i] > 0.0 or not positive):
                    f = image[j, i] * weight
                    ddx = i - cx
                    sums[0] += f
                    sums[1] += f * ddx
                    sums[2] += f * dy
                    sums[3] += f * ddx * ddx
                    sums[4] += f * dy * dy
                    sums[5] += f * ddx * dy
                    sums[6] += weight * weight * variance[j, i]
                weight *= ratio
                ratio *= decay
                i += direction


@njit
def _moments(image, variance, mask, x0, y0, sigma, half, start):
    """Adaptive Gaussian-weighted moments about (x0, y0) within ``half`` pixels: the start of
    the fit in ``start`` (x0, y0, L, θ, F) from the moment matrix with the weight and the PSF
    taken out (a segment of length L adds L²/12 along itself). Where noise makes the moment
    matrix of all pixels of a bright source not positive definite (a long trail of low surface
    brightness under a wide weight), that of the positive pixels is used."""
    ny, nx = image.shape
    cx, cy = x0, y0
    wxx, wyy, wxy = 9.0 * sigma * sigma, 9.0 * sigma * sigma, 0.0
    cxx, cyy, cxy = sigma * sigma, sigma * sigma, 0.0
    total = 0.0
    sums = np.zeros(7)
    for iteration in range(MOMENT_ITERATIONS):
        det = wxx * wyy - wxy * wxy
        ixx, iyy, ixy = wyy / det, wxx / det, -wxy / det
        # The weight's 4σ box, within the window.
        reach_x, reach_y = min(4.0 * math.sqrt(wxx), half), min(4.0 * math.sqrt(wyy), half)
        i0, i1 = max(int(cx - reach_x), 0), min(int(cx + reach_x) + 1, nx - 1)
        j0, j1 = max(int(cy - reach_y), 0), min(int(cy + reach_y) + 1, ny - 1)
        found = False
        bright = False
        for positive in (False, True):
            # The positive pixels' moments only for a bright source (a faint one's would be
            # noise and neighbours).
            if positive and not bright:
                break
            _moment_sums(image, variance, mask, cx, cy, ixx, iyy, ixy, i0, i1, j0, j1,
                         positive, sums)
            s0 = sums[0]
            if not positive:
                bright = s0 > MOMENT_GROWTH_SNR * math.sqrt(sums[6])
            if not s0 > 0.0:
                continue
            mx, my = sums[1] / s0, sums[2] / s0
            mxx, myy, mxy = sums[3] / s0 - mx * mx, sums[4] / s0 - my * my, sums[5] / s0 - mx * my
            if mxx > 0.0 and mxx * myy - mxy * mxy > 0.0:
                found = True
                break
        if not found:
            break
        total = s0
        cx, cy = cx + mx, cy + my
        # Source covariance C from the weighted one M = (C⁻¹ + W⁻¹)⁻¹.
        mdet = mxx * myy - mxy * mxy
        pxx, pyy, pxy = myy / mdet - ixx, mxx / mdet - iyy, -mxy / mdet - ixy
        pdet = pxx * pyy - pxy * pxy
        if pxx > 0.0 and pdet > 0.0:
            cxx, cyy, cxy = pyy / pdet, pxx / pdet, -pxy / pdet
        else:
            cxx, cyy, cxy = mxx, myy, mxy
        before = wxx + wyy
        wxx = max(2.0 * cxx, sigma * sigma)
        wyy = max(2.0 * cyy, sigma * sigma)
        wxy = 2.0 * cxy
        if wxx * wyy - wxy * wxy <= 0.0:
            wxy = 0.0
        # Four iterations settle a short trail; the weight of a long one keeps growing along
        # it, and follows it while the trail is bright (weighted SNR > 30) and resolved (longer
        # than 4σ) — a faint source's weight would grow into noise and neighbours.
        if iteration >= 3:
            length2 = 12.0 * (0.5 * (cxx + cyy) + math.sqrt(0.25 * (cxx - cyy) ** 2 + cxy * cxy)
                              - sigma * sigma)
            if (abs(wxx + wyy - before) < 0.1 * before or not bright
                    or length2 < 16.0 * sigma * sigma):
                break
    mean = 0.5 * (cxx + cyy)
    spread = math.sqrt(0.25 * (cxx - cyy) ** 2 + cxy * cxy)
    start[X0] = cx
    start[Y0] = cy
    start[LENGTH] = math.sqrt(max(12.0 * (mean + spread - sigma * sigma), 0.0))
    start[ANGLE] = 0.5 * math.atan2(2.0 * cxy, cxx - cyy)
    # The weight W = 2C keeps 2/3 of a Gaussian source's flux.
    start[FLUX] = 1.5 * total
    return cx >= 0.0 and cy >= 0.0 and cx <= nx - 1 and cy <= ny - 1


@njit
def _pixels(image, variance, mask, params, sigma, px, py, values, weights):
    """The pixels within ``FIT_SIGMAS`` σ of the segment (and their data): their count, and
    flags for masked pixels near it or more pixels than the buffers hold."""
    ny, nx = image.shape
    c, s = math.cos(params[ANGLE]), math.sin(params[ANGLE])
    half = 0.5 * abs(params[LENGTH])
    reach = FIT_SIGMAS * sigma
    reach_x = half * abs(c) + reach + 1.0
    reach_y = half * abs(s) + reach + 1.0
    flags = 0
    i0 = math.floor(params[X0] - reach_x)
    i1 = math.ceil(params[X0] + reach_x)
    j0 = math.floor(params[Y0] - reach_y)
    j1 = math.ceil(params[Y0] + reach_y)
    n = 0
    for j in range(max(j0, 0), min(j1, ny - 1) + 1):
        for i in range(max(i0, 0), min(i1, nx - 1) + 1):
            dx, dy = i - params[X0], j - params[Y0]
            along = dx * c + dy * s
            across = -dx * s + dy * c
            beyond = max(abs(along) - half, 0.0)
            if beyond * beyond + across * across > reach * reach:
                continue
            if mask[j, i] or not variance[j, i] > 0.0:
                if beyond * beyond + across * across < 4.0 * sigma * sigma:
                    flags |= MASKED
                continue
            if n == px.shape[0]:
                return n, flags | SUSPECT_LONG
            px[n] = i
            py[n] = j
            values[n] = image[j, i]
            weights[n] = 1.0 / variance[j, i]
            n += 1
    return n, flags


@njit
def _levenberg_marquardt(params, sigma, px, py, values, weights, n, free, max_iterations,
                         covariance):
    """Fit the ``free`` parameters of ``params`` in place, in at most ``max_iterations``;
    returns (χ², iterations, converged) and the covariance (of all five, every one free)."""
    normal = np.zeros((N_PARAMS, N_PARAMS))
    gradient = np.zeros(N_PARAMS)
    trial_normal = np.zeros((N_PARAMS, N_PARAMS))
    trial_gradient = np.zeros(N_PARAMS)
    lhs = np.zeros((N_PARAMS, N_PARAMS))
    step = np.zeros(N_PARAMS)
    rhs = np.zeros(N_PARAMS)
    trial = np.zeros(N_PARAMS)
    point = not free[LENGTH]
    chi2 = _accumulate(params, sigma, px, py, values, weights, n, normal, gradient, point)
    damping = 1e-3
    converged = False
    iteration = 0
    while iteration < max_iterations and not converged:
        iteration += 1
        accepted = False
        while damping < 1e10:
            for u in range(N_PARAMS):
                for v in range(N_PARAMS):
                    lhs[u, v] = normal[u, v] if free[u] and free[v] else 0.0
                lhs[u, u] = normal[u, u] * (1.0 + damping) + 1e-300 if free[u] else 1.0
                rhs[u] = gradient[u] if free[u] else 0.0
            if not _solve(lhs, rhs, step):
                damping *= 10.0
                continue
            predicted = 0.0
            for u in range(N_PARAMS):
                predicted += step[u] * rhs[u]
            if predicted <= 1e-3 and damping <= 1e-3:
                # The full Gauss-Newton step would lower χ² by < 1e-3 (< 0.03 σ): converged
                # where JᵀWJ already stands.
                converged = True
                accepted = True
                break
            for u in range(N_PARAMS):
                trial[u] = params[u] + step[u]
            trial_chi2 = _accumulate(trial, sigma, px, py, values, weights, n, trial_normal,
                                     trial_gradient, point)
            if trial_chi2 <= chi2 and math.isfinite(trial_chi2):
                # A χ² change below 1e-3 moves the parameters by < 0.03 of their errors.
                converged = chi2 - trial_chi2 <= 1e-3 or predicted <= 1e-10
                chi2 = trial_chi2
                for u in range(N_PARAMS):
                    params[u] = trial[u]
                    gradient[u] = trial_gradient[u]
                    for v in range(N_PARAMS):
                        normal[u, v] = trial_normal[u, v]
                damping = max(damping * 0.1, 1e-9)
                accepted = True
                break
            damping *= 10.0
        if not accepted:
            # No step lowers χ²: at the minimum (to rounding) when the gradient says so.
            converged = damping >= 1e10
            break
    # Covariance: the inverse of JᵀWJ at the solution (NaN where it is singular, as for the
    # angle of a point source).
    column = np.zeros(N_PARAMS)
    for u in range(N_PARAMS):
        column[:] = 0.0
        column[u] = 1.0
        if not _solve(normal, column, step):
            covariance[:, :] = np.nan
            break
        for v in range(N_PARAMS):
            covariance[v, u] = step[v]
    return chi2, iteration, converged


@njit
def _off_edge(params, sigma, nx, ny):
    """Whether the trail itself (within 2σ of its segment) reaches off the image."""
    half = 0.5 * abs(params[LENGTH])
    core_x = half * abs(math.cos(params[ANGLE])) + 2.0 * sigma
    core_y = half * abs(math.sin(params[ANGLE])) + 2.0 * sigma
    return (params[X0] - core_x < -0.5 or params[Y0] - core_y < -0.5
            or params[X0] + core_x > nx - 0.5 or params[Y0] + core_y > ny - 0.5)


@njit
def _end_outside(params, region, sigma):
    """Whether an end of the segment of ``params`` lies more than σ from ``region``'s."""
    c, s = math.cos(region[ANGLE]), math.sin(region[ANGLE])
    half = 0.5 * abs(region[LENGTH])
    for sign in (-1.0, 1.0):
        ex = params[X0] + sign * 0.5 * params[LENGTH] * math.cos(params[ANGLE]) - region[X0]
        ey = params[Y0] + sign * 0.5 * params[LENGTH] * math.sin(params[ANGLE]) - region[Y0]
        along = ex * c + ey * s
        across = -ex * s + ey * c
        beyond = max(abs(along) - half, 0.0)
        if beyond * beyond + across * across > sigma * sigma:
            return True
    return False


@njit
def fit_trails(image, variance, mask, sigma, x_start, y_start, half_length, max_pixels,
               params_out, covariance_out, chi2_out, point_chi2_out, npix_out, flags_out,
               iterations_out):
    """Fit the trail at each start position (moments within ``half_length`` + 4σ, then
    Levenberg–Marquardt on the pixels within ``FIT_SIGMAS`` σ of the segment — at most
    ``max_pixels`` —, the pixel set redrawn once around the solution if it moved), and a
    point source (centre and flux) on the same pixels; outputs per source (preallocated)."""
    ny, nx = image.shape
    px = np.empty(max_pixels)
    py = np.empty(max_pixels)
    values = np.empty(max_pixels)
    weights = np.empty(max_pixels)
    params = np.empty(N_PARAMS)
    point = np.empty(N_PARAMS)
    covariance = np.empty((N_PARAMS, N_PARAMS))
    scratch = np.empty((N_PARAMS, N_PARAMS))
    half = half_length + 4.0 * sigma
    for k in range(x_start.shape[0]):
        params_out[k, :] = np.nan
        covariance_out[k, :, :] = np.nan
        chi2_out[k] = np.nan
        point_chi2_out[k] = np.nan
        npix_out[k] = 0
        iterations_out[k] = 0
        x0, y0 = x_start[k], y_start[k]
        if not (x0 >= -0.5 and y0 >= -0.5 and x0 <= nx - 0.5 and y0 <= ny - 0.5):
            flags_out[k] = OFF_IMAGE
            continue
        flags = 0
        if not _moments(image, variance, mask, x0, y0, sigma, half, params):
            flags_out[k] = OFF_IMAGE | NO_CONVERGE
            continue
        chi2, iterations, converged = 0.0, 0, False
        # The pixels around the start's segment lengthened (moments under-estimate long
        # trails), redrawn once around the solution if an end left them.
        region = params.copy()
        start_length = abs(params[LENGTH])
        region[LENGTH] = 1.25 * start_length + 2.0 * sigma
        for attempt in range(2):
            n, pixel_flags = _pixels(image, variance, mask, region, sigma, px, py, values,
                                     weights)
            flags = pixel_flags
            if n <= N_PARAMS:
                converged = False
                break
            chi2, used, converged = _levenberg_marquardt(params, sigma, px, py, values,
                                                         weights, n, TRAIL, MAX_ITERATIONS,
                                                         covariance)
            iterations += used
            if _end_outside(params, region, sigma):
                if attempt == 0:
                    region[:] = params
                    region[LENGTH] = abs(params[LENGTH]) + 2.0 * sigma
                    continue
                flags |= SUSPECT_LONG  # still beyond its pixels
            break
        if n > N_PARAMS:
            point[:] = params
            point[LENGTH] = 0.0
            # (A point source far from the trail's χ² needs no exact minimum: a few steps.)
            point_chi2_out[k], _, _ = _levenberg_marquardt(point, sigma, px, py, values,
                                                           weights, n, POINT,
                                                           POINT_ITERATIONS, scratch)
        if params[LENGTH] < 0.0:
            params[LENGTH] = -params[LENGTH]
            for u in range(N_PARAMS):
                if u != LENGTH:
                    covariance[u, LENGTH] = -covariance[u, LENGTH]
                    covariance[LENGTH, u] = -covariance[LENGTH, u]
        params[ANGLE] = params[ANGLE] % math.pi
        # A fit that ended away from where it started, or grew far beyond the moments' length,
        # found something else (a neighbour, noise).
        wandered = (math.hypot(params[X0] - x0, params[Y0] - y0) > 0.5 * max(
            abs(params[LENGTH]), abs(region[LENGTH])) + 3.0 * sigma
            or abs(params[LENGTH]) > 2.0 * start_length + 4.0 * sigma)
        if not converged or not (params[FLUX] > 0.0) or wandered:
            flags |= NO_CONVERGE
        if params[LENGTH] > 2.0 * half_length:
            flags |= SUSPECT_LONG
        if _off_edge(params, sigma, nx, ny):
            flags |= EDGE
        if not (params[X0] >= -0.5 and params[Y0] >= -0.5 and params[X0] <= nx - 0.5
                and params[Y0] <= ny - 0.5):
            flags |= OFF_IMAGE
        params_out[k, :] = params
        covariance_out[k, :, :] = covariance
        chi2_out[k] = chi2
        npix_out[k] = n
        flags_out[k] = flags
        iterations_out[k] = iterations
