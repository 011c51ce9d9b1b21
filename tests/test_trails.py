"""Trailed-source measurement (sso.trails) against trails rendered independently of its model:
a sum of Gaussian PSFs along the segment (NumPy), with seeded Gaussian noise; the errors
against the Cramér–Rao bound of that rendering (finite-difference Fisher matrix)."""

import math

import numpy as np
import pytest
from astropy.wcs import WCS
from references import trail_fisher, trail_mosaic, trail_reference

from ephemerides.errors import InputError
from sso import _trail_kernels as kernels
from sso.trails import TRAILED_DELTA_CHI2, measure_trails, render_trails

SIGMA = 2.0
STAMP = 41


def reference(shape, x0, y0, length, angle_deg, flux, points=400):
    return trail_reference(shape, x0, y0, length, angle_deg, flux, SIGMA, points)


def _stamps(rng, lengths, angles, snrs):
    return trail_mosaic(rng, lengths, angles, snrs, SIGMA, stamp=STAMP)


def test_the_model_is_the_sum_of_psfs_along_the_segment():
    """render_trails (closed form with erf) against the reference sum of 4,000 PSFs: equal to
    1e-6 of the peak, for a point source, short and long trails at any angle."""
    for length, angle in [(0.0, 0.0), (2.0, 17.0), (7.5, 90.0), (20.0, 143.0), (33.0, 211.0)]:
        ours = render_trails((STAMP, STAMP), 20.3, 19.6, length, angle, 1000.0, SIGMA)
        theirs = reference((STAMP, STAMP), 20.3, 19.6, length, angle, 1000.0, points=4000)
        assert np.abs(ours - theirs).max() < 1e-6 * theirs.max(), (length, angle)
        assert ours.sum() == pytest.approx(1000.0, rel=1e-4)


def test_kernel_derivatives_match_finite_differences_of_the_reference():
    """The fit kernel's JᵀWJ and JᵀWr (analytic derivatives, fast erf) against those of the
    reference rendering's central differences, on every pixel of a stamp."""
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:STAMP, 0:STAMP]
    for params in ([20.3, 19.6, 9.0, 0.6, 800.0], [19.7, 20.4, 3.0, 2.5, 300.0],
                   [20.0, 20.0, -6.0, 1.2, 500.0]):
        truth = reference((STAMP, STAMP), *params[:3], math.degrees(params[3]), params[4],
                          points=2000)
        data = truth + rng.normal(0.0, 1.0, truth.shape)
        variance = np.full(truth.shape, 1.7)
        normal, gradient = np.zeros((5, 5)), np.zeros(5)
        chi2 = kernels._accumulate(np.array(params), SIGMA, xx.ravel().astype(float),
                                   yy.ravel().astype(float), data.ravel(),
                                   1.0 / variance.ravel(), data.size, normal, gradient, False)
        steps = np.array([1e-4, 1e-4, 1e-4, 1e-5, 1e-3])
        jac = []
        for k in range(5):
            up, down = np.array(params), np.array(params)
            up[k] += steps[k]
            down[k] -= steps[k]
            jac.append(((reference((STAMP, STAMP), *up[:3], math.degrees(up[3]), up[4], 2000)
                         - reference((STAMP, STAMP), *down[:3], math.degrees(down[3]), down[4],
                                     2000)) / (2 * steps[k])).ravel())
        jac = np.array(jac)
        residual = (data - truth).ravel()
        np.testing.assert_allclose(normal, jac @ jac.T / 1.7, rtol=1e-4,
                                   atol=1e-6 * np.abs(normal).max())
        np.testing.assert_allclose(gradient, jac @ residual / 1.7, rtol=1e-3,
                                   atol=1e-5 * np.abs(jac @ residual / 1.7).max())
        assert chi2 == pytest.approx((residual**2).sum() / 1.7, rel=1e-6)


def test_fast_erf_is_within_its_bound():
    x = np.linspace(-6.0, 6.0, 20001)
    ours = np.array([kernels._erf(v, math.exp(-v * v)) for v in x])
    assert np.abs(ours - np.array([math.erf(v) for v in x])).max() < 1.5e-7


