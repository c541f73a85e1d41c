// Matrix-vector products of the built-in LLM backend (src/compute/backend/llama/model.rs) and
// int8 matrices: y = W x with W row-major (rows x cols). One warp a row: each lane sums every
// 32nd column, then the lanes' sums are added pairwise. Float weights are widened exactly to
// f32 (f16 by the hardware's conversion, bf16 by a shift) and products are summed in f32, so
// results differ from the CPU's sequential sum only by rounding order (the tolerance the tests
// state). int8 products are summed exactly in 32 bits: identical to the CPU.
// Compiled at run time by NVRTC (src/gpu/matvec.rs); grid: rows / 8 blocks of 8 warps.

typedef unsigned short u16;
typedef unsigned int u32;

__device__ __forceinline__ float from_f16(u16 bits)
{
#ifdef __CUDACC_RTC__
    float value;
    asm("cvt.f32.f16 %0, %1;" : "=f"(value) : "h"(bits));
    return value;
#else
    // Built for the CPU (tests/cuda_emu): the emulation's exact conversion.
    return emu_f16_to_f32(bits);
#endif
}

__device__ __forceinline__ float from_bf16(u16 bits)
{
    return __uint_as_float(((u32)bits) << 16);
}

__device__ __forceinline__ float warp_sum(float value)
{
    for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_down_sync(0xffffffffu, value, offset);
    return value;
}

__device__ __forceinline__ int warp_sum_int(int value)
{
    for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_down_sync(0xffffffffu, value, offset);
    return value;
}

#define ROW_AND_LANE                                                      \
    u32 row = blockIdx.x * (blockDim.x / 32u) + threadIdx.x / 32u;        \
    u32 lane = threadIdx.x % 32u;                                         \
    if (row >= rows) return;

__device__ __forceinline__ float from_f32(float value)
{
    return value;
}

// One float kernel per weight format: W is how a weight is stored, WIDEN makes it an f32.
#define MATVEC_FLOAT(NAME, W, WIDEN)                                                                      \
    extern "C" __global__ void NAME(const W* __restrict__ w, const float* __restrict__ x, float* __restrict__ y, u32 rows, u32 cols) \
    {                                                                                                     \
        ROW_AND_LANE                                                                                      \
        const W* r = w + (unsigned long long)row * cols;                                                  \
        float sum = 0.0f;                                                                                 \
        for (u32 c = lane; c < cols; c += 32u) sum += WIDEN(r[c]) * x[c];                                 \
        sum = warp_sum(sum);                                                                              \
        if (lane == 0) y[row] = sum;                                                                      \
    }

MATVEC_FLOAT(matvec_f32, float, from_f32)
MATVEC_FLOAT(matvec_f16, u16, from_f16)
MATVEC_FLOAT(matvec_bf16, u16, from_bf16)

// Exact: |w|, |x| <= 128, so a row of up to 131,072 columns cannot leave int32.
extern "C" __global__ void matvec_i8(const signed char* __restrict__ w, const signed char* __restrict__ x, int* __restrict__ y, u32 rows, u32 cols)
{
    ROW_AND_LANE
    const signed char* r = w + (unsigned long long)row * cols;
    int sum = 0;
    for (u32 c = lane; c < cols; c += 32u) sum += (int)r[c] * (int)x[c];
    sum = warp_sum_int(sum);
    if (lane == 0) y[row] = sum;
}
