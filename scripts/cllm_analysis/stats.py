"""stats.py - the statistics the analysis uses, on scipy: Student t
quantiles, the Hodges-Lehmann ratio with its Mann-Whitney (Moses) interval
(every speedup and compare ratio the analysis prints), the Welch interval
of a ratio of geometric means (the coverage checks of tests), the
Mann-Whitney U test (exact where scipy can be), the smallest p an exact test
of given sizes can reach and the reps it takes to reach alpha, Karp-Flatt,
and a percentile bootstrap of a function of several samples
(scipy.stats.bootstrap).

Pure functions of numbers and arrays; no files, no printing.
"""
import math

import numpy as np
from scipy import stats as st


def t_quantile(q, dof):
    """Student t quantile (nan for dof <= 0)."""
    return float(st.t.ppf(q, dof)) if dof > 0 else float("nan")


def f_sf(x, d1, d2):
    """Upper tail of the F distribution (lack-of-fit test)."""
    return float(st.f.sf(x, d1, d2))


def geo_ratio_ci(base, cand, level=0.95):
    """Ratio of geometric means cand / base of two samples of positive values
    with the Welch t interval on log scale (unequal variances,
    Welch-Satterthwaite degrees of freedom; written here because Debian 12's
    scipy 1.10 gives ttest_ind no confidence_interval, and vectorised for
    the coverage checks). Returns (ratio, [lo, hi], dof);
    the interval is None when a side has fewer than 2 values or no spread.
    Vectorised: base (..., m) and cand (..., n) broadcast over the leading axes."""
    lb, lc = np.log(np.asarray(base, float)), np.log(np.asarray(cand, float))
    m, n = lb.shape[-1], lc.shape[-1]
    d = lc.mean(axis=-1) - lb.mean(axis=-1)
    if m < 2 or n < 2:
        return np.exp(d), None, None
    vb, vc = lb.var(axis=-1, ddof=1) / m, lc.var(axis=-1, ddof=1) / n
    se2 = vb + vc
    with np.errstate(divide="ignore", invalid="ignore"):
        dof = se2 ** 2 / (vb ** 2 / (m - 1) + vc ** 2 / (n - 1))
    ok = se2 > 0
    dof = np.where(ok, dof, 1.0)
    h = st.t.ppf(0.5 + level / 2, dof) * np.sqrt(se2)
    lo, hi = np.exp(d - h), np.exp(d + h)
    if np.ndim(d) == 0:
        return float(np.exp(d)), ([float(lo), float(hi)] if ok else None), (float(dof) if ok else None)
    return np.exp(d), np.stack([np.where(ok, lo, np.nan), np.where(ok, hi, np.nan)], axis=-1), np.where(ok, dof, np.nan)


def _mwu_counts(m, n):
    """How many of the C(m+n, m) orderings of two samples of sizes m and n
    give each Mann-Whitney U = 0..m*n: the coefficients of the Gaussian
    binomial [m+n choose m]_q, prod_{i=1..m} (1 - q^(n+i)) / (1 - q^i), in
    exact integers (scipy keeps its exact U distribution private)."""
    c = [1] + [0] * (m * n + m)
    deg = 0
    for i in range(1, m + 1):
        # multiply by (1 - q^(n+i)) ...
        for u in range(deg + n + i, n + i - 1, -1):
            c[u] -= c[u - n - i]
        deg += n + i
        # ... and divide by (1 - q^i): exact, a running sum with stride i
        for u in range(i, deg + 1):
            c[u] += c[u - i]
        deg -= i
    return c[:m * n + 1]


