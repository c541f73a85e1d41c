// Runs assets/cuda/reed_solomon.cu on the CPU through the host's own launch list
// (src/gpu/erasure/plan.rs: what GpuErasure::run_on_device launches through cudarc), read from
// a text file. Usage: erasure_driver PLAN TABLES INPUTS OUTPUTS
//   PLAN lines:
//     buffer NAME BYTES           a zeroed device buffer ("inputs" is filled from INPUTS)
//     array NAME u32|u16 N v...   a buffer holding these values
//     launch KERNEL GX GY GZ BX ARG...   ARG: p:BUFFER (a pointer), u:N (u32), w:N (u64)
//     output NAME                 the buffer written to OUTPUTS at the end
//   TABLES: skew (65535 u16), exp (65536 u16), log (65536 u16), little-endian: the buffers
//   "skew", "exp" and "log".
// Each buffer lies between guard bytes; a launch that writes outside its buffers fails the run.
// A launch whose arguments are not its kernel's parameters in number and kind fails it too.
#include "emulate.hpp"
#include "../../assets/cuda/reed_solomon.cu"

#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

static const size_t GUARD = 4096;
static const u8 GUARD_BYTE = 0xA5;

struct DeviceBuffer {
    std::vector<u64> storage;  // u64 words: every element type is aligned
    size_t bytes = 0;
    u8* data() { return (u8*)storage.data() + GUARD; }
    void allocate(size_t n)
    {
        bytes = n;
        storage.assign((GUARD + n + GUARD + 7) / 8, 0);
        u8* all = (u8*)storage.data();
        std::memset(all, GUARD_BYTE, GUARD);
        std::memset(all + GUARD + n, GUARD_BYTE, storage.size() * 8 - GUARD - n);
    }
    bool guards_intact()
    {
        const u8* all = (const u8*)storage.data();
        for (size_t i = 0; i < GUARD; ++i)
            if (all[i] != GUARD_BYTE) return false;
        for (size_t i = GUARD + bytes; i < storage.size() * 8; ++i)
            if (all[i] != GUARD_BYTE) return false;
        return true;
    }
};

struct LaunchArg {
    char kind;
    std::string buffer;
    u64 value = 0;
};

[[noreturn]] static void fail(const std::string& why)
{
    std::fprintf(stderr, "%s\n", why.c_str());
    std::exit(1);
}

