// Runs one layer of assets/cuda/int8_dense.cu on the CPU for a batch, with the grid and block
// src/gpu/int8.rs launches (`launch_config`, passed in). Usage: int8_driver INPUTS OUTPUTS BATCH
// MULTIPLIER SHIFT RELU GX GY BX WEIGHTS BIAS X OUT, files little-endian: weights i8, bias i32, x i8; OUT is the
// overflow flag (i32) then the activations (i8, RELU = 1) or the logits (i32, RELU = 0).
#include "emulate.hpp"
#include "../../assets/cuda/int8_dense.cu"

#include <cstdio>
#include <fstream>
#include <string>

int main(int argc, char** argv)
{
    if (argc != 14) {
        std::fprintf(stderr, "usage: int8_driver INPUTS OUTPUTS BATCH MULTIPLIER SHIFT RELU GX GY BX WEIGHTS BIAS X OUT\n");
        return 2;
    }
    int inputs = std::stoi(argv[1]), outputs = std::stoi(argv[2]), batch = std::stoi(argv[3]);
    long long multiplier = std::stoll(argv[4]);
    int shift = std::stoi(argv[5]), relu = std::stoi(argv[6]);
    EmuDim grid{(unsigned)std::stoul(argv[7]), (unsigned)std::stoul(argv[8]), 1};
    const unsigned threads = (unsigned)std::stoul(argv[9]);
    std::vector<char> w = emu_read_file<char>(argv[10]), bias = emu_read_file<char>(argv[11]), x = emu_read_file<char>(argv[12]);
    std::vector<signed char> activations(relu ? (size_t)batch * outputs : 1, 0);
    std::vector<int> logits(relu ? 1 : (size_t)batch * outputs, 0);
    int overflow = 0;
    emu_launch(grid, EmuDim{threads}, [&] {
        dense_int8((const signed char*)w.data(), (const int*)bias.data(), (const signed char*)x.data(), activations.data(), logits.data(), inputs, outputs, batch, multiplier, shift, relu, &overflow);
    });
    std::ofstream out(argv[13], std::ios::binary);
    out.write((const char*)&overflow, 4);
    if (relu) out.write((const char*)activations.data(), (std::streamsize)activations.size());
    else out.write((const char*)logits.data(), (std::streamsize)(logits.size() * 4));
    return 0;
}
