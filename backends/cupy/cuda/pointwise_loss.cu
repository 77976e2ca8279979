// Elementwise losses of (x, t) pairs, forward and backward in one pass over n elements:
// each thread reads x and t, writes the gradient d(loss)/dx (times `scale`: 1/n for the mean,
// 1 otherwise) and either the per-element loss (per_element = 1) or its share of a per-block
// double-precision partial sum that the host adds up (per_element = 0). Grid-stride; 16-byte
// vector loads and stores when every pointer is aligned.
#include "common.cuh"

#define XPG_POINTWISE_THREADS 256

// (sigmoid(x) - t)^2
struct SigmoidMse {
    template <typename T> __device__ __forceinline__ static T apply(T x, T t, T scale, T& dx) {
        const T s = sigmoid(x);
        const T d = s - t;
        dx = (T(2) * scale) * d * s * (T(1) - s);
        return d * d;
    }
};

// max(x, 0) - x t + log1p(exp(-|x|)), binary cross-entropy of sigmoid(x) against t, as
// |x| times the losing side's weight (1 - t for x > 0, t otherwise) + log1p(exp(-|x|)):
// no cancellation when t is near 1, and at x = +-inf the limit, 0 where that weight is 0
// (xpgrad/ops/formulas.py, sigmoid_ce)
struct SigmoidBce {
    template <typename T> __device__ __forceinline__ static T apply(T x, T t, T scale, T& dx) {
        dx = scale * (sigmoid(x) - t);
        const T a = xabs(x);
        const T losing = x > T(0) ? T(1) - t : t;
        return (losing == T(0) ? T(0) : a * losing) + xlog1p(xexp(-a));
    }
};

// (x - t)^2
struct Mse {
    template <typename T> __device__ __forceinline__ static T apply(T x, T t, T scale, T& dx) {
        const T d = x - t;
        dx = (T(2) * scale) * d;
        return d * d;
    }
};

template <typename T, typename Op>
__global__ void __launch_bounds__(XPG_POINTWISE_THREADS)
pointwise_loss(const T* __restrict__ x, const T* __restrict__ t, T* __restrict__ grad,
               T* __restrict__ loss, double* __restrict__ partial, i64 n, T scale,
               int per_element) {
    constexpr int VN = Vec<T>::N;
    const bool vec = aligned16(x) && aligned16(t) && aligned16(grad) &&
                     (!per_element || aligned16(loss));
    const i64 start = global_thread(), stride = grid_threads();
    double sum = 0.0;
    i64 done = 0;
    if (vec) {
        const i64 nv = n / VN;
        for (i64 k = start; k < nv; k += stride) {
            const Vec<T> xv = reinterpret_cast<const Vec<T>*>(x)[k];
            const Vec<T> tv = reinterpret_cast<const Vec<T>*>(t)[k];
            Vec<T> gv, lv;
#pragma unroll
            for (int j = 0; j < VN; ++j) {
                lv.v[j] = Op::apply(xv.v[j], tv.v[j], scale, gv.v[j]);
                sum += (double)lv.v[j];
            }
            reinterpret_cast<Vec<T>*>(grad)[k] = gv;
            if (per_element) reinterpret_cast<Vec<T>*>(loss)[k] = lv;
        }
        done = nv * VN;
    }
    for (i64 i = done + start; i < n; i += stride) {
        T g;
        const T l = Op::apply(x[i], t[i], scale, g);
        grad[i] = g;
        if (per_element) loss[i] = l;
        sum += (double)l;
    }
    if (!per_element) {
        sum = block_reduce(sum, Add(), 0.0);
        if (threadIdx.x == 0) partial[blockIdx.x] = sum;
    }
}
