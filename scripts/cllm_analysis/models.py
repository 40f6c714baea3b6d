"""models.py - the scaling models and their fits.

The models, in Gunther's throughput form (X = tokens/s at N workers):

    USL       X(N) = lambda N / D(N),   D(N) = 1 + sigma (N-1) + kappa N (N-1)
    Amdahl    the USL with kappa = 0 (sigma = serial fraction)
    step      X(N) = lambda N / ((1 - a) D(N) + a / N)

The step model is the USL (or Amdahl) with the amortisation term written
out: a is the share of the 1-thread step that is divided over the N workers
while the rest of a step is not (under weak scaling the optimizer: one AdamW
pass per step, each worker updating 1/N of the parameters). With a = 0 it is
the plain USL. a is measured (the phase clocks), not fitted.

Estimators:
  log   (the default, fit_log) least squares on log tokens/s of every rep:
        multiplicative noise, every thread count weighted by its reps.
        scipy.optimize.least_squares (trf) with bounds sigma, kappa >= 0.
        The interval of the speedup at a target N (63) is the profile
        likelihood interval (F(1, dof) calibration) of
        psi = (N-1) sigma + N (N-1) kappa, which the bounds do not break:
        its 95% coverage is checked by simulation (tests/analysis_checks.py).
        scipy has no profile-likelihood interval for least_squares: the
        profile (a vectorised grid over the sigma/kappa split, refined) is
        written here.
  nls   (fit_nls_throughput) R usl's estimator (usl 2.0+, usl.R): nonlinear
        least squares on throughput itself, X = gamma N / D(N), gamma >= 0,
        0 <= alpha, beta <= 1, standard errors from the Jacobian as R usl
        computes them. Reproduces the package's published coefficients.
  gunther  (fit_gunther_quadratic) usl 1.x's default and Guerrilla Capacity
        Planning 5.2.3: linear least squares of N/C(N) - 1 on (N-1) and
        N(N-1) through the origin, C(N) = X(N) / X(1).

Fit hygiene (fit_model): fewer than 3 thread counts, no residual degrees of
freedom or no spread: "not determined". Residuals larger than the spread of
the reps (lack-of-fit F test, p < LOF_ALPHA) or a parameter at its upper
bound: "does not fit". A parameter at its lower bound 0 is reported as such
("at its bound 0: not determined beyond 0 <= value <= upper end"), never with
a standard error of 0; the speedup's profile interval stays valid there, and
an interval of zero width is never returned.
"""
import math

import numpy as np
from scipy.optimize import least_squares

from . import stats

LOF_ALPHA = 0.001
SIGMA_MAX, KAPPA_MAX = 10.0, 1.0
TARGET_N = 63


def usl_den(n, sigma, kappa):
    n = np.asarray(n, float)
    return 1.0 + sigma * (n - 1) + kappa * n * (n - 1)


def step_den(n, sigma, kappa, a=0.0):
    n = np.asarray(n, float)
    return (1.0 - a) * usl_den(n, sigma, kappa) + a / n


def speedup(n, sigma, kappa, a=0.0):
    """Speedup X(N)/X(1) of the step model (the USL when a = 0)."""
    n = np.asarray(n, float)
    return n / step_den(n, sigma, kappa, a)


def speedup_of_psi(n, psi, a=0.0):
    """Speedup at N from psi = (N-1) sigma + N(N-1) kappa = D(N) - 1."""
    return n / ((1.0 - a) * (1.0 + psi) + a / n)

# ----------------------------------------------------------------------------
# data: per thread count the mean of log tokens/s, rep count, pure error


