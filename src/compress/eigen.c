/* eigen.c — eigen-decomposition of a symmetric matrix in double precision, for the low-rank
 * method (lowrank.c): Householder reduction to tridiagonal form, then the implicit QL algorithm
 * with shifts, accumulating the eigenvectors (EISPACK's tred2 / tql2, in the form of the JAMA
 * library's public-domain port). O(n^3): a 576 x 576 matrix takes a fraction of a second; no
 * library (LAPACK) needed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compress/compress.h"
#include "core/alloc.h"
#include "core/error.h"

/* Householder tridiagonalisation of V (in place: V becomes the orthogonal transform), diagonal d,
 * sub-diagonal e. */
static void tred2(size_t n, double *V, double *d, double *e) {
#define A(i, j) V[(i) * n + (j)]
    for (size_t j = 0; j < n; j++) d[j] = A(n - 1, j);
    for (size_t i = n - 1; i > 0; i--) {
        double scale = 0, h = 0;
        for (size_t k = 0; k < i; k++) scale += fabs(d[k]);
        if (scale == 0.0) {
            e[i] = d[i - 1];
            for (size_t j = 0; j < i; j++) {
                d[j] = A(i - 1, j);
                A(i, j) = 0;
                A(j, i) = 0;
            }
        } else {
            for (size_t k = 0; k < i; k++) {
                d[k] /= scale;
                h += d[k] * d[k];
            }
            double f = d[i - 1], g = sqrt(h);
            if (f > 0) g = -g;
            e[i] = scale * g;
            h -= f * g;
            d[i - 1] = f - g;
            for (size_t j = 0; j < i; j++) e[j] = 0;
            for (size_t j = 0; j < i; j++) {
                f = d[j];
                A(j, i) = f;
                g = e[j] + A(j, j) * f;
                for (size_t k = j + 1; k <= i - 1; k++) {
                    g += A(k, j) * d[k];
                    e[k] += A(k, j) * f;
                }
                e[j] = g;
            }
            f = 0;
            for (size_t j = 0; j < i; j++) {
                e[j] /= h;
                f += e[j] * d[j];
            }
            const double hh = f / (h + h);
            for (size_t j = 0; j < i; j++) e[j] -= hh * d[j];
            for (size_t j = 0; j < i; j++) {
                f = d[j];
                g = e[j];
                for (size_t k = j; k <= i - 1; k++) A(k, j) -= (f * e[k] + g * d[k]);
                d[j] = A(i - 1, j);
                A(i, j) = 0;
            }
        }
        d[i] = h;
    }
    for (size_t i = 0; i + 1 < n; i++) { /* accumulate the transformations */
        A(n - 1, i) = A(i, i);
        A(i, i) = 1;
        const double h = d[i + 1];
        if (h != 0.0) {
            for (size_t k = 0; k <= i; k++) d[k] = A(k, i + 1) / h;
            for (size_t j = 0; j <= i; j++) {
                double g = 0;
                for (size_t k = 0; k <= i; k++) g += A(k, i + 1) * A(k, j);
                for (size_t k = 0; k <= i; k++) A(k, j) -= g * d[k];
            }
        }
        for (size_t k = 0; k <= i; k++) A(k, i + 1) = 0;
    }
    for (size_t j = 0; j < n; j++) {
        d[j] = A(n - 1, j);
        A(n - 1, j) = 0;
    }
    A(n - 1, n - 1) = 1;
    e[0] = 0;
}

/* Implicit QL on the tridiagonal (d, e), eigenvectors accumulated into V. 0 or -1 (no convergence). */
static int tql2(size_t n, double *V, double *d, double *e) {
    for (size_t i = 1; i < n; i++) e[i - 1] = e[i];
    e[n - 1] = 0;
    double f = 0, tst1 = 0;
    const double eps = ldexp(1.0, -52);
    for (size_t l = 0; l < n; l++) {
        tst1 = fmax(tst1, fabs(d[l]) + fabs(e[l]));
        size_t m = l;
        while (m < n && fabs(e[m]) > eps * tst1) m++;
        if (m == n) m = n - 1;
        if (m > l) {
            int iter = 0;
            do {
                if (++iter > 100) return -1;
                double g = d[l], p = (d[l + 1] - g) / (2.0 * e[l]), r = hypot(p, 1.0);
                if (p < 0) r = -r;
                d[l] = e[l] / (p + r);
                d[l + 1] = e[l] * (p + r);
                const double dl1 = d[l + 1];
                double h = g - d[l];
                for (size_t i = l + 2; i < n; i++) d[i] -= h;
                f += h;
                p = d[m];
                double c = 1, c2 = 1, c3 = 1, s = 0, s2 = 0;
                const double el1 = e[l + 1];
                for (size_t i = m; i-- > l;) {
                    c3 = c2;
                    c2 = c;
                    s2 = s;
                    g = c * e[i];
                    h = c * p;
                    r = hypot(p, e[i]);
                    e[i + 1] = s * r;
                    s = e[i] / r;
                    c = p / r;
                    p = c * d[i] - s * g;
                    d[i + 1] = h + s * (c * g + s * d[i]);
                    for (size_t k = 0; k < n; k++) {
                        h = A(k, i + 1);
                        A(k, i + 1) = s * A(k, i) + c * h;
                        A(k, i) = c * A(k, i) - s * h;
                    }
                }
                p = -s * s2 * c3 * el1 * e[l] / dl1;
                e[l] = s * p;
                d[l] = c * p;
            } while (fabs(e[l]) > eps * tst1);
        }
        d[l] += f;
        e[l] = 0;
    }
    for (size_t i = 0; i + 1 < n; i++) { /* ascending order */
        size_t k = i;
        double p = d[i];
        for (size_t j = i + 1; j < n; j++)
            if (d[j] < p) k = j, p = d[j];
        if (k != i) {
            d[k] = d[i];
            d[i] = p;
            for (size_t j = 0; j < n; j++) {
                const double t = A(j, i);
                A(j, i) = A(j, k);
                A(j, k) = t;
            }
        }
    }
    return 0;
#undef A
}

xf_status xf_cmp_eigen_sym(size_t n, double *V, double *w) {
    if (!n) return XF_OK;
    double *e = xf_malloc(n * sizeof *e);
    if (!e) return xf_error(XF_ERR_NOMEM, "out of memory in the eigen-decomposition of %zu x %zu", n, n);
    tred2(n, V, w, e);
    const int rc = tql2(n, V, w, e);
    free(e);
    return rc ? xf_error(XF_ERR_UNSUPPORTED, "eigen-decomposition of a %zu x %zu matrix did not converge", n, n) : XF_OK;
}
