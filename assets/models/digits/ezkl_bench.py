"""EZKL's side of `zgnode bench proofs --ezkl PYTHON`: the same reference models, proved by EZKL.

Each digits model (int8 weights, int32 biases, requantization multiplier M / 2^shift per hidden
layer) is written as the float network it stands for — Gemm with W·s and b·s (s = M / 2^shift),
ReLU, Clip at 127, the last Gemm unscaled — with the input private and committed by Poseidon
("hashed", as zgnode commits it), the weights fixed in the circuit (like zgnode's fixed columns)
and the logits public. EZKL quantizes the floats itself.

The configuration closest to zgnode's exact int8 circuit: for each scale from the smallest up,
EZKL calibrates its resources at that scale; the first scale whose circuit gives the int8
model's class on every held-out digit is taken; then, at that scale, ever fewer rows (EZKL's
`max_logrows`) while EZKL can still lay the circuit out and every class still matches.
Then keys are made once and the first `inputs` held-out digits are proved and verified one by
one. EZKL's Python API reads the proving key, the compiled circuit and the SRS from files on
every call; they are kept on a RAM disk (tmpfs) so no call touches a disk, but each proof still
deserializes its key (its size is reported). Its SRS is generated locally (`gen_srs`, for
testing; KZG needs a ceremony, zgnode's IPA does not).

Usage: python ezkl_bench.py MODEL.json INPUTS WORKDIR — one JSON object on stdout.
"""

import json
import os
import statistics
import sys
import time

import numpy as np
import onnx
from onnx import TensorProto, helper

import ezkl

SCALES = range(0, 14)


def float_network(model):
    nodes, inits = [], []
    current = "input"
    for i, layer in enumerate(model["layers"]):
        w = np.array(layer["weights"], dtype=np.float32).reshape(layer["out"], layer["in"])
        b = np.array(layer["bias"], dtype=np.float32)
        if layer["relu"]:
            scale = layer["multiplier"] / float(1 << layer["shift"])
            w, b = w * scale, b * scale
        inits.append(helper.make_tensor(f"w{i}", TensorProto.FLOAT, w.shape, w.flatten().tolist()))
        inits.append(helper.make_tensor(f"b{i}", TensorProto.FLOAT, b.shape, b.tolist()))
        out = f"gemm{i}" if layer["relu"] else "logits"
        nodes.append(helper.make_node("Gemm", [current, f"w{i}", f"b{i}"], [out], transB=1))
        if layer["relu"]:
            nodes.append(helper.make_node("Relu", [out], [f"relu{i}"]))
            inits.append(helper.make_tensor(f"lo{i}", TensorProto.FLOAT, [], [0.0]))
            inits.append(helper.make_tensor(f"hi{i}", TensorProto.FLOAT, [], [127.0]))
            nodes.append(helper.make_node("Clip", [f"relu{i}", f"lo{i}", f"hi{i}"], [f"act{i}"]))
            current = f"act{i}"
    graph = helper.make_graph(
        nodes,
        model["name"],
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, model["input_len"]])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, model["layers"][-1]["out"]])],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def classes(files, inputs):
    """EZKL's class for each input (argmax of the circuit's logits), from its witnesses."""
    out = []
    for x in inputs:
        json.dump({"input_data": [[float(v) for v in x]]}, open(files["input"], "w"))
        witness = ezkl.gen_witness(files["input"], files["compiled"], files["witness"])
        out.append(int(np.argmax([ezkl.felt_to_int(v) for v in witness["outputs"][0]])))
    return out


def circuit_at(files, scale, max_logrows=None):
    args = ezkl.PyRunArgs()
    args.input_visibility = "hashed"
    args.output_visibility = "public"
    args.param_visibility = "fixed"
    args.input_scale = scale
    args.param_scale = scale
    assert ezkl.gen_settings(files["onnx"], files["settings"], py_run_args=args)
    ezkl.calibrate_settings(files["calibration"], files["onnx"], files["settings"], "resources", scales=[scale], max_logrows=max_logrows)
    assert ezkl.compile_circuit(files["onnx"], files["compiled"], files["settings"])
    return json.load(open(files["settings"]))


