// reed-solomon-simd's GF(2^16) erasure code on the GPU, one kernel per kind of step of
// zg_systems::erasure::program (its CPU twin, zg_systems::erasure::twin, is the specification:
// same symbol layout, same nibble tables, same closed-form formal derivative). Every launch
// covers a batch of codewords laid out back to back: codeword c's shard s starts at byte
// (c * stride + s) * bytes. Compiled at run time by NVRTC (src/gpu/erasure.rs).

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

#define GF_MODULUS 65535u
// Factor words (zg_systems::erasure::program::Factor::word): a logarithm, or keep / zero. In the
// fused kernel's code FACTOR_KEEP also marks a butterfly group without scaling.
#define FACTOR_KEEP 0xffffffffu
#define FACTOR_ZERO 0xfffffffeu

// Byte offsets of symbol p's low and high bytes in a shard of `bytes` bytes: 32 low then 32
// high bytes in each whole 64-byte piece; a tail of t bytes holds t/2 low then t/2 high bytes.
__device__ __forceinline__ void symbol_offsets(u32 p, u32 bytes, u32* lo, u32* hi)
{
    u32 whole = bytes / 64 * 32;
    if (p < whole) {
        *lo = (p / 32) * 64 + p % 32;
        *hi = *lo + 32;
    } else {
        *lo = bytes / 64 * 64 + (p - whole);
        *hi = *lo + (bytes % 64) / 2;
    }
}

__device__ __forceinline__ u16 gf_mul(u16 x, u32 log_m, const u16* exp, const u16* log)
{
    if (x == 0) return 0;
    u32 sum = (u32)log[x] + log_m;
    return exp[(sum + (sum >> 16)) & 0xffffu];
}

// The products of exp(log_m) with each nibble in each of four places (threads 0..63 fill one
// entry each; the caller synchronises the block before use).
__device__ __forceinline__ void fill_table(u16* table, u32 log_m, const u16* exp, const u16* log)
{
    u32 t = threadIdx.x;
    if (t < 64) table[t] = gf_mul((u16)((t & 15u) << (4u * (t >> 4))), log_m, exp, log);
}

__device__ __forceinline__ u16 mul_table(const u16* table, u16 x)
{
    return table[x & 15u] ^ table[16u + ((x >> 4) & 15u)] ^ table[32u + ((x >> 8) & 15u)] ^ table[48u + (x >> 12)];
}

__device__ __forceinline__ u8* shard_at(u8* base, u64 codeword, u32 stride, u32 shard, u32 bytes)
{
    return base + (codeword * stride + shard) * (u64)bytes;
}

// One butterfly stage over shards pos .. pos + size. Grid x: pair * symbol_blocks + symbol
// block (every block serves one pair, so one factor and one table a block); grid z: codewords.
extern "C" __global__ void rs_butterflies(
    u8* work, u32 work_count, u32 bytes, u32 symbol_blocks,
    u32 pos, u32 dist, u32 skew_delta, u32 inverse, u64 first_codeword,
    const u16* __restrict__ skew, const u16* __restrict__ exp, const u16* __restrict__ log)
{
    __shared__ u16 table[64];
    u32 pair = blockIdx.x / symbol_blocks;
    u32 p = (blockIdx.x % symbol_blocks) * blockDim.x + threadIdx.x;
    u32 i = pair % dist;
    u32 r = (pair / dist) * 2u * dist;
    u32 log_m = skew[r + dist + skew_delta - 1u];
    fill_table(table, log_m, exp, log);
    __syncthreads();
    if (p >= bytes / 2) return;
    u64 codeword = first_codeword + blockIdx.z;
    u8* a = shard_at(work, codeword, work_count, pos + r + i, bytes);
    u8* b = a + (u64)dist * bytes;
    u32 lo, hi;
    symbol_offsets(p, bytes, &lo, &hi);
    u16 x = (u16)(a[lo] | (a[hi] << 8));
    u16 y = (u16)(b[lo] | (b[hi] << 8));
    if (inverse) {
        y ^= x;
        if (log_m != GF_MODULUS) x ^= mul_table(table, y);
    } else {
        if (log_m != GF_MODULUS) x ^= mul_table(table, y);
        y ^= x;
    }
    a[lo] = (u8)x;
    a[hi] = (u8)(x >> 8);
    b[lo] = (u8)y;
    b[hi] = (u8)(y >> 8);
}

