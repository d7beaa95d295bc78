"""Many independent CMA-ES searches advanced together: one kernel call samples, and one updates, all of them.

Each search has its own dimension, population, step size, random stream (xoshiro256**, seeded from its seed
alone) and state; every kernel loops over searches and touches only a search's own rows and state, so a
search's trajectory does not depend on what else is in the batch. The update is the (mu/mu_w, lambda) CMA-ES
with active (negative-weight) covariance update of Hansen's tutorial (arXiv:1604.00772, Table 1), the
eigendecomposition done lazily (every ``lambda / (c1 + cmu) / n / 10`` generations), and the stopping rules
pycma applies to these searches by default: tolfun (current and recent best-fitness range), tolx, flat fitness
(more than one generation with the best equal to the 75th percentile), condition number of C above 1e14 and
"no effect" of a coordinate step. pycma's ``maxstd`` cap (per coordinate standard deviation <= 1/3 of the unit
box, through a coordinate-wise scaling) is kept too. Genotypes are unbounded; ``mapping.unit_box`` maps them
into [0, 1] as pycma's bound transformation does. Restarts (IPOP: a uniform point in [0, 1], population
doubled) are drawn from the search's own stream.
"""
from __future__ import annotations

import math

import numpy as np
from cost_model.numba_cache import njit

#: stopping thresholds (pycma's options of the same names, as ``mapping.search`` sets them)
TOLFUN, TOLX = 1e-4, 1e-4
TOLCONDITIONCOV = 1e14
#: per-coordinate standard deviation cap (pycma's ``maxstd``: the unit box's range / 3)
MAXSTD = 1.0 / 3.0
#: the [0, 1] box transformation's quadratic margins (pycma's BoundTransform([0, 1]): max(1, |bound|) / 20)
BOX_MARGIN = 0.05

def default_popsize(dim: int) -> int:
    """pycma's default population for ``dim`` genes."""
    return 4 + int(3 * math.log(dim))


# --- random streams ------------------------------------------------------------------------------------
@njit(cache=True, inline="always")
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@njit(cache=True)
def _splitmix(x):
    x = x + np.uint64(0x9E3779B97F4A7C15)
    z = x
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x, z ^ (z >> np.uint64(31))


@njit(cache=True)
def seed_streams(seeds, rng):
    """rng uint64[S, 4] from seeds int64[S] (splitmix64, as xoshiro's authors recommend)."""
    for s in range(seeds.shape[0]):
        x = np.uint64(seeds[s]) ^ np.uint64(0x6E61617363)
        for j in range(4):
            x, rng[s, j] = _splitmix(x)


@njit(cache=True, inline="always")
def _next(rng, s):
    """xoshiro256** step of stream ``s``."""
    s0, s1, s2, s3 = rng[s, 0], rng[s, 1], rng[s, 2], rng[s, 3]
    result = _rotl(s1 * np.uint64(5), 7) * np.uint64(9)
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    rng[s, 0], rng[s, 1], rng[s, 2], rng[s, 3] = s0, s1, s2, s3
    return result


@njit(cache=True, inline="always")
def _uniform(rng, s):
    """A double in [0, 1) from stream ``s``."""
    return float(_next(rng, s) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True, inline="always")
def _normal(rng, s):
    """A standard normal from stream ``s`` (Box-Muller, one value per two uniforms)."""
    u = 1.0 - _uniform(rng, s)  # (0, 1]
    v = _uniform(rng, s)
    return math.sqrt(-2.0 * math.log(u)) * math.cos(2.0 * math.pi * v)


@njit(cache=True)
def uniform_rows(owner, dim, rng, out):
    """out[r, :dim] uniform in [0, 1) from the stream of search ``owner[r]`` (rows in order)."""
    for r in range(owner.shape[0]):
        s = owner[r]
        for j in range(dim[s]):
            out[r, j] = _uniform(rng, s)


# --- sampling ------------------------------------------------------------------------------------------
@njit(cache=True)
def sample_rows(owner, dim, mean, sigma, svec, B, Dd, rng, Z, Y, X):
    """For each row r of search s = owner[r]: z ~ N(0, I), y = B diag(D) z, x = mean + sigma svec * y.

    Rows of one search draw from its stream in row order; columns past a search's dimension are 0.
    """
    for r in range(owner.shape[0]):
        s = owner[r]
        n = dim[s]
        for j in range(n):
            Z[r, j] = _normal(rng, s)
        for i in range(n):
            acc = 0.0
            for j in range(n):
                acc += B[s, i, j] * (Dd[s, j] * Z[r, j])
            Y[r, i] = acc
            X[r, i] = mean[s, i] + sigma[s] * svec[s, i] * acc
        for j in range(n, Z.shape[1]):
            Z[r, j] = Y[r, j] = X[r, j] = 0.0


