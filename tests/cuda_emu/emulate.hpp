// Runs CUDA C kernels on the CPU, so their source is tested on machines without a GPU
// (tests/gpu_kernels_on_cpu.rs). A launch runs its blocks one after another; the threads of a
// block are real threads that meet at __syncthreads() (a std::barrier), so block-shared
// (`__shared__`, here `static`) memory behaves as on a GPU. Warp intrinsics are not emulated:
// only kernels without them are built here.
#pragma once
#include <barrier>
#include <cstdint>
#include <thread>
#include <vector>

struct EmuDim {
    unsigned x = 1, y = 1, z = 1;
};

inline thread_local EmuDim threadIdx;
inline thread_local EmuDim blockIdx;
inline EmuDim blockDim;
inline EmuDim gridDim;
inline std::barrier<>* emu_barrier = nullptr;

#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static
inline void __syncthreads() { emu_barrier->arrive_and_wait(); }

// Every block of `grid`, `block.x` threads each (block.y = block.z = 1), calling `kernel()`.
template <class Kernel>
void emu_launch(EmuDim grid, EmuDim block, Kernel kernel)
{
    gridDim = grid;
    blockDim = block;
    std::barrier<> barrier(block.x);
    emu_barrier = &barrier;
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < block.x; ++t) {
        threads.emplace_back([&, t] {
            threadIdx = EmuDim{t, 0, 0};
            for (unsigned z = 0; z < grid.z; ++z)
                for (unsigned y = 0; y < grid.y; ++y)
                    for (unsigned x = 0; x < grid.x; ++x) {
                        blockIdx = EmuDim{x, y, z};
                        kernel();
                        // The block's shared memory is reused by the next block: all wait here.
                        barrier.arrive_and_wait();
                    }
        });
    }
    for (auto& thread : threads) thread.join();
    emu_barrier = nullptr;
}
