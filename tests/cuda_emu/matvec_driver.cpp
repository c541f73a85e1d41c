// Runs assets/cuda/matvec.cu on the CPU with the grid and block src/gpu/matvec.rs launches
// (`launch_config`, passed in). Usage: matvec_driver KIND ROWS COLS GX BX WEIGHTS X OUT, KIND
// one of f32, f16, bf16, i8;
// WEIGHTS raw (f32, u16 bits or i8), X f32 (i8 for KIND i8), OUT f32 (i32 for i8), little-endian.
#include "emulate.hpp"
#include "../../assets/cuda/matvec.cu"

#include <cstdio>
#include <fstream>
#include <string>

int main(int argc, char** argv)
{
    if (argc != 9) {
        std::fprintf(stderr, "usage: matvec_driver KIND ROWS COLS GX BX WEIGHTS X OUT\n");
        return 2;
    }
    std::string kind = argv[1];
    u32 rows = (u32)std::stoul(argv[2]), cols = (u32)std::stoul(argv[3]);
    EmuDim grid{(unsigned)std::stoul(argv[4]), 1, 1};
    const unsigned threads = (unsigned)std::stoul(argv[5]);
    std::vector<char> w = emu_read_file<char>(argv[6]), x = emu_read_file<char>(argv[7]);
    std::vector<char> out(rows * 4, 0);
    float* y = (float*)out.data();
    if (kind == "f32") emu_launch(grid, EmuDim{threads}, [&] { matvec_f32((const float*)w.data(), (const float*)x.data(), y, rows, cols); });
    else if (kind == "f16") emu_launch(grid, EmuDim{threads}, [&] { matvec_f16((const u16*)w.data(), (const float*)x.data(), y, rows, cols); });
    else if (kind == "bf16") emu_launch(grid, EmuDim{threads}, [&] { matvec_bf16((const u16*)w.data(), (const float*)x.data(), y, rows, cols); });
    else if (kind == "i8") emu_launch(grid, EmuDim{threads}, [&] { matvec_i8((const signed char*)w.data(), (const signed char*)x.data(), (int*)out.data(), rows, cols); });
    else return 2;
    std::ofstream(argv[8], std::ios::binary).write(out.data(), (std::streamsize)out.size());
    return 0;
}
