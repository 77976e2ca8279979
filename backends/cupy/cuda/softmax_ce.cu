// Softmax cross-entropy, forward and backward in one launch: one block per row of (N, C) logits.
//
// Pass 1 reads the row once and keeps an online max m and sum s = sum(exp(x - m)) (rescaled when
// m grows), and for probability targets st = sum(t) and stx = sum(t * (x - m)). The first
// `n_cached` columns of the row (logits, and targets) are kept in shared memory, so pass 2 (the
// gradient) reads them from there: when the whole row is cached the kernel moves the minimum, one
// read of the inputs and one write of the gradient. The host picks n_cached so that two blocks
// fit on a multiprocessor; the rest of a long row is read again (recently read: mostly from L2).
//
//   loss = log(s) - (x[y] - m)              (integer labels y; NaN when y is out of range)
//   loss = st * log(s) - stx                (probabilities t)
//   grad = scale * (softmax(x) * st - t),   softmax(x) = exp((x - m) - log(s)), st = 1 for labels
//
// `scale` is 1/N for the mean reduction and 1 otherwise; the host reduces the N row losses.
// A logit of -inf contributes exp(-inf) = 0 (no NaN from -inf - -inf); NaN logits give NaN rows.
#include "common.cuh"

#define XPG_CE_MAX_THREADS 1024

template <typename T> struct RowStats {
    T m, s, st, stx;
};

template <typename T> __device__ __forceinline__ RowStats<T> shfl_xor(RowStats<T> a, int o) {
    RowStats<T> r;
    r.m = shfl_xor(a.m, o);
    r.s = shfl_xor(a.s, o);
    r.st = shfl_xor(a.st, o);
    r.stx = shfl_xor(a.stx, o);
    return r;
}

// Merge the statistics of two parts of a row (an empty part has m = -inf and s = 0).
struct CombineStats {
    template <typename T>
    __device__ __forceinline__ RowStats<T> operator()(RowStats<T> a, RowStats<T> b) const {
        if (a.m == neg_inf<T>()) return b;
        if (b.m == neg_inf<T>()) return a;
        const T m = xmax(a.m, b.m);
        RowStats<T> r;
        r.m = m;
        r.s = a.s * xexp(a.m - m) + b.s * xexp(b.m - m);
        r.st = a.st + b.st;
        r.stx = (a.stx - a.st * (m - a.m)) + (b.stx - b.st * (m - b.m));
        return r;
    }
};

// Fold K consecutive values (and targets) into the running statistics: one exp per value.
template <bool PROBS, int K, typename T>
__device__ __forceinline__ void accumulate(RowStats<T>& a, const T* v, const T* t) {
    T vm = v[0];
#pragma unroll
    for (int j = 1; j < K; ++j) vm = xmax(vm, v[j]);
    if (vm > a.m) {
        if (a.m != neg_inf<T>()) {
            a.s *= xexp(a.m - vm);
            if constexpr (PROBS) a.stx -= a.st * (vm - a.m);
        }
        a.m = vm;
    }
#pragma unroll
    for (int j = 0; j < K; ++j) {
        if (v[j] != neg_inf<T>()) a.s += xexp(v[j] - a.m);
        if constexpr (PROBS) {
            a.st += t[j];
            if (t[j] != T(0)) a.stx += t[j] * (v[j] - a.m);
        }
    }
}