def test_fits_are_unbiased_with_calibrated_errors():
    """600 trails, length 2-20 px, any angle, SNR 20-200, PSF σ 2 px, started 0.5 px off:
    ≥ 95 % converge; the pulls of length, angle (length ≥ 4 px), flux and position have a mean
    within ±0.2 and a standard deviation within 0.8-1.25."""
    rng = np.random.default_rng(7)
    n = 600
    lengths, angles = rng.uniform(2.0, 20.0, n), rng.uniform(0.0, 180.0, n)
    image, truth, x, y = _stamps(rng, lengths, angles, rng.uniform(20.0, 200.0, n))
    fits = measure_trails(image, np.ones(image.shape), SIGMA, x, y)
    good = ~fits["flag_no_converge"].to_numpy()
    assert good.mean() >= 0.95
    assert not fits.loc[good, ["flag_edge", "flag_off_image", "flag_masked",
                               "flag_suspect_long"]].to_numpy().any()
    angle_off = (fits["angle_deg"].to_numpy() - truth[:, 3] + 90.0) % 180.0 - 90.0
    pulls = {
        "x": (fits["x_px"] - truth[:, 0]) / fits["x_px_err"],
        "y": (fits["y_px"] - truth[:, 1]) / fits["y_px_err"],
        "length": (fits["length_px"] - truth[:, 2]) / fits["length_px_err"],
        "angle": angle_off / fits["angle_deg_err"],
        "flux": (fits["flux"] - truth[:, 4]) / fits["flux_err"],
    }
    for name, pull in pulls.items():
        keep = good & (truth[:, 2] >= 4.0) if name == "angle" else good
        values = pull.to_numpy()[keep]
        assert abs(values.mean()) < 0.2, (name, values.mean())
        assert 0.8 < values.std() < 1.25, (name, values.std())
    assert abs(fits.loc[good, "chi2_dof"].mean() - 1.0) < 0.03
    assert fits.loc[good, "chi2_dof"].between(0.65, 1.35).all()


@pytest.mark.parametrize(("length", "angle", "snr"), [(10.0, 30.0, 100.0), (4.0, 120.0, 50.0),
                                                      (16.0, 75.0, 200.0)])
def test_errors_are_the_cramer_rao_bound(length, angle, snr):
    """At SNR ≥ 50 the reported errors are within 5 % of the Cramér–Rao bound of the reference
    rendering, and the scatter of 300 noisy fits within 15 % of it (its own sampling error is
    ~4 %)."""
    rng = np.random.default_rng(int(length * 10 + snr))
    params = [20.2, 19.7, length, math.radians(angle), 1.0]
    model = reference((STAMP, STAMP), 20.2, 19.7, length, angle, 1.0)
    variance = (model**2).sum() / snr**2
    bound = np.sqrt(np.diag(np.linalg.inv(trail_fisher(params, variance, SIGMA, STAMP))))
    estimates, errors = [], []
    for _ in range(300):
        fit = measure_trails(model + rng.normal(0.0, math.sqrt(variance), model.shape),
                             np.full(model.shape, variance), SIGMA, [20.6], [19.4]).iloc[0]
        estimates.append([fit.x_px, fit.y_px, fit.length_px, math.radians(fit.angle_deg),
                          fit.flux])
        errors.append([fit.x_px_err, fit.y_px_err, fit.length_px_err,
                       math.radians(fit.angle_deg_err), fit.flux_err])
    offsets = np.array(estimates) - params
    offsets[:, 3] = (offsets[:, 3] + math.pi / 2) % math.pi - math.pi / 2
    np.testing.assert_allclose(np.median(errors, axis=0) / bound, 1.0, atol=0.05)
    np.testing.assert_allclose(offsets.std(axis=0) / bound, 1.0, atol=0.15)


def test_a_point_source_is_not_a_trail():
    """Point sources (SNR 20-200): the trail fits them no better than χ² with 2 degrees of
    freedom says (trail_delta_chi2 over 13.82 in < 1 %), with lengths under 1.5σ in 95 %;
    a trail of 3σ (6 px) at SNR 50 is told apart in ≥ 99 %."""
    rng = np.random.default_rng(3)
    n = 400
    image, _, x, y = _stamps(rng, np.zeros(n), np.zeros(n), rng.uniform(20.0, 200.0, n))
    points = measure_trails(image, np.ones(image.shape), SIGMA, x, y)
    assert (points["trail_delta_chi2"] > TRAILED_DELTA_CHI2).mean() < 0.01
    assert points["trail_delta_chi2"].mean() < 2.5
    assert np.percentile(points["length_px"], 95) < 1.5 * SIGMA
    image, _, x, y = _stamps(rng, np.full(n, 6.0), rng.uniform(0.0, 180.0, n), np.full(n, 50.0))
    trails = measure_trails(image, np.ones(image.shape), SIGMA, x, y)
    assert (trails["trail_delta_chi2"] > TRAILED_DELTA_CHI2).mean() >= 0.99