int main(int argc, char** argv)
{
    if (argc != 5) {
        std::fprintf(stderr, "usage: erasure_driver PLAN TABLES INPUTS OUTPUTS\n");
        return 2;
    }
    std::map<std::string, DeviceBuffer> buffers;
    std::vector<u8> tables = emu_read_file<u8>(argv[2]);
    if (tables.size() != 2 * (65535 + 65536 + 65536)) fail("tables: " + std::to_string(tables.size()) + " bytes");
    size_t offset = 0;
    for (auto [name, entries] : {std::pair<const char*, size_t>{"skew", 65535}, {"exp", 65536}, {"log", 65536}}) {
        buffers[name].allocate(entries * 2);
        std::memcpy(buffers[name].data(), tables.data() + offset, entries * 2);
        offset += entries * 2;
    }
    std::vector<u8> inputs = emu_read_file<u8>(argv[3]);
    std::string output;
    std::ifstream plan(argv[1]);
    std::string line;
    size_t launches = 0;
    while (std::getline(plan, line)) {
        std::istringstream fields(line);
        std::string word;
        fields >> word;
        if (word == "buffer") {
            std::string name;
            size_t bytes;
            if (!(fields >> name >> bytes)) fail("bad line: " + line);
            buffers[name].allocate(bytes);
            if (name == "inputs") {
                if (inputs.size() != bytes) fail("inputs: " + std::to_string(inputs.size()) + " bytes for a buffer of " + std::to_string(bytes));
                std::memcpy(buffers[name].data(), inputs.data(), bytes);
            }
        } else if (word == "array") {
            std::string name, type;
            size_t n;
            if (!(fields >> name >> type >> n) || (type != "u32" && type != "u16")) fail("bad line: " + line);
            size_t width = type == "u32" ? 4 : 2;
            DeviceBuffer& buffer = buffers[name];
            buffer.allocate(n * width);
            for (size_t i = 0; i < n; ++i) {
                u64 v;
                if (!(fields >> v)) fail("short array: " + name);
                if (width == 4) ((u32*)buffer.data())[i] = (u32)v;
                else ((u16*)buffer.data())[i] = (u16)v;
            }
        } else if (word == "output") {
            fields >> output;
        } else if (word == "launch") {
            std::string kernel;
            EmuDim grid, block;
            if (!(fields >> kernel >> grid.x >> grid.y >> grid.z >> block.x) || block.x == 0 || block.x > 1024) fail("bad line: " + line);
            std::vector<LaunchArg> args;
            std::string text;
            while (fields >> text) {
                if (text.size() < 3 || text[1] != ':') fail("bad argument " + text);
                LaunchArg arg{text[0], text.substr(2)};
                if (arg.kind == 'p') {
                    if (!buffers.count(arg.buffer)) fail(kernel + " names a buffer never made: " + arg.buffer);
                } else if (arg.kind == 'u' || arg.kind == 'w') {
                    arg.value = std::stoull(arg.buffer);
                } else {
                    fail("bad argument " + text);
                }
                args.push_back(arg);
            }
            // The kernel's parameters, in order: 'p' pointer, 'u' u32, 'w' u64.
            auto expect = [&](const char* kinds) {
                std::string got;
                for (auto& a : args) got += a.kind;
                if (got != kinds) fail(kernel + ": arguments " + got + ", the kernel takes " + kinds);
            };
            auto P = [&](size_t i) { return buffers[args[i].buffer].data(); };
            auto U = [&](size_t i) { return (u32)args[i].value; };
            auto W = [&](size_t i) { return args[i].value; };
            auto T = [&](size_t i) { return (const u16*)P(i); };
            auto N = [&](size_t i) { return (const u32*)P(i); };
            if (kernel == "rs_butterflies") {
                expect("puuuuuuuwppp");
                u8* w = P(0);
                u32 a1 = U(1), a2 = U(2), a3 = U(3), a4 = U(4), a5 = U(5), a6 = U(6), a7 = U(7);
                u64 a8 = W(8);
                const u16 *skew = T(9), *exp = T(10), *log = T(11);
                emu_launch(grid, block, [&] { rs_butterflies(w, a1, a2, a3, a4, a5, a6, a7, a8, skew, exp, log); });
            } else if (kernel == "rs_scale") {
                expect("puuuupwpp");
                u8* w = P(0);
                u32 a1 = U(1), a2 = U(2), a3 = U(3), a4 = U(4);
                const u32* factors = N(5);
                u64 a6 = W(6);
                const u16 *exp = T(7), *log = T(8);
                emu_launch(grid, block, [&] { rs_scale(w, a1, a2, a3, a4, factors, a6, exp, log); });
            } else if (kernel == "rs_shards") {
                expect("ppuuuuuuuw");
                u8 *to = P(0), *from = P(1);
                u32 a2 = U(2), a3 = U(3), a4 = U(4), a5 = U(5), a6 = U(6), a7 = U(7), a8 = U(8);
                u64 a9 = W(9);
                emu_launch(grid, block, [&] { rs_shards(to, from, a2, a3, a4, a5, a6, a7, a8, a9); });
            } else if (kernel == "rs_move") {
                expect("ppuuppuuw");
                u8 *to = P(0), *from = P(1);
                u32 a2 = U(2), a3 = U(3);
                const u32 *to_positions = N(4), *from_positions = N(5);
                u32 a6 = U(6), a7 = U(7);
                u64 a8 = W(8);
                emu_launch(grid, block, [&] { rs_move(to, from, a2, a3, to_positions, from_positions, a6, a7, a8); });
            } else if (kernel == "rs_derivative") {
                expect("ppuuuw");
                u8 *out = P(0), *in = P(1);
                u32 a2 = U(2), a3 = U(3), a4 = U(4);
                u64 a5 = W(5);
                emu_launch(grid, block, [&] { rs_derivative(out, in, a2, a3, a4, a5); });
            } else if (kernel == "rs_program") {
                expect("ppuuppuuppuwpp");
                const u8* in = P(0);
                u8* out = P(1);
                u32 a2 = U(2), a3 = U(3);
                const u32 *placed = N(4), *taken = N(5);
                u32 a6 = U(6), a7 = U(7);
                const u32* code = N(8);
                const u16* fused_tables = T(9);
                u32 a10 = U(10);
                u64 a11 = W(11);
                const u16 *exp = T(12), *log = T(13);
                emu_launch(grid, block, [&] { rs_program(in, out, a2, a3, placed, taken, a6, a7, code, fused_tables, a10, a11, exp, log); });
            } else {
                fail("no kernel " + kernel);
            }
            ++launches;
            for (auto& [name, buffer] : buffers)
                if (!buffer.guards_intact()) fail("launch " + std::to_string(launches) + " (" + kernel + ") wrote outside buffer " + name);
        } else if (!word.empty()) {
            fail("unknown line: " + line);
        }
    }
    if (!buffers.count(output)) fail("no output buffer " + output);
    DeviceBuffer& out = buffers[output];
    std::ofstream(argv[4], std::ios::binary).write((const char*)out.data(), (std::streamsize)out.bytes);
    return 0;
}
