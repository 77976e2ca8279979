// In-place optimizer updates: one pass over (param, grad, state...) per step, grid-stride, 16-byte
// vectors when every array is aligned. Each rule is the generic one from xpgrad/ops/optim.py, with
// the same association of operations; scalars arrive as h0..h8 (meanings listed per rule).
#include "common.cuh"

#define XPG_OPTIM_THREADS 256

// flags
#define XPG_HAS_S1 1         // the first state array is present
#define XPG_HAS_S2 2         // the second state array is present
#define XPG_NESTEROV 4
#define XPG_WEIGHT_DECAY 8   // L2 term added to the gradient
#define XPG_DECOUPLED 16     // AdamW: the parameter shrinks by h7 before the step
#define XPG_HAS_S3 32        // the third state array is present
#define XPG_RECTIFIED 64     // RAdam: rho_t > 5, the adaptive (rectified) step

// a * b rounded on its own: nvcc would fuse `s - a * a` into one FMA, which is inf where the
// generic rule's is inf - inf (NaN), and rounds otherwise where the difference is small (and
// `p - c * m` leaves a residue where the generic rule's is exactly 0)
__device__ __forceinline__ float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ double mul_rn(double a, double b) { return __dmul_rn(a, b); }
template <typename T> __device__ __forceinline__ T square_rn(T a) { return mul_rn(a, a); }

// NumPy's maximum: NaN if either is
template <typename T> __device__ __forceinline__ T largest(T a, T b) {
    return (b > a || b != b) ? b : a;
}

// the Adam family's weight decay: decoupled (p *= wd) or L2 (returns g + wd * p)
template <typename T>
__device__ __forceinline__ T decayed_grad(T& p, T g, T wd, int flags) {
    if (flags & XPG_DECOUPLED) p *= wd;
    else if (flags & XPG_WEIGHT_DECAY) g = g + wd * p;
    return g;
}

template <typename T> struct Hyper {
    T h0, h1, h2, h3, h4, h5, h6, h7, h8;
    int flags;
};

// h0 lr, h1 momentum, h2 weight decay; s1 velocity (optional)
struct Sgd {
    template <typename T>
    __device__ __forceinline__ static void step(T& p, T g, T& v, T&, T&, const Hyper<T>& h) {
        if (h.flags & XPG_WEIGHT_DECAY) g = g + h.h2 * p;
        if (!(h.flags & XPG_HAS_S1)) {
            p -= h.h0 * g;
            return;
        }
        v = v * h.h1 + g;
        p -= h.h0 * ((h.flags & XPG_NESTEROV) ? g + h.h1 * v : v);
    }
};

// h0 lr, h1 eps; s1 sum of squared gradients
struct Adagrad {
    template <typename T>
    __device__ __forceinline__ static void step(T& p, T g, T& acc, T&, T&, const Hyper<T>& h) {
        acc += g * g;
        p -= h.h0 * g / (xsqrt(acc) + h.h1);
    }
};

// h0 lr, h1 rho, h2 1 - rho, h3 eps; s1 running E[g^2], s2 running E[dx^2]
struct Adadelta {
    template <typename T>
    __device__ __forceinline__ static void step(T& p, T g, T& ag, T& adx, T&, const Hyper<T>& h) {
        ag = ag * h.h1 + h.h2 * g * g;
        const T delta = xsqrt(adx + h.h3) / xsqrt(ag + h.h3) * g;
        adx = adx * h.h1 + h.h2 * delta * delta;
        p -= h.h0 * delta;
    }
};

// h0 lr, h1 rho, h2 1 - rho, h3 momentum, h4 eps; s1 running E[g^2], s2 momentum (optional),
// s3 running E[g] (optional: centered, the root of the variance E[g^2] - E[g]^2)
struct Rmsprop {
    template <typename T>
    __device__ __forceinline__ static void step(T& p, T g, T& sq, T& mom, T& avg,
                                                const Hyper<T>& h) {
        sq = sq * h.h1 + h.h2 * g * g;
        T root;
        if (h.flags & XPG_HAS_S3) {
            avg = avg * h.h1 + h.h2 * g;
            root = xsqrt(sq - square_rn(avg));
        } else {
            root = xsqrt(sq);
        }
        const T s = g / (root + h.h4);
        if (h.flags & XPG_HAS_S2) {
            mom = mom * h.h3 + s;
            p -= h.h0 * mom;
        } else {
            p -= h.h0 * s;
        }
    }
};

// h0 lr / (1 - beta1^t), h1 beta1, h2 1 - beta1, h3 beta2, h4 1 - beta2, h5 sqrt(1 - beta2^t),
// h6 eps, h7 weight decay (added to the gradient) or 1 - lr * weight decay (decoupled);
// s1 first moment, s2 second moment, s3 largest second moment so far (optional: AMSGrad, which
// divides by its root)
struct Adam {
    template <typename T>
    __device__ __forceinline__ static void step(T& p, T g, T& m, T& v, T& v_max,
                                                const Hyper<T>& h) {
        g = decayed_grad(p, g, h.h7, h.flags);
        m = m * h.h1 + h.h2 * g;
        v = v * h.h3 + h.h4 * g * g;
        T top = v;
        if (h.flags & XPG_HAS_S3) {
            top = largest(v_max, v);
            v_max = top;
        }
        p -= h.h0 * m / (xsqrt(top) / h.h5 + h.h6);  // not sqrt(v / (1 - beta2^t)): overflows
    }
};