def hl_ratio_ci(base, cand, level=0.95):
    """The speedup cand / base of two samples of positive values as ONE
    quantity with its interval: the Hodges-Lehmann estimate of the ratio
    (the median of the m*n pairwise ratios cand_j / base_i, a shift on log
    scale) and the distribution-free interval that inverts the Mann-Whitney
    test (Moses; Hollander & Wolfe, Nonparametric Statistical Methods,
    3.3): the k-th smallest and k-th largest pairwise ratio, k the largest
    with P(U < k) <= (1 - level) / 2. The estimate is the middle order
    statistic of the same pairwise ratios, so the interval always contains
    it; it is robust to the slow outlier reps a shared machine produces (a
    ratio of medians or of geometric means is not, and the two disagree on
    bimodal reps); and its test is the Mann-Whitney U the compare gate's p
    values come from. Exact U distribution for m + n <= 200, the normal
    approximation past that. Returns (ratio, [lo, hi], coverage): interval
    and coverage None when a side is empty or when no interval reaches
    `level` at these sizes (the exact coverage of [min, max] is
    1 - 2 / C(m+n, m): 3 and 3 reps reach 90%, 4 and 4 reach 97%)."""
    b, c = np.log(np.asarray(base, float)), np.log(np.asarray(cand, float))
    m, n = len(b), len(c)
    if not m or not n:
        return None, None, None
    d = np.sort((c[None, :] - b[:, None]).ravel())
    N = m * n
    est = float(np.exp(np.median(d)))
    alpha2 = (1 - level) / 2
    if m + n <= 200:
        counts = _mwu_counts(m, n)
        total = math.comb(m + n, m)
        k, below = 0, 0              # below = #(U < k) orderings
        while k < N and (below + counts[k]) / total <= alpha2:
            below += counts[k]
            k += 1
        cover = 1 - 2 * below / total
    else:
        z = float(st.norm.ppf(1 - alpha2))
        k = int(math.floor(N / 2 - z * math.sqrt(m * n * (m + n + 1) / 12)))
        cover = level
    if k < 1:
        return est, None, None
    lo, hi = float(np.exp(d[k - 1])), float(np.exp(d[N - k]))
    return est, [lo, hi], float(cover)


def mann_whitney(x, y):
    """Mann-Whitney U of x against y (scipy.stats.mannwhitneyu): U = #(x > y)
    + ties/2, one-sided p for 'x larger' and 'x smaller', two-sided p.
    Exact (method='exact') when there are no ties and both sides are small
    enough for scipy's exact distribution (<= 50 each), else the normal
    approximation with the tie correction; 'exact' says which."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) == 0 or len(y) == 0:
        return {"U": None, "p_greater": None, "p_less": None, "p_two": None, "exact": False}
    allv = np.concatenate([x, y])
    exact = len(np.unique(allv)) == len(allv) and len(x) <= 50 and len(y) <= 50
    method = "exact" if exact else "asymptotic"
    g = st.mannwhitneyu(x, y, alternative="greater", method=method)
    l = st.mannwhitneyu(x, y, alternative="less", method=method)
    t = st.mannwhitneyu(x, y, alternative="two-sided", method=method)
    return {"U": float(g.statistic), "p_greater": float(g.pvalue), "p_less": float(l.pvalue),
            "p_two": float(t.pvalue), "exact": exact}


def min_one_sided_p(m, n):
    """The smallest one-sided p the exact Mann-Whitney test of sizes m, n can
    give: every value of one side above every value of the other, 1 / C(m+n, m)."""
    return 1.0 / math.comb(m + n, m) if m and n else 1.0


def reps_needed(alpha, have_other=None):
    """The fewest reps per side (equal sizes; or, given the other side's
    count, this side's) for which the exact test can reach p < alpha."""
    for k in range(1, 1000):
        if min_one_sided_p(k, have_other if have_other else k) < alpha:
            return k
    return None


def karp_flatt(s, n):
    """Serial fraction e = (1/s - 1/n) / (1 - 1/n) from speedup s at n threads
    (None at n = 1 or without a speedup)."""
    return (1.0 / s - 1.0 / n) / (1.0 - 1.0 / n) if n > 1 and s and s > 0 else None


def cv(x):
    """Coefficient of variation (sample sd / mean); None under 2 values."""
    x = np.asarray(x, float)
    return float(x.std(ddof=1) / x.mean()) if len(x) >= 2 and x.mean() > 0 else None


def bootstrap_percentile(samples, statistic, resamples, seed, level=0.95):
    """Percentile bootstrap interval of statistic(*samples), each sample a
    sequence of per-rep values or rows (resampled on its own, with
    replacement; scipy.stats.bootstrap). None when a sample has fewer than 2
    entries; a vector-valued statistic gives a list of intervals."""
    if resamples <= 0 or any(len(s) < 2 for s in samples):
        return None
    idx = [np.arange(len(s)) for s in samples]
    arrs = [np.asarray(s, float) for s in samples]

    def stat(*ii):
        return statistic(*[a[np.asarray(i, int)] for a, i in zip(arrs, ii)])

    with np.errstate(all="ignore"):
        r = st.bootstrap(idx, stat, n_resamples=resamples, vectorized=False, paired=False,
                         confidence_level=level, method="percentile", random_state=np.random.default_rng(seed))
    lo, hi = np.asarray(r.confidence_interval.low, float), np.asarray(r.confidence_interval.high, float)
    if lo.ndim:                      # a vector-valued statistic: one interval per entry
        return [[float(a), float(b)] if np.isfinite(a) and np.isfinite(b) else None for a, b in zip(lo, hi)]
    return [float(lo), float(hi)] if np.isfinite(lo) and np.isfinite(hi) else None