// Shard first + s is multiplied by exp(factors[s]), zeroed (FACTOR_ZERO) or kept (FACTOR_KEEP).
// Grid x: shard * symbol_blocks + symbol block; grid z: codewords.
extern "C" __global__ void rs_scale(
    u8* work, u32 work_count, u32 bytes, u32 symbol_blocks, u32 first,
    const u32* __restrict__ factors, u64 first_codeword,
    const u16* __restrict__ exp, const u16* __restrict__ log)
{
    __shared__ u16 table[64];
    u32 s = blockIdx.x / symbol_blocks;
    u32 p = (blockIdx.x % symbol_blocks) * blockDim.x + threadIdx.x;
    u32 factor = factors[s];
    if (factor == FACTOR_KEEP) return;
    if (factor != FACTOR_ZERO) fill_table(table, factor, exp, log);
    __syncthreads();
    if (p >= bytes / 2) return;
    u8* shard = shard_at(work, first_codeword + blockIdx.z, work_count, first + s, bytes);
    u32 lo, hi;
    symbol_offsets(p, bytes, &lo, &hi);
    u16 x = 0;
    if (factor != FACTOR_ZERO) x = mul_table(table, (u16)(shard[lo] | (shard[hi] << 8)));
    shard[lo] = (u8)x;
    shard[hi] = (u8)(x >> 8);
}

// Whole shards, 16 bits at a time (bytes is even and every shard starts at an even offset):
// op 0 zeroes to[to_first + s], op 1 copies from[from_first + s] into it, op 2 XORs it in.
// Within one buffer the ranges never overlap. Grid x: 16-bit words of `count` shards; z: codewords.
extern "C" __global__ void rs_shards(
    u8* to, const u8* from, u32 to_stride, u32 from_stride, u32 to_first, u32 from_first,
    u32 count, u32 bytes, u32 op, u64 first_codeword)
{
    u64 e = (u64)blockIdx.x * blockDim.x + threadIdx.x;
    u32 words = bytes / 2;
    if (e >= (u64)count * words) return;
    u32 s = (u32)(e / words), w = (u32)(e % words);
    u64 codeword = first_codeword + blockIdx.z;
    u16* dst = (u16*)shard_at(to, codeword, to_stride, to_first + s, bytes) + w;
    if (op == 0) {
        *dst = 0;
        return;
    }
    u16 v = *((const u16*)shard_at((u8*)from, codeword, from_stride, from_first + s, bytes) + w);
    *dst = op == 1 ? v : (u16)(*dst ^ v);
}

// Copies shard from_positions[s] of each codeword of `from` to shard to_positions[s] of the same
// codeword of `to` (placing inputs in the work array, taking outputs out of it).
extern "C" __global__ void rs_move(
    u8* to, const u8* __restrict__ from, u32 to_stride, u32 from_stride,
    const u32* __restrict__ to_positions, const u32* __restrict__ from_positions,
    u32 count, u32 bytes, u64 first_codeword)
{
    u64 e = (u64)blockIdx.x * blockDim.x + threadIdx.x;
    u32 words = bytes / 2;
    if (e >= (u64)count * words) return;
    u32 s = (u32)(e / words), w = (u32)(e % words);
    u64 codeword = first_codeword + blockIdx.z;
    u16* dst = (u16*)shard_at(to, codeword, to_stride, to_positions[s], bytes) + w;
    *dst = *((const u16*)shard_at((u8*)from, codeword, from_stride, from_positions[s], bytes) + w);
}

// reed-solomon-simd's formal derivative over shards 0 .. len (a power of two), out of place:
// shard j gains old shard j + 2^t for each clear bit t of j whose step (j | (2^t - 1)) + 1 is
// below len. Grid x: 16-bit words of all work_count shards; z: codewords.
extern "C" __global__ void rs_derivative(
    u8* out, const u8* __restrict__ in, u32 work_count, u32 bytes, u32 len, u64 first_codeword)
{
    u64 e = (u64)blockIdx.x * blockDim.x + threadIdx.x;
    u32 words = bytes / 2;
    if (e >= (u64)work_count * words) return;
    u32 j = (u32)(e / words), w = (u32)(e % words);
    u64 codeword = first_codeword + blockIdx.z;
    u16 v = *((const u16*)shard_at((u8*)in, codeword, work_count, j, bytes) + w);
    if (j < len) {
        for (u32 t = 0; (1u << t) < len; ++t) {
            u32 bit = 1u << t;
            if ((j & bit) == 0 && (j | (bit - 1u)) + 1u < len) {
                v ^= *((const u16*)shard_at((u8*)in, codeword, work_count, j + bit, bytes) + w);
            }
        }
    }
    *((u16*)shard_at(out, codeword, work_count, j, bytes) + w) = v;
}

