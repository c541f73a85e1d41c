// Drives assets/cuda/reed_solomon.cu on the CPU the way src/gpu/erasure/mod.rs drives it on a
// GPU (run_on_device: place the inputs, one launch a step, take the outputs), reading the
// program from a text file. Usage: erasure_driver PROGRAM TABLES INPUTS OUTPUTS
//   PROGRAM: "bytes W", "work_count N", "codewords C", optionally "max_launch M" (codewords a
//            launch covers: the host's slices of 65,535, smaller here so that launches past
//            the first slice are exercised), "inputs n p...", "outputs n q...",
//            then steps: "zero first count", "copy from to count", "xor into from count",
//            "bfly inverse pos dist truncated skew_delta", "scale first n f...", "deriv len";
//            or, for the fused kernel (one launch for the whole program), "code n c..." and
//            "tables n t..." (zg_systems::erasure::fused) instead of steps.
//   TABLES: skew (65535 u16), exp (65536 u16), log (65536 u16), little-endian.
#include "emulate.hpp"
#include "../../assets/cuda/reed_solomon.cu"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <utility>

// The host's block size (src/gpu/erasure/mod.rs: THREADS).
static const unsigned THREADS = 256;

int main(int argc, char** argv)
{
    if (argc != 5) {
        std::fprintf(stderr, "usage: erasure_driver PROGRAM TABLES INPUTS OUTPUTS\n");
        return 2;
    }
    std::ifstream program(argv[1]);
    std::vector<u8> raw_tables = emu_read_file<u8>(argv[2]);
    std::vector<u16> tables(raw_tables.size() / 2);
    for (size_t i = 0; i < tables.size(); ++i) tables[i] = (u16)(raw_tables[2 * i] | (raw_tables[2 * i + 1] << 8));
    if (tables.size() != 65535 + 65536 + 65536) {
        std::fprintf(stderr, "tables: %zu entries\n", tables.size());
        return 2;
    }
    const u16* skew = tables.data();
    const u16* exp = skew + 65535;
    const u16* log = exp + 65536;
    std::vector<u8> inputs = emu_read_file<u8>(argv[3]);

    u32 bytes = 0, work_count = 0;
    u64 codewords = 0, max_launch = 65535;
    std::vector<u32> placed, taken;
    std::vector<u8> work, scratch;
    std::vector<u32> code;
    std::vector<u16> fused_tables;
    std::string line;
    auto symbol_blocks = [&] { return (bytes / 2 + THREADS - 1) / THREADS; };
    auto words_blocks = [&](u64 count) { return (unsigned)((count * (bytes / 2) + THREADS - 1) / THREADS); };
    // Each launch over the codewords in slices of max_launch, the slice's first codeword passed
    // as the kernels' first_codeword, as the host launches them.
    auto sliced = [&](unsigned x, auto&& launch) {
        for (u64 first = 0; first < codewords; first += max_launch) {
            u64 count = codewords - first < max_launch ? codewords - first : max_launch;
            u64 base = first;
            emu_launch(EmuDim{x, 1, (unsigned)count}, EmuDim{THREADS}, [&] { launch(base); });
        }
    };
    while (std::getline(program, line)) {
        std::istringstream fields(line);
        std::string word;
        fields >> word;
        if (word == "bytes") fields >> bytes;
        else if (word == "work_count") fields >> work_count;
        else if (word == "max_launch") fields >> max_launch;
        else if (word == "codewords") {
            fields >> codewords;
            work.assign(codewords * work_count * bytes, 0);
            scratch.assign(work.size(), 0);
        } else if (word == "inputs" || word == "outputs") {
            u32 n, p;
            fields >> n;
            std::vector<u32>& list = word == "inputs" ? placed : taken;
            while (n-- && fields >> p) list.push_back(p);
            if (word == "inputs") {
                std::vector<u32> order(placed.size());
                for (u32 i = 0; i < order.size(); ++i) order[i] = i;
                u32 count = (u32)placed.size();
                u8* w = work.data();
                const u8* from = inputs.data();
                sliced(words_blocks(count), [&](u64 first) { rs_move(w, from, work_count, count, placed.data(), order.data(), count, bytes, first); });
            }
        } else if (word == "zero" || word == "copy" || word == "xor") {
            u32 a, b, count;
            u32 to_first, from_first, op;
            if (word == "zero") { fields >> a >> count; to_first = a; from_first = 0; op = 0; }
            else if (word == "copy") { fields >> a >> b >> count; from_first = a; to_first = b; op = 1; }
            else { fields >> a >> b >> count; to_first = a; from_first = b; op = 2; }
            if (count == 0) continue;
            u8* w = work.data();
            sliced(words_blocks(count), [&](u64 first) { rs_shards(w, w, work_count, work_count, to_first, from_first, count, bytes, op, first); });
        } else if (word == "bfly") {
            u32 inverse, pos, dist, truncated, skew_delta;
            fields >> inverse >> pos >> dist >> truncated >> skew_delta;
            u32 pairs = (truncated + 2 * dist - 1) / (2 * dist) * dist;
            if (pairs == 0) continue;
            u32 blocks = symbol_blocks();
            u8* w = work.data();
            sliced(pairs * blocks, [&](u64 first) { rs_butterflies(w, work_count, bytes, blocks, pos, dist, skew_delta, inverse, first, skew, exp, log); });
        } else if (word == "scale") {
            u32 first, n, f;
            fields >> first >> n;
            std::vector<u32> factors;
            while (n-- && fields >> f) factors.push_back(f);
            if (factors.empty()) continue;
            u32 blocks = symbol_blocks();
            u8* w = work.data();
            sliced((unsigned)factors.size() * blocks, [&](u64 base) { rs_scale(w, work_count, bytes, blocks, first, factors.data(), base, exp, log); });
        } else if (word == "deriv") {
            u32 len;
            fields >> len;
            u8* out = scratch.data();
            const u8* in = work.data();
            sliced(words_blocks(work_count), [&](u64 first) { rs_derivative(out, in, work_count, bytes, len, first); });
            std::swap(work, scratch);
        } else if (word == "code" || word == "tables") {
            u32 n, v;
            fields >> n;
            if (word == "code") { while (n-- && fields >> v) code.push_back(v); }
            else { while (n-- && fields >> v) fused_tables.push_back((u16)v); }
        } else if (!word.empty()) {
            std::fprintf(stderr, "unknown line: %s\n", line.c_str());
            return 2;
        }
    }
    std::vector<u8> outputs(codewords * taken.size() * bytes, 0);
    if (!code.empty()) {
        // The fused kernel: the whole program in one launch, inputs straight to outputs.
        u32 inputs_n = (u32)placed.size(), outputs_n = (u32)taken.size(), table_count = (u32)(fused_tables.size() / 64);
        const u8* in = inputs.data();
        u8* out = outputs.data();
        sliced(symbol_blocks(), [&](u64 first) {
            rs_program(in, out, inputs_n, outputs_n, placed.data(), taken.data(), bytes, work_count, code.data(), fused_tables.data(), table_count, first, exp, log);
        });
    } else if (!taken.empty()) {
        std::vector<u32> order(taken.size());
        for (u32 i = 0; i < order.size(); ++i) order[i] = i;
        u32 count = (u32)taken.size();
        u8* to = outputs.data();
        const u8* from = work.data();
        sliced(words_blocks(count), [&](u64 first) { rs_move(to, from, count, work_count, order.data(), taken.data(), count, bytes, first); });
    }
    std::ofstream(argv[4], std::ios::binary).write((const char*)outputs.data(), (std::streamsize)outputs.size());
    return 0;
}
