// One dense layer of an int8 model (zg_components::verifiable::QuantizedLayer) for a batch,
// bit for bit the CPU's zg_systems::verifiable::inference: acc = bias + W·x exactly (int8
// products, 64-bit sum), then either requantized, clamp((acc·M + 2^(S-1)) >> S, 0, 127) with an
// arithmetic (flooring) shift, or kept as a logit. An accumulator outside int32 raises the
// overflow flag: the CPU refuses such a model input, and so does the caller.
// Compiled at run time by NVRTC (src/gpu/int8.rs); grid: (outputs / 256, batch).
extern "C" __global__ void dense_int8(
    const signed char* __restrict__ weights,
    const int* __restrict__ bias,
    const signed char* __restrict__ input,
    signed char* __restrict__ activations,
    int* __restrict__ logits,
    int inputs,
    int outputs,
    int batch,
    long long multiplier,
    int shift,
    int relu,
    int* __restrict__ overflow)
{
    int o = blockIdx.x * blockDim.x + threadIdx.x;
    int b = blockIdx.y;
    if (o >= outputs || b >= batch) return;
    const signed char* row = weights + (long long)o * inputs;
    const signed char* x = input + (long long)b * inputs;
    long long acc = bias[o];
    for (int i = 0; i < inputs; ++i) {
        acc += (int)row[i] * (int)x[i];
    }
    if (acc > 2147483647LL || acc < -2147483648LL) {
        atomicOr(overflow, 1);
        acc = 0;
    }
    long long at = (long long)b * outputs + o;
    if (relu) {
        long long q = (acc * multiplier + (1LL << (shift - 1))) >> shift;
        activations[at] = (signed char)(q < 0 ? 0 : (q > 127 ? 127 : q));
    } else {
        logits[at] = (int)acc;
    }
}
