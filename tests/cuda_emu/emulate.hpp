// Runs CUDA C kernels on the CPU, so their source is tested on machines without a GPU
// (tests/gpu_kernels_on_cpu.rs). A launch runs its blocks one after another; the threads of a
// block are real threads that meet at __syncthreads() (a std::barrier), so block-shared
// (`__shared__`, here `static`) memory behaves as on a GPU. Warp intrinsics are not emulated:
// only kernels without them are built here.
#pragma once
#include <barrier>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
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

// One barrier a warp, for the warp intrinsics (a warp whose row is past the end leaves whole,
// as on a GPU, so only live warps meet).
inline std::vector<std::barrier<>*> emu_warp_barriers;

template <class T>
T __shfl_down_sync(unsigned, T value, int offset)
{
    static T lanes[1024];
    unsigned t = threadIdx.x, warp = t / 32;
    lanes[t] = value;
    emu_warp_barriers[warp]->arrive_and_wait();
    T other = (t % 32) + offset < 32 ? lanes[t + offset] : value;
    emu_warp_barriers[warp]->arrive_and_wait();
    return other;
}

inline int atomicOr(int* address, int value) { return __atomic_fetch_or(address, value, __ATOMIC_SEQ_CST); }

inline float __uint_as_float(unsigned bits)
{
    float value;
    std::memcpy(&value, &bits, sizeof value);
    return value;
}

// IEEE half to float, exactly (normal, subnormal, zero, infinity, NaN).
inline float emu_f16_to_f32(uint16_t h)
{
    unsigned sign = (h >> 15) & 1, exponent = (h >> 10) & 31, mantissa = h & 1023;
    float magnitude;
    if (exponent == 0) magnitude = std::ldexp((float)mantissa, -24);
    else if (exponent == 31) magnitude = mantissa ? NAN : INFINITY;
    else magnitude = std::ldexp((float)(mantissa | 1024), (int)exponent - 25);
    return sign ? -magnitude : magnitude;
}

// A whole file's bytes (the drivers' inputs).
template <class Byte = char>
std::vector<Byte> emu_read_file(const char* path)
{
    std::ifstream in(path, std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return std::vector<Byte>(bytes.begin(), bytes.end());
}

// Every block of `grid`, `block.x` threads each (block.y = block.z = 1), calling `kernel()`.
template <class Kernel>
void emu_launch(EmuDim grid, EmuDim block, Kernel kernel)
{
    gridDim = grid;
    blockDim = block;
    std::barrier<> barrier(block.x);
    emu_barrier = &barrier;
    std::vector<std::unique_ptr<std::barrier<>>> warps;
    emu_warp_barriers.clear();
    for (unsigned w = 0; w < (block.x + 31) / 32; ++w) {
        warps.push_back(std::make_unique<std::barrier<>>(32));
        emu_warp_barriers.push_back(warps.back().get());
    }
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