def main():
    path, inputs_to_prove, work = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    model = json.load(open(path))
    name = model["name"]
    files = {k: os.path.join(work, f"{name}.{k}") for k in ["onnx", "settings", "compiled", "srs", "vk", "pk", "input", "witness", "proof", "calibration"]}
    onnx.save(float_network(model), files["onnx"])
    held_out, int8 = model["test"]["inputs"], model["test"]["predictions"]
    json.dump({"input_data": [[float(v) for v in x] for x in held_out[:20]]}, open(files["calibration"], "w"))

    searched, chosen = [], None
    for scale in SCALES:
        try:
            settings = circuit_at(files, scale)
        except Exception as error:  # a scale EZKL cannot lay out is skipped, and said
            searched.append({"scale": scale, "error": str(error)[:200]})
            continue
        agree = sum(int(a == b) for a, b in zip(classes(files, held_out), int8))
        searched.append({"scale": scale, "logrows": settings["run_args"]["logrows"], "agree": agree})
        if agree == len(held_out):
            chosen = settings
            break
    if chosen is None:
        print(json.dumps({"model": name, "error": "no scale reproduced the int8 classes", "searched": searched}))
        return
    # Then fewer rows at that scale, while EZKL can still lay the circuit out in them and it
    # still gives every int8 class.
    scale = chosen["run_args"]["input_scale"]
    for max_logrows in range(chosen["run_args"]["logrows"] - 1, 9, -1):
        try:
            settings = circuit_at(files, scale, max_logrows)
        except Exception as error:
            searched.append({"scale": scale, "max_logrows": max_logrows, "error": str(error)[:200]})
            break
        if settings["run_args"]["logrows"] > max_logrows:
            searched.append({"scale": scale, "max_logrows": max_logrows, "logrows": settings["run_args"]["logrows"]})
            break
        agree = sum(int(a == b) for a, b in zip(classes(files, held_out), int8))
        searched.append({"scale": scale, "logrows": settings["run_args"]["logrows"], "agree": agree})
        if agree < len(held_out):
            break
        chosen = settings
    # The circuit proved is the chosen one (the last try may have written another).
    json.dump(chosen, open(files["settings"], "w"))
    assert ezkl.compile_circuit(files["onnx"], files["compiled"], files["settings"])

    logrows = chosen["run_args"]["logrows"]
    ezkl.gen_srs(files["srs"], logrows)
    started = time.perf_counter()
    assert ezkl.setup(files["compiled"], files["vk"], files["pk"], files["srs"])
    setup_s = time.perf_counter() - started

    prove_s, verify_s, proof_bytes = [], [], 0
    for x in held_out[:inputs_to_prove]:
        json.dump({"input_data": [[float(v) for v in x]]}, open(files["input"], "w"))
        ezkl.gen_witness(files["input"], files["compiled"], files["witness"])
        started = time.perf_counter()
        ezkl.prove(files["witness"], files["compiled"], files["pk"], files["proof"], files["srs"])
        prove_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        assert ezkl.verify(files["proof"], files["settings"], files["vk"], files["srs"])
        verify_s.append(time.perf_counter() - started)
        proof = json.load(open(files["proof"]))
        hex_proof = proof.get("hex_proof") or ""
        proof_bytes = len(bytes.fromhex(hex_proof[2:])) if hex_proof.startswith("0x") else len(proof.get("proof", []))
    run_args = chosen["run_args"]
    print(json.dumps({
        "model": name,
        "ezkl": ezkl.__version__,
        "logrows": logrows,
        "input_scale": run_args["input_scale"],
        "param_scale": run_args["param_scale"],
        "lookup_range": run_args.get("lookup_range"),
        "num_inner_cols": run_args.get("num_inner_cols"),
        "searched": searched,
        "setup_s": setup_s,
        "proved": len(prove_s),
        "prove_p50_s": statistics.median(prove_s),
        "prove_max_s": max(prove_s),
        "verify_p50_s": statistics.median(verify_s),
        "proof_bytes": proof_bytes,
        "pk_bytes": os.path.getsize(files["pk"]),
        "cores": os.cpu_count(),
    }))


if __name__ == "__main__":
    main()