template <bool PROBS, typename T, typename L>
__device__ __forceinline__ void softmax_ce_row(const T* __restrict__ x,
                                               const L* __restrict__ labels,
                                               const T* __restrict__ t, T* __restrict__ grad,
                                               T* __restrict__ loss, i64 n_cols, T scale,
                                               i64 n_cached) {
    XPG_DYNAMIC_SMEM(T, smem);
    constexpr int VN = Vec<T>::N;
    const i64 row = blockIdx.x;
    const T* xr = x + row * n_cols;
    const T* tr = PROBS ? t + row * n_cols : nullptr;
    T* gr = grad + row * n_cols;
    T* sx = smem;               // the cached columns of the logits
    T* stt = smem + n_cached;   // ... and of the targets
    const bool vec =
        n_cols % VN == 0 && aligned16(xr) && aligned16(gr) && (!PROBS || aligned16(tr));

    // pass 1: statistics (and the shared-memory copy)
    RowStats<T> acc;
    acc.m = neg_inf<T>();
    acc.s = acc.st = acc.stx = T(0);
    if (vec) {   // n_cached is then a multiple of VN
        const i64 nv = n_cols / VN, kc = n_cached / VN;
#pragma unroll 4
        for (i64 k = threadIdx.x; k < nv; k += blockDim.x) {
            const Vec<T> v = reinterpret_cast<const Vec<T>*>(xr)[k];
            Vec<T> tv{};
            if constexpr (PROBS) tv = reinterpret_cast<const Vec<T>*>(tr)[k];
            if (k < kc) {
                reinterpret_cast<Vec<T>*>(sx)[k] = v;
                if constexpr (PROBS) reinterpret_cast<Vec<T>*>(stt)[k] = tv;
            }
            accumulate<PROBS, VN>(acc, v.v, tv.v);
        }
    } else {
        for (i64 i = threadIdx.x; i < n_cols; i += blockDim.x) {
            const T v = xr[i];
            T tv = T(0);
            if constexpr (PROBS) tv = tr[i];
            if (i < n_cached) {
                sx[i] = v;
                if constexpr (PROBS) stt[i] = tv;
            }
            accumulate<PROBS, 1>(acc, &v, &tv);
        }
    }
    RowStats<T> empty;
    empty.m = neg_inf<T>();
    empty.s = empty.st = empty.stx = T(0);
    acc = block_reduce(acc, CombineStats(), empty);  // synchronizes: the cached row is complete

    i64 y = -1;
    T logs = xlog(acc.s);
    if constexpr (!PROBS) {
        const L label = labels[row];
        if (label >= 0 && (i64)label < n_cols) y = (i64)label;
        else logs = quiet_nan<T>();
    }
    if (threadIdx.x == 0) {
        if constexpr (PROBS) {
            loss[row] = acc.st * logs - acc.stx;
        } else {
            const T xy = y < 0 ? T(0) : (y < n_cached ? sx[y] : xr[y]);
            loss[row] = logs - (xy - acc.m);
        }
    }

    // pass 2: the gradient
    const T m = acc.m;
    const T st = PROBS ? acc.st : T(1);
    if (vec) {
        const i64 nv = n_cols / VN, kc = n_cached / VN;
#pragma unroll 4
        for (i64 k = threadIdx.x; k < nv; k += blockDim.x) {
            const bool cached = k < kc;
            const Vec<T> v = cached ? reinterpret_cast<const Vec<T>*>(sx)[k]
                                    : reinterpret_cast<const Vec<T>*>(xr)[k];
            Vec<T> tv{};
            if constexpr (PROBS)
                tv = cached ? reinterpret_cast<const Vec<T>*>(stt)[k]
                            : reinterpret_cast<const Vec<T>*>(tr)[k];
            Vec<T> out;
#pragma unroll
            for (int j = 0; j < VN; ++j) {
                const T p = xexp((v.v[j] - m) - logs);
                const T tj = PROBS ? tv.v[j] : (k * VN + j == y ? T(1) : T(0));
                out.v[j] = scale * (p * st - tj);
            }
            reinterpret_cast<Vec<T>*>(gr)[k] = out;
        }
    } else {
        for (i64 i = threadIdx.x; i < n_cols; i += blockDim.x) {
            const bool cached = i < n_cached;
            const T v = cached ? sx[i] : xr[i];
            T tj;
            if constexpr (PROBS) tj = cached ? stt[i] : tr[i];
            else tj = i == y ? T(1) : T(0);
            gr[i] = scale * (xexp((v - m) - logs) * st - tj);
        }
    }
}

// Integer labels (int or long long), shape (N,).
template <typename T, typename L>
__global__ void __launch_bounds__(XPG_CE_MAX_THREADS)
softmax_ce_labels(const T* __restrict__ x, const L* __restrict__ labels, T* __restrict__ grad,
                  T* __restrict__ loss, i64 n_cols, T scale, i64 n_cached) {
    softmax_ce_row<false, T, L>(x, labels, nullptr, grad, loss, n_cols, scale, n_cached);
}

// Probability targets, shape (N, C) like the logits.
template <typename T>
__global__ void __launch_bounds__(XPG_CE_MAX_THREADS)
softmax_ce_probs(const T* __restrict__ x, const T* __restrict__ t, T* __restrict__ grad,
                 T* __restrict__ loss, i64 n_cols, T scale, i64 n_cached) {
    softmax_ce_row<true, T, int>(x, nullptr, t, grad, loss, n_cols, scale, n_cached);
}
