// Activations: a forward kernel y = f(x) and a backward kernel dx = g * f'(x, y), elementwise
// over n contiguous elements; grid-stride, 16-byte vectors when every pointer is aligned.
// The formulas are the generic rules' (xpgrad/ops/activations.py, ops/elementwise.py).
#include "common.cuh"

#define XPG_ACTIVATION_THREADS 256

struct Sigmoid {
    template <typename T> __device__ __forceinline__ static T fwd(T x, T) { return sigmoid(x); }
    template <typename T> __device__ __forceinline__ static T bwd(T g, T, T y, T) {
        return g * y * (T(1) - y);
    }
};

struct Tanh {
    template <typename T> __device__ __forceinline__ static T fwd(T x, T) { return xtanh(x); }
    template <typename T> __device__ __forceinline__ static T bwd(T g, T, T y, T) {
        return g * (T(1) - y * y);
    }
};

struct Relu {  // NaN passes through, like NumPy's maximum
    template <typename T> __device__ __forceinline__ static T fwd(T x, T) {
        return x < T(0) ? T(0) : x;
    }
    template <typename T> __device__ __forceinline__ static T bwd(T g, T x, T, T) {
        return x <= T(0) ? T(0) : g;  // NaN gets the gradient, as in the generic rule
    }
};

struct LeakyRelu {  // param: the negative slope
    template <typename T> __device__ __forceinline__ static T fwd(T x, T slope) {
        return x >= T(0) ? x : x * slope;
    }
    template <typename T> __device__ __forceinline__ static T bwd(T g, T x, T, T slope) {
        return x > T(0) ? g : g * slope;
    }
};

struct Softplus {  // log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)); f' = 1 - exp(-y)
    template <typename T> __device__ __forceinline__ static T fwd(T x, T) {
        return (x < T(0) ? T(0) : x) + xlog1p(xexp(-xabs(x)));
    }
    template <typename T> __device__ __forceinline__ static T bwd(T g, T, T y, T) {
        return -g * xexpm1(-y);
    }
};

template <typename T, typename Op>
__global__ void __launch_bounds__(XPG_ACTIVATION_THREADS)
activation_fwd(const T* __restrict__ x, T* __restrict__ y, i64 n, T param) {
    constexpr int VN = Vec<T>::N;
    const i64 start = global_thread(), stride = grid_threads();
    i64 done = 0;
    if (aligned16(x) && aligned16(y)) {
        const i64 nv = n / VN;
        for (i64 k = start; k < nv; k += stride) {
            const Vec<T> xv = reinterpret_cast<const Vec<T>*>(x)[k];
            Vec<T> yv;
#pragma unroll
            for (int j = 0; j < VN; ++j) yv.v[j] = Op::fwd(xv.v[j], param);
            reinterpret_cast<Vec<T>*>(y)[k] = yv;
        }
        done = nv * VN;
    }
    for (i64 i = done + start; i < n; i += stride) y[i] = Op::fwd(x[i], param);
}

// `x` or `y` may be the same array when the rule needs only one of them (it is only read).
template <typename T, typename Op>
__global__ void __launch_bounds__(XPG_ACTIVATION_THREADS)
activation_bwd(const T* __restrict__ g, const T* __restrict__ x, const T* __restrict__ y,
               T* __restrict__ dx, i64 n, T param) {
    constexpr int VN = Vec<T>::N;
    const i64 start = global_thread(), stride = grid_threads();
    i64 done = 0;
    if (aligned16(g) && aligned16(x) && aligned16(y) && aligned16(dx)) {
        const i64 nv = n / VN;
        for (i64 k = start; k < nv; k += stride) {
            const Vec<T> gv = reinterpret_cast<const Vec<T>*>(g)[k];
            const Vec<T> xv = reinterpret_cast<const Vec<T>*>(x)[k];
            const Vec<T> yv = reinterpret_cast<const Vec<T>*>(y)[k];
            Vec<T> dv;
#pragma unroll
            for (int j = 0; j < VN; ++j) dv.v[j] = Op::bwd(gv.v[j], xv.v[j], yv.v[j], param);
            reinterpret_cast<Vec<T>*>(dx)[k] = dv;
        }
        done = nv * VN;
    }
    for (i64 i = done + start; i < n; i += stride) dx[i] = Op::bwd(g[i], x[i], y[i], param);
}

// A dense layer's bias and activation in one pass over its (rows, cols) product, in place:
// z <- f(z + b[column]) (linear_relu, linear_tanh, linear_sigmoid); the backward is
// activation_bwd on the output, as for the activation alone.
template <typename T, typename Op>
__global__ void __launch_bounds__(XPG_ACTIVATION_THREADS)
bias_activation_fwd(T* __restrict__ z, const T* __restrict__ b, i64 n, i64 cols, T param) {
    const i64 start = global_thread(), stride = grid_threads();
    for (i64 i = start; i < n; i += stride) z[i] = Op::fwd(z[i] + b[i % cols], param);
}