class LogData:
    """Thread counts ns, per-count mean log throughput ybar and rep counts
    cnt, the pure-error sum of squares (spread of the reps about their
    count's mean) and the observation count, from {N: [tokens/s per rep]}."""

    def __init__(self, samples):
        self.ns = np.array(sorted(samples), float)
        logs = [np.log(np.asarray(samples[int(n)], float)) for n in self.ns]
        self.cnt = np.array([len(l) for l in logs], float)
        self.ybar = np.array([l.mean() for l in logs])
        self.ss_pe = float(sum(((l - l.mean()) ** 2).sum() for l in logs))
        self.n_obs = int(self.cnt.sum())
        self.m = len(self.ns)
        self.logn, self.c1, self.c2 = np.log(self.ns), self.ns - 1, self.ns * (self.ns - 1)
        self.w = self.cnt / self.cnt.sum()


def rss_grid(d, sigma, kappa, a):
    """Residual sum of squares (log scale, lambda profiled out) for arrays of
    sigma, kappa of one shape: returns that shape. The pure error is included."""
    sigma, kappa = np.asarray(sigma, float), np.asarray(kappa, float)
    den = (1.0 - a) * (1.0 + sigma[..., None] * d.c1 + kappa[..., None] * d.c2) + a / d.ns
    with np.errstate(invalid="ignore", divide="ignore"):
        r = d.ybar - d.logn + np.log(den)
    r -= (r @ d.w)[..., None]
    out = (r * r) @ d.cnt + d.ss_pe
    return np.where(np.isfinite(out), out, np.inf)


def _fit_ls(d, a, kappa_free):
    """least_squares on the per-count means (weighted by rep count: the same
    optimum as every rep as an observation). Returns (sigma, kappa, lambda,
    rss, active) with active the bound flags of (sigma, kappa)."""
    w = np.sqrt(d.cnt)
    logn = np.log(d.ns)
    c1, c2 = d.ns - 1, d.ns * (d.ns - 1)

    def unpack(p):
        return p[1], (p[2] if kappa_free else 0.0)

    def fun(p):
        s, k = unpack(p)
        return w * (d.ybar - p[0] - logn + np.log(step_den(d.ns, s, k, a)))

    def jac(p):
        s, k = unpack(p)
        den = step_den(d.ns, s, k, a)
        cols = [-w, w * (1 - a) * c1 / den] + ([w * (1 - a) * c2 / den] if kappa_free else [])
        return np.stack(cols, axis=1)

    # start: the best of a coarse grid, lambda solved exactly
    sg = np.array([0.0, 1e-3, 0.01, 0.05, 0.2, 1.0])
    kg = np.array([0.0, 1e-5, 1e-4, 1e-3, 1e-2]) if kappa_free else np.array([0.0])
    S, K = np.meshgrid(sg, kg, indexing="ij")
    R = rss_grid(d, S, K, a)
    i, j = np.unravel_index(np.argmin(R), R.shape)
    s0, k0 = S[i, j], K[i, j]
    ell0 = float(np.average(d.ybar - logn + np.log(step_den(d.ns, s0, k0, a)), weights=d.cnt))
    p0 = [ell0, s0] + ([k0] if kappa_free else [])
    lo = [-np.inf, 0.0] + ([0.0] if kappa_free else [])
    hi = [np.inf, SIGMA_MAX] + ([KAPPA_MAX] if kappa_free else [])
    r = least_squares(fun, p0, jac=jac, bounds=(lo, hi), method="trf", x_scale="jac",
                      xtol=1e-12, ftol=1e-12, gtol=1e-12, max_nfev=500)
    s, k = unpack(r.x)
    rss = float(r.fun @ r.fun) + d.ss_pe
    act = list(r.active_mask[1:]) + ([0] if not kappa_free else [])
    return float(s), float(k), float(math.exp(r.x[0])), rss, act, r


