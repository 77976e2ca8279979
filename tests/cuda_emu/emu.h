// A CPU emulation of the CUDA features xpgrad's kernels use, so the tests can run the real .cu
// sources on a machine without a GPU. One fiber (a stack of its own, switched with swapcontext)
// per CUDA thread, all on the calling host thread; the blocks of a launch run one after another.
// __syncthreads is a block-wide barrier; a warp shuffle is an exchange through a per-warp buffer
// between two warp-wide barriers, so all 32 lanes of a warp must reach it together (as
// __shfl_*_sync with a full mask requires). A thread that waits at a barrier yields to the next
// thread of its block, round-robin, until every thread still running has arrived; a thread that
// returns drops out of its barriers, as exited threads do on the device; threads that all wait
// at barriers that can no longer complete fail the launch (a deadlock on the device). Between
// barriers the threads run one after another, in thread order: the same code paths and
// barriers as one OS thread per CUDA thread (the emulator before), without creating 1024 OS
// threads per block and waking them at every barrier, which took ~80 ms a launch on two busy
// cores. Not emulated: the memory model and races, 16-byte access atomicity, occupancy,
// timing, and anything not listed here.
#pragma once
#include <sys/mman.h>
#include <ucontext.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

struct dim3 {
    unsigned x = 1, y = 1, z = 1;
};

namespace xpg_emu {

// -- fibers: one per CUDA thread of the running block -----------------------------------------
struct Fiber {
    ucontext_t ctx;
    bool done = false;
};

inline ucontext_t scheduler;            // the launch loop, which resumes the fibers in turn
inline Fiber* current = nullptr;
inline unsigned long progress = 0;       // barrier phases completed + threads returned

inline void yield() { swapcontext(&current->ctx, &scheduler); }

// std::barrier's arrive_and_wait / arrive_and_drop, for fibers: waiting yields
struct Barrier {
    unsigned expected, arrived = 0, dropped = 0;
    unsigned long phase = 0;
    explicit Barrier(unsigned n) : expected(n) {}
    void arrive(bool drop) {
        ++arrived;
        dropped += drop;
        if (arrived == expected) {      // the phase completes: drops leave the next phases
            arrived = 0;
            expected -= dropped;
            dropped = 0;
            ++phase;
            ++progress;
        }
    }
    void arrive_and_wait() {
        const unsigned long mine = phase;
        arrive(false);
        while (phase == mine) yield();
    }
    void arrive_and_drop() { arrive(true); }
};

struct Block {
    std::unique_ptr<Barrier> bar;
    std::vector<std::unique_ptr<Barrier>> warp_bar;
    std::vector<std::uint64_t> slots;  // one 8-byte exchange slot per thread
    std::vector<unsigned char> smem;
};

// set by the launch loop before it resumes each fiber
inline dim3 thread_idx, block_idx;
inline Block* block;
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
    // the fibers' stacks: mapped once, 1024 of them, each above a guard page (an overflow faults)
    constexpr std::size_t kStack = 256 * 1024, kPage = 4096;
    static unsigned char* stacks = nullptr;
    if (!stacks) {
        void* p = mmap(nullptr, 1024 * kStack, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) return fail("cannot map the emulated threads' stacks");
        stacks = static_cast<unsigned char*>(p);
        for (unsigned t = 0; t < 1024; ++t) mprotect(stacks + t * kStack, kPage, PROT_NONE);
    }
    static const xpg_emu::Entry* running;
    static void** running_args;
    running = &it->second;
    running_args = args;
    std::vector<xpg_emu::Fiber> fibers(block_threads);
    for (unsigned b = 0; b < grid; ++b) {
        xpg_emu::Block blk;
        blk.bar = std::make_unique<xpg_emu::Barrier>(block_threads);
        for (unsigned w = 0; w < block_threads / 32; ++w)
            blk.warp_bar.push_back(std::make_unique<xpg_emu::Barrier>(32));
        blk.slots.assign(block_threads, 0);
        blk.smem.assign(smem_bytes + 16 + kGuard, 0xAB);  // garbage, as on the device
        xpg_emu::block = &blk;
        xpg_emu::block_idx = dim3{b, 1, 1};
        for (unsigned t = 0; t < block_threads; ++t) {
            xpg_emu::Fiber& f = fibers[t];
            f.done = false;
            getcontext(&f.ctx);
            f.ctx.uc_stack.ss_sp = stacks + t * kStack + kPage;
            f.ctx.uc_stack.ss_size = kStack - kPage;
            f.ctx.uc_link = &xpg_emu::scheduler;        // a returning thread comes back here
            makecontext(&f.ctx, +[] {
                const unsigned tid = xpg_emu::thread_idx.x;
                running->call(running_args);
                xpg_emu::block->warp_bar[tid / 32]->arrive_and_drop();
                xpg_emu::block->bar->arrive_and_drop();
                xpg_emu::current->done = true;
                ++xpg_emu::progress;
            }, 0);
        }
        for (unsigned live = block_threads; live;) {
            const unsigned long before = xpg_emu::progress;
            for (unsigned t = 0; t < block_threads; ++t) {
                if (fibers[t].done) continue;
                xpg_emu::current = &fibers[t];
                xpg_emu::thread_idx = dim3{t, 1, 1};
                swapcontext(&xpg_emu::scheduler, &fibers[t].ctx);
                live -= fibers[t].done;
            }
            if (live && xpg_emu::progress == before)
                return fail(std::string(name) + ": every running thread waits at a barrier "
                            "that the others do not reach (a deadlock on the device)");
        }
        const unsigned char* end = xpg_emu::dynamic_smem_of(blk) + smem_bytes;
        for (unsigned i = 0; i < kGuard; ++i)
            if (end[i] != 0xAB) return fail(std::string(name) + ": wrote past its dynamic "
                                            "shared memory");
    }
    return 0;
}