# --- the update ----------------------------------------------------------------------------------------
@njit(cache=True)
def _weights(lam, n):
    """(weights[lam] — positive ones sum to 1, negative ones scaled as in the tutorial —, mu, mueff)."""
    mu = lam // 2
    w = np.empty(lam)
    for i in range(lam):
        w[i] = math.log((lam + 1) / 2.0) - math.log(i + 1.0)
    spos = sq = sneg = sqn = 0.0
    for i in range(lam):
        if i < mu:
            spos += w[i]
            sq += w[i] * w[i]
        elif w[i] < 0:
            sneg -= w[i]
            sqn += w[i] * w[i]
    mueff = spos * spos / sq
    c1, cmu = _rates(n, mueff)
    alpha = 1.0 + c1 / cmu
    if sqn > 0:
        alpha = min(alpha, 1.0 + 2.0 * (sneg * sneg / sqn) / (mueff + 2.0))
    alpha = min(alpha, (1.0 - c1 - cmu) / (n * cmu))
    for i in range(lam):
        if i < mu:
            w[i] /= spos
        elif w[i] < 0:
            w[i] *= alpha / sneg
        else:
            w[i] = 0.0
    return w, mu, mueff


@njit(cache=True, inline="always")
def _rates(n, mueff):
    c1 = 2.0 / ((n + 1.3) ** 2 + mueff)
    cmu = min(1.0 - c1, 2.0 * (mueff - 2.0 + 1.0 / mueff) / ((n + 2.0) ** 2 + mueff))
    return c1, cmu


@njit(cache=True)
def _decompose(C, B, Dd, s, n):
    """B, D of C[s] (eigh); a non-positive eigenvalue is lifted by adding to the diagonal, as pycma does."""
    ev, vec = np.linalg.eigh(np.ascontiguousarray(C[s, :n, :n]))
    lo, hi = ev[0], ev[n - 1]
    if lo <= 0.0:
        lift = -lo + 1e-14 * max(hi, 1e-300)
        for i in range(n):
            C[s, i, i] += lift
        ev = ev + lift
    for i in range(n):
        Dd[s, i] = math.sqrt(ev[i])
        for j in range(n):
            B[s, i, j] = vec[i, j]


