// A CPU emulation of the CUDA features xpgrad's kernels use, so the tests can run the real .cu
// sources on a machine without a GPU. One host thread per CUDA thread; the blocks of a launch
// run one after another. __syncthreads is a block-wide barrier; a warp shuffle is an exchange
// through a per-warp buffer between two warp-wide barriers, so all 32 lanes of a warp must reach
// it together (as __shfl_*_sync with a full mask requires). A thread that returns drops out of
// its barriers, as exited threads do on the device. Not emulated: the memory model, 16-byte
// access atomicity, occupancy, timing, and anything not listed here.
#pragma once
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

struct dim3 {
    unsigned x = 1, y = 1, z = 1;
};

namespace xpg_emu {

struct Block {
    std::unique_ptr<std::barrier<>> bar;
    std::vector<std::unique_ptr<std::barrier<>>> warp_bar;
    std::vector<std::uint64_t> slots;  // one 8-byte exchange slot per thread
    std::vector<unsigned char> smem;
};

inline thread_local dim3 thread_idx, block_idx;
inline thread_local Block* block;
inline dim3 block_dim, grid_dim;

inline unsigned char* dynamic_smem_of(Block& b) {
    auto p = reinterpret_cast<std::uintptr_t>(b.smem.data());
    return reinterpret_cast<unsigned char*>((p + 15) & ~std::uintptr_t(15));
}
inline unsigned char* dynamic_smem() { return dynamic_smem_of(*block); }

template <typename T> T shfl(T v, int src_lane) {
    static_assert(sizeof(T) <= 8, "shuffle of a type wider than 8 bytes");
    const unsigned tid = thread_idx.x, warp = tid / 32, base = warp * 32;
    std::memcpy(&block->slots[tid], &v, sizeof(T));
    block->warp_bar[warp]->arrive_and_wait();
    T r;
    std::memcpy(&r, &block->slots[base + (unsigned)src_lane], sizeof(T));
    block->warp_bar[warp]->arrive_and_wait();
    return r;
}

// -- kernel registry: name expression -> (parameter signature, thunk taking void** args) ------
template <typename T> struct Code;
template <> struct Code<float> { static std::string get() { return "f"; } };
template <> struct Code<double> { static std::string get() { return "d"; } };
template <> struct Code<int> { static std::string get() { return "i"; } };
template <> struct Code<long long> { static std::string get() { return "q"; } };
template <typename T> struct Code<T*> {
    static std::string get() { return "P" + Code<std::remove_cv_t<T>>::get(); }
};

struct Entry {
    std::string signature;
    std::function<void(void**)> call;
};

inline std::map<std::string, Entry>& registry() {
    static std::map<std::string, Entry> r;
    return r;
}

template <typename... A, std::size_t... I>
void invoke(void (*f)(A...), void** args, std::index_sequence<I...>) {
    f(*static_cast<std::remove_cv_t<A>*>(args[I])...);
}

struct Register {
    template <typename... A> Register(const char* name, void (*f)(A...)) {
        Entry e;
        e.signature = (std::string() + ... + Code<std::remove_cv_t<A>>::get());
        e.call = [f](void** args) { invoke(f, args, std::index_sequence_for<A...>{}); };
        registry()[name] = e;
    }
};

}  // namespace xpg_emu

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __shared__ static
#define threadIdx (xpg_emu::thread_idx)
#define blockIdx (xpg_emu::block_idx)
#define blockDim (xpg_emu::block_dim)
#define gridDim (xpg_emu::grid_dim)
#define XPG_DYNAMIC_SMEM(T, name) T* name = reinterpret_cast<T*>(xpg_emu::dynamic_smem())

inline void __syncthreads() { xpg_emu::block->bar->arrive_and_wait(); }
template <typename T> T __shfl_xor_sync(unsigned, T v, int lane_mask) {
    return xpg_emu::shfl(v, (int)(xpg_emu::thread_idx.x % 32) ^ lane_mask);
}
inline float __int_as_float(int i) {
    float f;
    std::memcpy(&f, &i, 4);
    return f;
}
inline double __longlong_as_double(long long i) {
    double d;
    std::memcpy(&d, &i, 8);
    return d;
}
// products that the device compiler must not fuse into an FMA; the host build fuses nothing
inline float __fmul_rn(float a, float b) { return a * b; }
inline double __dmul_rn(double a, double b) { return a * b; }

// Launch `name` like cuLaunchKernel (args: pointers to each parameter's value) after checking
// the caller's parameter signature. Returns 0, or a negative code with `err` filled in.
constexpr unsigned kGuard = 64;

extern "C" int xpg_launch(const char* name, const char* signature, unsigned grid,
                          unsigned block_threads, unsigned long long smem_bytes, void** args,
                          char* err, int err_len) {
    auto fail = [&](const std::string& msg) {
        std::snprintf(err, err_len, "%s", msg.c_str());
        return -1;
    };
    auto it = xpg_emu::registry().find(name);
    if (it == xpg_emu::registry().end()) return fail(std::string("no kernel ") + name);
    if (it->second.signature != signature)
        return fail(std::string(name) + ": parameters " + it->second.signature +
                    " passed as " + signature);
    if (grid < 1 || block_threads < 32 || block_threads > 1024 || block_threads % 32)
        return fail("bad launch shape");
    xpg_emu::grid_dim = dim3{grid, 1, 1};
    xpg_emu::block_dim = dim3{block_threads, 1, 1};
    for (unsigned b = 0; b < grid; ++b) {
        xpg_emu::Block blk;
        blk.bar = std::make_unique<std::barrier<>>(block_threads);
        for (unsigned w = 0; w < block_threads / 32; ++w)
            blk.warp_bar.push_back(std::make_unique<std::barrier<>>(32));
        blk.slots.assign(block_threads, 0);
        blk.smem.assign(smem_bytes + 16 + kGuard, 0xAB);  // garbage, as on the device
        std::vector<std::thread> threads;
        threads.reserve(block_threads);
        for (unsigned t = 0; t < block_threads; ++t) {
            threads.emplace_back([&, b, t] {
                xpg_emu::thread_idx = dim3{t, 1, 1};
                xpg_emu::block_idx = dim3{b, 1, 1};
                xpg_emu::block = &blk;
                it->second.call(args);
                blk.warp_bar[t / 32]->arrive_and_drop();
                blk.bar->arrive_and_drop();
            });
        }
        for (auto& th : threads) th.join();
        const unsigned char* end = xpg_emu::dynamic_smem_of(blk) + smem_bytes;
        for (unsigned i = 0; i < kGuard; ++i)
            if (end[i] != 0xAB) return fail(std::string(name) + ": wrote past its dynamic "
                                            "shared memory");
    }
    return 0;
}
