// Kernels that test the emulator itself (tests/test_cuda_emulated.py), built into the same
// library as the real sources and registered under these names.
#pragma once

// out[blockIdx.x * blockDim.x + t] = (value lane^1 holds, via a shuffle) + (the value thread
// blockDim.x-1-t stored in shared memory before a __syncthreads); thread t of block b holds
// t + 1 + 4096 b (so a read before the barrier finds another block's or launch's value)
__global__ void emu_selftest_exchange(float* out) {
    __shared__ float held[1024];
    const unsigned t = threadIdx.x;
    const float mine = float(t + 1 + 4096 * blockIdx.x);
    held[t] = mine;
    const float neighbour = __shfl_xor_sync(0xffffffffu, mine, 1);
    __syncthreads();
    out[blockIdx.x * blockDim.x + t] = neighbour + held[blockDim.x - 1 - t];
}

// thread 0 waits at __syncthreads while its warp waits in a shuffle it never joins: a deadlock
__global__ void emu_selftest_deadlock(float* out) {
    if (threadIdx.x == 0) __syncthreads();
    else out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1.0f, 1);
}