def profile_interval(d, a, kappa_free, target, psi_hat, rss_min, thresh, t_grid=41):
    """Profile-likelihood interval of psi = (T-1) sigma + T(T-1) kappa at the
    target T: the psi whose profiled RSS stays within thresh of rss_min.
    Along psi the sigma/kappa split t in [0, 1] is minimised on a grid with a
    parabolic refinement. Returns (lo, hi, rss_min) (hi None when unbounded)."""
    c0, c1 = target - 1.0, target * (target - 1.0)
    ts = np.linspace(0.0, 1.0, t_grid) if kappa_free else np.zeros(1)

    def prof(psis):
        psis = np.atleast_1d(np.asarray(psis, float))
        S = (1 - ts[None, :]) * psis[:, None] / c0
        K = ts[None, :] * psis[:, None] / c1
        R = rss_grid(d, S, K, a)
        j = np.argmin(R, axis=1)
        best = R[np.arange(len(psis)), j]
        if kappa_free:        # parabola through an inner grid minimum and its neighbours
            jj = np.clip(j, 1, t_grid - 2)
            y0, y1, y2 = (R[np.arange(len(psis)), jj + o] for o in (-1, 0, 1))
            den = y0 - 2 * y1 + y2
            with np.errstate(invalid="ignore", divide="ignore"):
                vert = y1 - (y2 - y0) ** 2 / (8 * den)
                off = (y0 - y2) / (2 * den)          # the vertex, in grid steps from jj
            ok = np.isfinite(vert) & (den > 0) & (jj == j) & (np.abs(off) <= 1)
            best = np.minimum(best, np.where(ok, vert, np.inf))
        return best

    rmin = min(rss_min, float(prof([psi_hat])[0]))
    limit = rmin + thresh

    def cross(lo_in, hi_out):
        """psi in [lo_in, hi_out] where the profile crosses the limit: three
        rounds of 16 points, then linear interpolation"""
        for _ in range(3):
            xs = np.linspace(lo_in, hi_out, 16)
            v = prof(xs)
            k = int(np.argmax(v > limit)) if np.any(v > limit) else len(xs) - 1
            k = max(k, 1)
            lo_in, hi_out = xs[k - 1], xs[k]
            v0, v1 = v[k - 1], v[k]
        if np.isfinite(v0) and np.isfinite(v1) and v1 > v0:
            return float(lo_in + (hi_out - lo_in) * min(max((limit - v0) / (v1 - v0), 0.0), 1.0))
        return float(0.5 * (lo_in + hi_out))

    h = max(abs(psi_hat) * 0.05, 1e-4)
    steps = psi_hat + h * 2.0 ** np.arange(-3, 40)
    steps = steps[steps < c0 * SIGMA_MAX]
    vals = prof(steps)
    k = np.argmax(vals > limit) if np.any(vals > limit) else None
    hi = None if k is None else cross(psi_hat if k == 0 else steps[k - 1], steps[k])
    if psi_hat <= 0 or prof([0.0])[0] <= limit:
        lo = 0.0
    else:
        downs = psi_hat - h * 2.0 ** np.arange(-3, 40)
        downs = np.concatenate([downs[downs > 0], [0.0]])
        vals = prof(downs)
        k = int(np.argmax(vals > limit))
        lo = cross(psi_hat if k == 0 else downs[k - 1], downs[k])
    return lo, hi, rmin