// h0 lr / (1 - beta1^t), h1 beta1, h2 1 - beta1, h3 beta2, h4 eps, h5 weight decay (L2);
// s1 first moment, s2 infinity norm u = max(beta2 * u, |g| + eps)
struct Adamax {
    template <typename T>
    __device__ __forceinline__ static void step(T& p, T g, T& m, T& u, T&, const Hyper<T>& h) {
        g = decayed_grad(p, g, h.h5, h.flags);
        m = m * h.h1 + h.h2 * g;
        u = largest(u * h.h3, xabs(g) + h.h4);
        p -= h.h0 * m / u;
    }
};

// h0 beta1, h1 1 - beta1, h2 beta2, h3 1 - beta2, h4 1 - beta2^t, h5 eps, h6 the factor of
// g / d, h7 the factor of m / d (xpgrad.ops.optim.nadam_coefficients), h8 weight decay (L2) or
// 1 - lr * weight decay (decoupled); s1 first moment, s2 second moment; d = sqrt(v / h4) + h5
struct Nadam {
    template <typename T>
    __device__ __forceinline__ static void step(T& p, T g, T& m, T& v, T&, const Hyper<T>& h) {
        g = decayed_grad(p, g, h.h8, h.flags);
        m = m * h.h0 + h.h1 * g;
        v = v * h.h2 + h.h3 * g * g;
        const T d = xsqrt(v / h.h4) + h.h5;
        p -= mul_rn(h.h6, g / d);
        p -= mul_rn(h.h7, m / d);
    }
};

// h0 the step's factor (xpgrad.ops.optim.radam_step_size), h1 beta1, h2 1 - beta1, h3 beta2,
// h4 1 - beta2, h5 eps, h6 weight decay as Nadam's h8; s1 first moment, s2 second moment.
// XPG_RECTIFIED: p -= h0 * m / (sqrt(v) + eps), else p -= h0 * m
struct Radam {
    template <typename T>
    __device__ __forceinline__ static void step(T& p, T g, T& m, T& v, T&, const Hyper<T>& h) {
        g = decayed_grad(p, g, h.h6, h.flags);
        m = m * h.h1 + h.h2 * g;
        v = v * h.h3 + h.h4 * g * g;
        if (h.flags & XPG_RECTIFIED) p -= h.h0 * m / (xsqrt(v) + h.h5);
        else p -= mul_rn(h.h0, m);
    }
};

// h0 lr, h1 beta1, h2 1 - beta1, h3 beta2, h4 1 - beta2, h5 1 - lr * weight decay (decoupled);
// s1 momentum. NaN stays NaN through the sign
struct Lion {
    template <typename T>
    __device__ __forceinline__ static void step(T& p, T g, T& m, T&, T&, const Hyper<T>& h) {
        if (h.flags & XPG_DECOUPLED) p *= h.h5;
        const T c = m * h.h1 + h.h2 * g;
        p -= h.h0 * (c > T(0) ? T(1) : c < T(0) ? T(-1) : c);
        m = m * h.h3 + h.h4 * g;
    }
};

// `s1` / `s2` / `s3` may be any array (e.g. `p`) when their flag is off: they are then never
// touched.
template <typename T, typename Op>
__global__ void __launch_bounds__(XPG_OPTIM_THREADS)
optim_update(T* p, const T* __restrict__ g, T* s1, T* s2, T* s3, i64 n, T h0, T h1, T h2, T h3,
             T h4, T h5, T h6, T h7, T h8, int flags) {
    constexpr int VN = Vec<T>::N;
    Hyper<T> h;
    h.h0 = h0; h.h1 = h1; h.h2 = h2; h.h3 = h3; h.h4 = h4; h.h5 = h5; h.h6 = h6; h.h7 = h7;
    h.h8 = h8;
    h.flags = flags;
    const bool has1 = flags & XPG_HAS_S1, has2 = flags & XPG_HAS_S2, has3 = flags & XPG_HAS_S3;
    const i64 start = global_thread(), stride = grid_threads();
    i64 done = 0;
    if (aligned16(p) && aligned16(g) && (!has1 || aligned16(s1)) && (!has2 || aligned16(s2))
        && (!has3 || aligned16(s3))) {
        const i64 nv = n / VN;
        for (i64 k = start; k < nv; k += stride) {
            Vec<T> pv = reinterpret_cast<Vec<T>*>(p)[k];
            const Vec<T> gv = reinterpret_cast<const Vec<T>*>(g)[k];
            Vec<T> av{}, bv{}, cv{};
            if (has1) av = reinterpret_cast<Vec<T>*>(s1)[k];
            if (has2) bv = reinterpret_cast<Vec<T>*>(s2)[k];
            if (has3) cv = reinterpret_cast<Vec<T>*>(s3)[k];
#pragma unroll
            for (int j = 0; j < VN; ++j) Op::step(pv.v[j], gv.v[j], av.v[j], bv.v[j], cv.v[j], h);
            reinterpret_cast<Vec<T>*>(p)[k] = pv;
            if (has1) reinterpret_cast<Vec<T>*>(s1)[k] = av;
            if (has2) reinterpret_cast<Vec<T>*>(s2)[k] = bv;
            if (has3) reinterpret_cast<Vec<T>*>(s3)[k] = cv;
        }
        done = nv * VN;
    }
    for (i64 i = done + start; i < n; i += stride) {
        T pi = p[i], a = has1 ? s1[i] : T(0), b = has2 ? s2[i] : T(0), c = has3 ? s3[i] : T(0);
        Op::step(pi, g[i], a, b, c, h);
        p[i] = pi;
        if (has1) s1[i] = a;
        if (has2) s2[i] = b;
        if (has3) s3[i] = c;
    }
}