@njit(cache=True)
def tell_searches(searches, offsets, fit, Z, Y, dim, lam, mean, sigma, svec, C, B, Dd, ps, pc, gen, eig_gen,
                  flat, hist, hist_len, stop):
    """Update searches[k] from its rows offsets[k] .. + lam (told fitness ``fit``, lower is better); sets
    stop[s] = the number of the stopping rule that fired (0: none; 1 tolfun, 2 tolx, 3 flat fitness,
    4 condition, 5 no effect)."""
    for k in range(searches.shape[0]):
        s = searches[k]
        n, L, off = dim[s], lam[s], offsets[k]
        f = fit[off:off + L]
        idx = np.argsort(f, kind="mergesort")
        w, mu, mueff = _weights(L, n)
        c1, cmu = _rates(n, mueff)
        cs = (mueff + 2.0) / (n + mueff + 5.0)
        damps = 1.0 + 2.0 * max(0.0, math.sqrt((mueff - 1.0) / (n + 1.0)) - 1.0) + cs
        cc = (4.0 + mueff / n) / (n + 4.0 + 2.0 * mueff / n)
        chi = math.sqrt(n) * (1.0 - 1.0 / (4.0 * n) + 1.0 / (21.0 * n * n))
        yw = np.zeros(n)
        zw = np.zeros(n)
        for i in range(mu):
            r = off + idx[i]
            for j in range(n):
                yw[j] += w[i] * Y[r, j]
                zw[j] += w[i] * Z[r, j]
        sg = sigma[s]
        for j in range(n):
            mean[s, j] += sg * svec[s, j] * yw[j]
        # step-size path: C^-1/2 <y>_w = B <z>_w
        a = math.sqrt(cs * (2.0 - cs) * mueff)
        norm = 0.0
        for i in range(n):
            acc = 0.0
            for j in range(n):
                acc += B[s, i, j] * zw[j]
            ps[s, i] = (1.0 - cs) * ps[s, i] + a * acc
            norm += ps[s, i] * ps[s, i]
        norm = math.sqrt(norm)
        gen[s] += 1
        hsig = norm / math.sqrt(1.0 - (1.0 - cs) ** (2 * gen[s])) / chi < 1.4 + 2.0 / (n + 1.0)
        b = math.sqrt(cc * (2.0 - cc) * mueff) if hsig else 0.0
        for j in range(n):
            pc[s, j] = (1.0 - cc) * pc[s, j] + b * yw[j]
        wsum = 0.0
        for i in range(L):
            wsum += w[i]
        c1a = c1 * (1.0 - (0.0 if hsig else cc * (2.0 - cc)))
        decay = 1.0 - c1a - cmu * wsum
        for i in range(n):
            for j in range(n):
                C[s, i, j] = decay * C[s, i, j] + c1 * pc[s, i] * pc[s, j]
        for i in range(L):
            wi = w[i]
            if wi == 0.0:
                continue
            r = off + idx[i]
            if wi < 0.0:  # active update: scaled by n / ||C^-1/2 y||^2 = n / ||z||^2
                zz = 0.0
                for j in range(n):
                    zz += Z[r, j] * Z[r, j]
                wi *= n / zz
            wi *= cmu
            for p in range(n):
                yp = wi * Y[r, p]
                for q in range(n):
                    C[s, p, q] += yp * Y[r, q]
        sigma[s] = sg * math.exp(min(1.0, (cs / damps) * (norm / chi - 1.0)))
        if gen[s] - eig_gen[s] >= L / (c1 + cmu) / n / 10.0:
            _decompose(C, B, Dd, s, n)
            eig_gen[s] = gen[s]
        # pycma's maxstd: a coordinate's standard deviation above the cap scales that coordinate down
        for j in range(n):
            std = sigma[s] * svec[s, j] * math.sqrt(C[s, j, j])
            if std > MAXSTD:
                svec[s, j] *= MAXSTD / std
        # --- stopping rules ---
        best, worst = f[idx[0]], f[idx[L - 1]]
        cap = hist.shape[1]
        limit = min(cap, int(10 + 30 * n / L) + 1)  # the last 11 + 30 n / lambda bests (pycma: one fewer)
        for j in range(min(hist_len[s], limit - 1), 0, -1):
            hist[s, j] = hist[s, j - 1]
        hist[s, 0] = best
        hist_len[s] = min(hist_len[s] + 1, limit)
        hmin = hmax = best
        for j in range(hist_len[s]):
            hmin = min(hmin, hist[s, j])
            hmax = max(hmax, hist[s, j])
        if best < f[idx[int(0.75 * L)]]:
            flat[s] = 0
        else:
            flat[s] += 1
        small = True
        no_effect = False
        for j in range(n):
            std = sigma[s] * svec[s, j] * math.sqrt(C[s, j, j])
            if std >= TOLX or abs(sigma[s] * svec[s, j] * pc[s, j]) >= TOLX:
                small = False
            if mean[s, j] == mean[s, j] + 0.2 * std:
                no_effect = True
        dmin, dmax = Dd[s, 0], Dd[s, 0]
        for j in range(n):
            dmin = min(dmin, Dd[s, j])
            dmax = max(dmax, Dd[s, j])
        if worst - best < TOLFUN and hmax - hmin < TOLFUN:
            stop[s] = 1
        elif small:
            stop[s] = 2
        elif flat[s] > 1:
            stop[s] = 3
        elif dmax > math.sqrt(TOLCONDITIONCOV) * dmin:
            stop[s] = 4
        elif no_effect:
            stop[s] = 5
        else:
            stop[s] = 0


@njit(cache=True, inline="always")
def _box_inverse(v):
    """The genotype pycma's [0, 1] box transformation maps to ``v`` (its inverse, for v in [0, 1])."""
    a = BOX_MARGIN
    if v < a:
        return -a + 2.0 * math.sqrt(a * v)
    if v < 1.0 - a:
        return v
    return 1.0 + a - 2.0 * math.sqrt(a * (1.0 - v))


@njit(cache=True)
def start_searches(searches, starts, dim, mean, sigma, sigma0, svec, C, B, Dd, ps, pc, gen, eig_gen, flat,
                   hist_len):
    """A fresh CMA-ES state for searches[k] from the phenotype starts[k] in [0, 1]^dim (identity C)."""
    for k in range(searches.shape[0]):
        s = searches[k]
        n = dim[s]
        for i in range(n):
            mean[s, i] = _box_inverse(min(1.0, max(0.0, starts[k, i])))
            svec[s, i] = 1.0
            ps[s, i] = pc[s, i] = 0.0
            Dd[s, i] = 1.0
            for j in range(n):
                C[s, i, j] = B[s, i, j] = 1.0 if i == j else 0.0
        sigma[s] = sigma0[s]
        gen[s] = eig_gen[s] = flat[s] = hist_len[s] = 0