def fit_log(samples, kappa_free=True, a=0.0, target=TARGET_N, level=0.95):
    """The log estimator with hygiene: see the module docstring. samples:
    {threads: [tokens/s per rep]}. Returns a plain dict (fit.json)."""
    ns = sorted(samples)
    model = "usl" if kappa_free else "amdahl"
    out = {"model": model, "estimator": "log", "amortised_share": a, "threads_used": ns,
           "reps": [len(samples[n]) for n in ns], "status": "not determined"}
    if len(ns) < 3:
        out["reason"] = (f"{len(ns)} usable thread count{'s' if len(ns) != 1 else ''} "
                         f"({', '.join(map(str, ns)) or 'none'}); a fit needs at least 3")
        return out
    d = LogData(samples)
    p = 3 if kappa_free else 2
    dof = d.n_obs - p
    if dof <= 0:
        out["reason"] = f"{d.n_obs} observations for {p} parameters: no residual degrees of freedom"
        return out
    s, k, lam, rss, act, r = _fit_ls(d, a, kappa_free)
    s2 = rss / dof
    out.update({"sigma": s, "kappa": k, "lambda_tokens_per_s": lam, "n_obs": d.n_obs, "dof": dof,
                "resid_sd_log": math.sqrt(s2)})
    names = ["sigma", "kappa"] if kappa_free else ["sigma"]
    out["at_lower_bound"] = [nm for nm, f in zip(names, act) if f < 0]
    at_upper = [nm for nm, f in zip(names, act) if f > 0]
    # lack of fit: residuals against the spread of the reps at each count
    lof = None
    if d.n_obs > d.m and d.m > p and d.ss_pe > 0:
        df1, df2 = d.m - p, d.n_obs - d.m
        F = ((rss - d.ss_pe) / df1) / (d.ss_pe / df2)
        lof = {"F": F, "df": [df1, df2], "p": stats.f_sf(F, df1, df2)}
    out["lack_of_fit"] = lof
    if not (s2 > 1e-18):
        out["reason"] = "the residuals are zero: no spread to set an interval from"
        return out
    if at_upper:
        out["status"], out["reason"] = "does not fit", f"{', '.join(at_upper)} at its upper bound"
        return out
    if lof and lof["p"] < LOF_ALPHA:
        why = (f"residuals larger than the spread of the reps (lack-of-fit F = {lof['F']:.3g}, "
               f"p = {lof['p']:.2g} < {LOF_ALPHA})")
        if out["at_lower_bound"]:
            why += (f"; {' and '.join(out['at_lower_bound'])} pinned at 0: the data are shaped unlike "
                    f"the model (e.g. superlinear)")
        out["status"], out["reason"] = "does not fit", why
        return out
    # Jacobian standard errors (as R usl reports them), none at a bound
    J = r.jac                       # of the rep-weighted residuals: every rep an observation
    try:
        cov = np.linalg.inv(J.T @ J) * s2
        se = np.sqrt(np.maximum(np.diag(cov), 0))
    except np.linalg.LinAlgError:
        se = np.full(p, np.nan)
    for i, nm in enumerate(names):
        out[nm + "_se"] = None if (nm in out["at_lower_bound"] or not np.isfinite(se[i + 1])) else float(se[i + 1])
    # the speedup at the target: profile interval of psi
    c0, c1 = target - 1.0, target * (target - 1.0)
    psi = c0 * s + c1 * k
    tq = stats.t_quantile(0.5 + level / 2, dof)
    lo, hi, rmin = profile_interval(d, a, kappa_free, target, psi, rss, s2 * tq * tq)
    out["target_threads"] = target
    out["psi"] = psi
    out["speedup_target"] = float(speedup_of_psi(target, psi, a))
    if hi is None or not (hi > lo):
        out["status"], out["reason"] = "not determined", "the profile of the speedup does not close"
        return out
    out["psi_ci"] = [lo, hi]
    out["speedup_target_ci"] = [float(speedup_of_psi(target, hi, a)), float(speedup_of_psi(target, lo, a))]
    out["level"] = level
    out["status"] = "fit"
    return out


def band(fit, samples, grid, level=0.95):
    """Pointwise profile intervals of the speedup over grid (the same method as
    the target's interval), for the plot: (lo, hi) arrays, or None."""
    if fit.get("status") != "fit":
        return None
    d = LogData(samples)
    kf, a = fit["model"] == "usl", fit["amortised_share"]
    s2 = fit["resid_sd_log"] ** 2
    tq = stats.t_quantile(0.5 + level / 2, fit["dof"])
    lo, hi = [], []
    for n in grid:
        if n <= 1:
            lo.append(1.0), hi.append(1.0)
            continue
        c0, c1 = n - 1.0, n * (n - 1.0)
        psi = c0 * fit["sigma"] + c1 * fit.get("kappa", 0.0)
        rss = s2 * fit["dof"]
        pl, ph, _ = profile_interval(d, a, kf, n, psi, rss, s2 * tq * tq, t_grid=33)
        lo.append(float(speedup_of_psi(n, ph, a)) if ph is not None else float("nan"))
        hi.append(float(speedup_of_psi(n, pl, a)))
    return np.array(lo), np.array(hi)