// The whole program in one launch (zg_systems::erasure::fused): a thread runs every step for
// one symbol position of one codeword on its own column of the work array, so device memory is
// read once (the inputs) and written once (the outputs). The butterflies' nibble tables are
// copied into shared memory first. Grid x: symbol blocks; grid z: codewords.
#define FUSED_MAX_WORK 256u
#define FUSED_MAX_TABLES 320u
#define OP_END 0u
#define OP_ZERO 1u
#define OP_COPY 2u
#define OP_XOR 3u
#define OP_BUTTERFLIES 4u
#define OP_SCALE 5u
#define OP_DERIVATIVE 6u

extern "C" __global__ void rs_program(
    const u8* __restrict__ inputs, u8* __restrict__ outputs,
    u32 input_count, u32 output_count,
    const u32* __restrict__ placed, const u32* __restrict__ taken,
    u32 bytes, u32 work_count,
    const u32* __restrict__ code, const u16* __restrict__ tables, u32 table_count,
    u64 first_codeword, const u16* __restrict__ exp, const u16* __restrict__ log)
{
    __shared__ u16 shared_tables[FUSED_MAX_TABLES * 64u];
    for (u32 i = threadIdx.x; i < table_count * 64u; i += blockDim.x) shared_tables[i] = tables[i];
    __syncthreads();
    u32 p = blockIdx.x * blockDim.x + threadIdx.x;
    if (p >= bytes / 2) return;
    u64 codeword = first_codeword + blockIdx.z;
    u32 lo, hi;
    symbol_offsets(p, bytes, &lo, &hi);
    u16 col[FUSED_MAX_WORK];
    for (u32 i = 0; i < work_count; ++i) col[i] = 0;
    for (u32 i = 0; i < input_count; ++i) {
        const u8* shard = inputs + (codeword * input_count + i) * (u64)bytes;
        col[placed[i]] = (u16)(shard[lo] | (shard[hi] << 8));
    }
    u32 pc = 0;
    for (;;) {
        u32 op = code[pc];
        if (op == OP_END) break;
        if (op == OP_ZERO) {
            u32 first = code[pc + 1], count = code[pc + 2];
            for (u32 i = 0; i < count; ++i) col[first + i] = 0;
            pc += 3;
        } else if (op == OP_COPY) {
            u32 from = code[pc + 1], to = code[pc + 2], count = code[pc + 3];
            for (u32 i = 0; i < count; ++i) col[to + i] = col[from + i];
            pc += 4;
        } else if (op == OP_XOR) {
            u32 into = code[pc + 1], from = code[pc + 2], count = code[pc + 3];
            for (u32 i = 0; i < count; ++i) col[into + i] ^= col[from + i];
            pc += 4;
        } else if (op == OP_BUTTERFLIES) {
            u32 inverse = code[pc + 1], pos = code[pc + 2], dist = code[pc + 3], groups = code[pc + 4];
            for (u32 g = 0; g < groups; ++g) {
                u32 slot = code[pc + 5 + g];
                const u16* table = shared_tables + (slot == FACTOR_KEEP ? 0u : slot * 64u);
                u32 r = g * 2u * dist;
                for (u32 i = 0; i < dist; ++i) {
                    u32 a = pos + r + i, b = a + dist;
                    u16 x = col[a], y = col[b];
                    if (inverse) {
                        y ^= x;
                        if (slot != FACTOR_KEEP) x ^= mul_table(table, y);
                    } else {
                        if (slot != FACTOR_KEEP) x ^= mul_table(table, y);
                        y ^= x;
                    }
                    col[a] = x;
                    col[b] = y;
                }
            }
            pc += 5 + groups;
        } else if (op == OP_SCALE) {
            u32 first = code[pc + 1], count = code[pc + 2];
            for (u32 i = 0; i < count; ++i) {
                u32 factor = code[pc + 3 + i];
                if (factor == FACTOR_ZERO) col[first + i] = 0;
                else if (factor != FACTOR_KEEP) col[first + i] = gf_mul(col[first + i], factor, exp, log);
            }
            pc += 3 + count;
        } else if (op == OP_DERIVATIVE) {
            // In place, ascending: shard j reads only shards above it, not yet rewritten.
            u32 len = code[pc + 1];
            for (u32 j = 0; j < len; ++j) {
                for (u32 t = 0; (1u << t) < len; ++t) {
                    u32 bit = 1u << t;
                    if ((j & bit) == 0 && (j | (bit - 1u)) + 1u < len) col[j] ^= col[j + bit];
                }
            }
            pc += 2;
        } else {
            return;
        }
    }
    for (u32 i = 0; i < output_count; ++i) {
        u8* shard = outputs + (codeword * output_count + i) * (u64)bytes;
        u16 v = col[taken[i]];
        shard[lo] = (u8)v;
        shard[hi] = (u8)(v >> 8);
    }
}