class BatchedCMA:
    """The states of ``S`` CMA-ES searches over genes in [0, 1] (genotypes unbounded; see module doc).

    ``dims[s]``, ``popsizes[s]`` (None: pycma's default), ``sigma0s[s]``, ``seeds[s]``; ``starts[s]`` the
    phenotype each starts from. ``ask(searches)`` samples a generation of the given searches, ``tell``
    updates them; ``restart(searches)`` starts each again from a uniform point of its stream with its
    population doubled (IPOP).
    """

    def __init__(self, dims, popsizes, sigma0s, seeds, starts):
        self.S = len(dims)
        self.dim = np.asarray(dims, dtype=np.int64)
        self.dmax = int(self.dim.max()) if self.S else 1
        self.lam = np.array([p or default_popsize(int(d)) for p, d in zip(popsizes, dims)], dtype=np.int64)
        self.sigma0 = np.asarray(sigma0s, dtype=np.float64)
        S, D = self.S, self.dmax
        self.mean = np.zeros((S, D))
        self.sigma = np.zeros(S)
        self.svec = np.ones((S, D))
        self.C = np.zeros((S, D, D))
        self.B = np.zeros((S, D, D))
        self.Dd = np.ones((S, D))
        self.ps = np.zeros((S, D))
        self.pc = np.zeros((S, D))
        self.gen = np.zeros(S, dtype=np.int64)
        self.eig_gen = np.zeros(S, dtype=np.int64)
        self.flat = np.zeros(S, dtype=np.int64)
        self.hist = np.zeros((S, 10 + 30 * D // 4 + 2))
        self.hist_len = np.zeros(S, dtype=np.int64)
        self.stop = np.zeros(S, dtype=np.int64)
        self.restarts = np.zeros(S, dtype=np.int64)
        self.rng = np.zeros((S, 4), dtype=np.uint64)
        seed_streams(np.asarray(seeds, dtype=np.int64), self.rng)
        x0 = np.zeros((S, D))
        for s, start in enumerate(starts):
            x0[s, :len(start)] = start
        self._start(np.arange(S, dtype=np.int64), x0)

    def _start(self, searches: np.ndarray, x0: np.ndarray) -> None:
        start_searches(searches, x0, self.dim, self.mean, self.sigma, self.sigma0, self.svec, self.C, self.B,
                       self.Dd, self.ps, self.pc, self.gen, self.eig_gen, self.flat, self.hist_len)

    def rows(self, searches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(owner of each row of a generation of ``searches``, each search's first row)."""
        lam = self.lam[searches]
        offsets = np.zeros(len(searches), dtype=np.int64)
        np.cumsum(lam[:-1], out=offsets[1:])
        return np.repeat(searches, lam), offsets

    def sample(self, owner: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(Z, Y, X) for rows owned by ``owner`` (see ``sample_rows``)."""
        B = len(owner)
        Z, Y, X = np.empty((B, self.dmax)), np.empty((B, self.dmax)), np.empty((B, self.dmax))
        sample_rows(owner, self.dim, self.mean, self.sigma, self.svec, self.B, self.Dd, self.rng, Z, Y, X)
        return Z, Y, X

    def tell(self, searches: np.ndarray, offsets: np.ndarray, fit: np.ndarray, Z: np.ndarray,
             Y: np.ndarray) -> np.ndarray:
        """Update ``searches`` from their generation; returns the stop codes of ``searches``."""
        tell_searches(searches, offsets, np.ascontiguousarray(fit, dtype=np.float64), Z, Y, self.dim, self.lam,
                      self.mean, self.sigma, self.svec, self.C, self.B, self.Dd, self.ps, self.pc, self.gen,
                      self.eig_gen, self.flat, self.hist, self.hist_len, self.stop)
        return self.stop[searches]

    def restart(self, searches: np.ndarray) -> None:
        """IPOP: each of ``searches`` from a uniform point of its own stream, population doubled."""
        x0 = np.zeros((len(searches), self.dmax))
        uniform_rows(searches, self.dim, self.rng, x0)
        self.lam[searches] *= 2
        self.restarts[searches] += 1
        self._start(searches, x0)