def test_flags_say_what_went_wrong():
    image = reference((60, 60), 30.0, 30.0, 12.0, 20.0, 2000.0)
    image += reference((60, 60), 2.0, 50.0, 6.0, 0.0, 2000.0)
    image += reference((60, 60), 45.0, 8.0, 80.0, 0.0, 8000.0)
    image -= reference((60, 60), 15.0, 45.0, 0.0, 0.0, 2000.0)  # a subtraction's hole
    rng = np.random.default_rng(2)
    noisy = image + rng.normal(0.0, 1.0, image.shape)
    mask = np.zeros(image.shape, dtype=bool)
    mask[30, 30] = True
    fits = measure_trails(noisy, np.ones(image.shape), SIGMA, [30.0, 2.0, 45.0, 70.0, 15.0],
                          [30.0, 50.0, 8.0, 10.0, 45.0], mask=mask, max_length_px=40.0)
    assert fits["flag_masked"].tolist() == [True, False, False, False, False]
    assert fits.loc[0, "length_px"] == pytest.approx(12.0, abs=0.3)  # measured nonetheless
    assert fits["flag_edge"].tolist()[:2] == [False, True]
    assert fits.loc[2, "flag_suspect_long"]
    assert fits.loc[3, "flag_off_image"] and np.isnan(fits.loc[3, "length_px"])
    assert fits.loc[4, "flag_no_converge"]  # no positive flux to fit


def test_a_wcs_gives_rubins_diasource_columns():
    """A TAN WCS (0.2″/px, rotated 30°): the centre, length (″) and angle (North through
    East) of the trail agree with the sky positions of the true segment's ends."""
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [150.0, -20.0]
    wcs.wcs.crpix = [30.0, 30.0]
    scale = 0.2 / 3600.0
    rot = math.radians(30.0)
    wcs.wcs.cd = scale * np.array([[-math.cos(rot), math.sin(rot)],
                                   [math.sin(rot), math.cos(rot)]])
    length, angle = 15.0, 50.0
    image = reference((60, 60), 29.3, 30.4, length, angle, 3000.0)
    fit = measure_trails(image, np.full(image.shape, 0.01), SIGMA, [29.0], [30.0],
                         wcs=wcs).iloc[0]
    ra, dec = wcs.pixel_to_world_values(29.3, 30.4)
    assert fit.trailRa == pytest.approx(float(ra), abs=1e-7)
    assert fit.trailDec == pytest.approx(float(dec), abs=1e-7)
    assert fit.trailLength == pytest.approx(length * 0.2, abs=0.01)
    dx, dy = 0.5 * length * math.cos(math.radians(angle)), 0.5 * length * math.sin(
        math.radians(angle))
    (ra1, ra2), (dec1, dec2) = wcs.pixel_to_world_values([29.3 - dx, 29.3 + dx],
                                                         [30.4 - dy, 30.4 + dy])
    expected = math.degrees(math.atan2((ra2 - ra1) * math.cos(math.radians(dec)),
                                       dec2 - dec1)) % 180.0
    assert fit.trailAngle == pytest.approx(expected, abs=0.05)
    assert fit.trailFlux == pytest.approx(3000.0, rel=1e-3) and fit.trailNdata > 0


def test_bad_input_is_refused_with_what_is_allowed():
    image = np.zeros((20, 20))
    with pytest.raises(InputError, match="variance has shape"):
        measure_trails(image, np.ones((20, 21)), SIGMA, [5.0], [5.0])
    with pytest.raises(InputError, match="psf_sigma_px must be"):
        measure_trails(image, np.ones((20, 20)), 0.0, [5.0], [5.0])
    with pytest.raises(InputError, match="x_px and y_px must be 1-D"):
        measure_trails(image, np.ones((20, 20)), SIGMA, [5.0, 6.0], [5.0])
    with pytest.raises(InputError, match="source 1: x_px and y_px must be finite"):
        measure_trails(image, np.ones((20, 20)), SIGMA, [5.0, np.nan], [5.0, 5.0])
    with pytest.raises(InputError, match="mask must be a boolean image"):
        measure_trails(image, np.ones((20, 20)), SIGMA, [5.0], [5.0], mask=np.zeros((20, 20)))
    with pytest.raises(InputError, match="image must be a 2-D image"):
        measure_trails(np.zeros(20), np.ones(20), SIGMA, [5.0], [5.0])
    with pytest.raises(InputError, match="wcs must be a 2-D celestial"):
        measure_trails(image, np.ones((20, 20)), SIGMA, [5.0], [5.0], wcs="TAN")
    with pytest.raises(InputError, match="max_length_px must be"):
        measure_trails(image, np.ones((20, 20)), SIGMA, [5.0], [5.0], max_length_px=-1)