# ----------------------------------------------------------------------------
# the reference implementations' estimators


def fit_nls_throughput(n, x):
    """R usl's estimator (usl 2.0+): X = gamma N / (1 + alpha (N-1) + beta N (N-1))
    by nonlinear least squares on X itself, start gamma = max(X/N), alpha =
    0.01, beta = 1e-4, bounds gamma >= 0, 0 <= alpha, beta <= 1. Every value
    of x is an observation. Returns gamma, alpha, beta, their standard errors
    (Jacobian, residual variance RSS / (n - 3): R usl's summary), the residual
    standard error and its degrees of freedom."""
    n, x = np.asarray(n, float), np.asarray(x, float)

    def fun(p):
        return p[0] * n / usl_den(n, p[1], p[2]) - x

    def jac(p):
        den = usl_den(n, p[1], p[2])
        return np.stack([n / den, -p[0] * n * (n - 1) / den ** 2, -p[0] * n * n * (n - 1) / den ** 2], axis=1)

    r = least_squares(fun, [float(np.max(x / n)), 0.01, 1e-4], jac=jac, bounds=([0, 0, 0], [np.inf, 1, 1]),
                      method="trf", x_scale="jac", xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=2000)
    dof = len(n) - 3
    rv = float(r.fun @ r.fun) / dof if dof > 0 else float("nan")
    try:
        se = np.sqrt(np.diag(np.linalg.inv(r.jac.T @ r.jac)) * rv)
    except np.linalg.LinAlgError:
        se = np.full(3, np.nan)
    g, al, be = (float(v) for v in r.x)
    return {"estimator": "nls", "gamma": g, "alpha": al, "beta": be,
            "gamma_se": float(se[0]), "alpha_se": float(se[1]), "beta_se": float(se[2]),
            "resid_se": math.sqrt(rv) if dof > 0 else None, "dof": dof,
            "at_bound": [nm for nm, f in zip(("gamma", "alpha", "beta"), r.active_mask) if f != 0]}


def r_usl_confint(fit, n_obs, level=0.95):
    """The interval R usl's confint() prints (usl 2.0+, R/confint.R):
    estimate +- se * qt(level, n - 1), a one-sided quantile, so its 95% is a
    90% two-sided interval. Here only to check the standard errors against the
    package's published output; the analysis does not use it."""
    q = stats.t_quantile(level, n_obs - 1)
    return {nm: [fit[nm] - q * fit[nm + "_se"], fit[nm] + q * fit[nm + "_se"]] for nm in ("alpha", "beta", "gamma")}


def fit_gunther_quadratic(n, x):
    """usl 1.x's default method (Guerrilla Capacity Planning, 5.2.3): with
    C(N) = X(N) / X(1) and N = 1 present, linear least squares (numpy lstsq)
    of N/C(N) - 1 = kappa (N-1)^2 + (sigma + kappa)(N-1) through the origin."""
    n, x = np.asarray(n, float), np.asarray(x, float)
    x1 = x[n == 1]
    if not len(x1):
        raise ValueError("the quadratic method needs a measurement at N = 1")
    c = x / x1.mean()
    u = n - 1
    (qa, qb), *_ = np.linalg.lstsq(np.stack([u * u, u], axis=1), n / c - 1, rcond=None)
    return {"estimator": "gunther-quadratic", "sigma": float(qb - qa), "kappa": float(qa), "scale": float(x1.mean())}
