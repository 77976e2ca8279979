// Helpers shared by xpgrad's CUDA kernels: accurate math by type, 16-byte vector access,
// warp and block reductions. No #include: the Python loader inlines this file into each
// source before NVRTC sees it, and tests compile it with nvcc and with a CPU emulator.
#ifndef XPGRAD_COMMON_CUH
#define XPGRAD_COMMON_CUH

typedef long long i64;

// Accurate library math (never the __expf-style intrinsics; no fast-math anywhere).
__device__ __forceinline__ float xexp(float x) { return expf(x); }
__device__ __forceinline__ double xexp(double x) { return exp(x); }
__device__ __forceinline__ float xlog(float x) { return logf(x); }
__device__ __forceinline__ double xlog(double x) { return log(x); }
__device__ __forceinline__ float xlog1p(float x) { return log1pf(x); }
__device__ __forceinline__ double xlog1p(double x) { return log1p(x); }
__device__ __forceinline__ float xexpm1(float x) { return expm1f(x); }
__device__ __forceinline__ double xexpm1(double x) { return expm1(x); }
__device__ __forceinline__ float xtanh(float x) { return tanhf(x); }
__device__ __forceinline__ double xtanh(double x) { return tanh(x); }
__device__ __forceinline__ float xsqrt(float x) { return sqrtf(x); }
__device__ __forceinline__ double xsqrt(double x) { return sqrt(x); }
__device__ __forceinline__ float xabs(float x) { return fabsf(x); }
__device__ __forceinline__ double xabs(double x) { return fabs(x); }
// max that lets a NaN in `a` through (like NumPy's maximum when `a` is the data)
template <typename T> __device__ __forceinline__ T xmax(T a, T b) { return a < b ? b : a; }

template <typename T> __device__ __forceinline__ T neg_inf();
template <> __device__ __forceinline__ float neg_inf<float>() { return __int_as_float(-8388608); }
template <> __device__ __forceinline__ double neg_inf<double>() {
    return __longlong_as_double(-4503599627370496LL);  // 0xfff0000000000000
}
template <typename T> __device__ __forceinline__ T quiet_nan();
template <> __device__ __forceinline__ float quiet_nan<float>() {
    return __int_as_float(2143289344);  // 0x7fc00000
}
template <> __device__ __forceinline__ double quiet_nan<double>() {
    return __longlong_as_double(9221120237041090560LL);  // 0x7ff8000000000000
}

// Logistic function, stable for any |x| (the same formula as the generic rule).
template <typename T> __device__ __forceinline__ T sigmoid(T x) {
    const T e = xexp(-xabs(x));
    return x >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e);
}

// 16 bytes of T: one ld/st.global.v4 (float) or .v2 (double) when the address is aligned.
template <typename T> struct alignas(16) Vec {
    static constexpr int N = 16 / sizeof(T);
    T v[N];
};

__device__ __forceinline__ bool aligned16(const void* p) {
    return (reinterpret_cast<unsigned long long>(p) & 15ull) == 0;
}

// Grid-stride helpers over n elements split into whole vectors and a scalar tail.
__device__ __forceinline__ i64 global_thread() {
    return (i64)blockIdx.x * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ i64 grid_threads() { return (i64)gridDim.x * blockDim.x; }

// Dynamic shared memory as T* (the emulator used by the tests supplies its own definition).
#ifndef XPG_DYNAMIC_SMEM
#define XPG_DYNAMIC_SMEM(T, name)                                   \
    extern __shared__ __align__(16) unsigned char name##_bytes[];   \
    T* name = reinterpret_cast<T*>(name##_bytes)
#endif

// -- reductions ------------------------------------------------------------------------------
#define XPG_FULL_MASK 0xffffffffu

__device__ __forceinline__ float shfl_xor(float v, int o) {
    return __shfl_xor_sync(XPG_FULL_MASK, v, o);
}
__device__ __forceinline__ double shfl_xor(double v, int o) {
    return __shfl_xor_sync(XPG_FULL_MASK, v, o);
}

struct Add {
    template <typename T> __device__ __forceinline__ T operator()(T a, T b) const { return a + b; }
};

// Butterfly reduction: every lane of the warp ends with the result.
template <typename T, typename Op> __device__ __forceinline__ T warp_reduce(T v, Op op) {
    for (int o = 16; o > 0; o >>= 1) v = op(v, shfl_xor(v, o));
    return v;
}

// Reduce over the whole block (blockDim.x a multiple of 32, at most 1024); every thread gets
// the result. All threads of the block must call it (it synchronizes).
template <typename T, typename Op>
__device__ __forceinline__ T block_reduce(T v, Op op, T identity) {
    __shared__ T partial[32];
    __shared__ T result;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int nwarps = blockDim.x >> 5;
    v = warp_reduce(v, op);
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    if (warp == 0) {
        T w = lane < nwarps ? partial[lane] : identity;
        w = warp_reduce(w, op);
        if (lane == 0) result = w;
    }
    __syncthreads();
    T out = result;
    __syncthreads();  // `result` and `partial` may be reused by the next call
    return out;
}

#endif  // XPGRAD_COMMON_CUH
