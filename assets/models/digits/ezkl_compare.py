"""EZKL side by side with zgnode's halo2 circuit, on the same reference models.

Each digits model (int8 weights, int32 biases, requantization multiplier M / 2^16 per hidden
layer) is written as the float network it stands for — Gemm with W·s and b·s (s = M / 2^16),
ReLU, Clip at 127, the last Gemm unscaled — and handed to EZKL with the input private and
committed by Poseidon ("hashed", as zgnode commits it), the weights fixed in the circuit
(like zgnode's fixed columns) and the logits public. EZKL quantizes the floats itself
(calibrated for resources) and proves over BN254 with KZG; its SRS is generated locally here
(`gen_srs`: for testing only — a real deployment needs a ceremony, which IPA does not).

Run by hand (not by CI): python3 -m venv /tmp/ezkl-venv && /tmp/ezkl-venv/bin/pip install ezkl onnx numpy
then /tmp/ezkl-venv/bin/python assets/models/digits/ezkl_compare.py [runs]
It prints one JSON line per model: settings, setup/prove/verify times (median of runs), proof
size, and whether EZKL's class agrees with the int8 model's on the held-out inputs it proved.
"""

import json
import os
import statistics
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import TensorProto, helper

import ezkl

HERE = os.path.dirname(os.path.abspath(__file__))


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


def median_time(fn, runs):
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def compare(path, runs, work):
    model = json.load(open(path))
    name = model["name"]
    files = {k: os.path.join(work, f"{name}.{k}") for k in ["onnx", "settings", "compiled", "srs", "vk", "pk", "input", "witness", "proof", "calibration"]}
    onnx.save(float_network(model), files["onnx"])
    inputs = model["test"]["inputs"]
    json.dump({"input_data": [[float(v) for v in inputs[0]]]}, open(files["input"], "w"))
    json.dump({"input_data": [[float(v) for v in x] for x in inputs[:20]]}, open(files["calibration"], "w"))
    args = ezkl.PyRunArgs()
    args.input_visibility = "hashed"
    args.output_visibility = "public"
    args.param_visibility = "fixed"
    assert ezkl.gen_settings(files["onnx"], files["settings"], py_run_args=args)
    ezkl.calibrate_settings(files["calibration"], files["onnx"], files["settings"], "resources")
    assert ezkl.compile_circuit(files["onnx"], files["compiled"], files["settings"])
    settings = json.load(open(files["settings"]))
    logrows = settings["run_args"]["logrows"]
    ezkl.gen_srs(files["srs"], logrows)
    started = time.perf_counter()
    assert ezkl.setup(files["compiled"], files["vk"], files["pk"], files["srs"])
    setup_s = time.perf_counter() - started

    agree = 0
    checked = min(3, len(inputs))
    prove_s, verify_s = [], []
    for i in range(checked):
        json.dump({"input_data": [[float(v) for v in inputs[i]]]}, open(files["input"], "w"))
        witness = ezkl.gen_witness(files["input"], files["compiled"], files["witness"])
        outputs = [ezkl.felt_to_int(v) for v in witness["outputs"][0]]
        agree += int(np.argmax(outputs) == model["test"]["predictions"][i])
        prove_s.append(median_time(lambda: ezkl.prove(files["witness"], files["compiled"], files["pk"], files["proof"], files["srs"]), runs))
        verify_s.append(median_time(lambda: ezkl.verify(files["proof"], files["settings"], files["vk"], files["srs"]), runs * 3))
    proof = json.load(open(files["proof"]))
    proof_bytes = len(bytes.fromhex(proof["proof"][2:] if isinstance(proof["proof"], str) else "")) if isinstance(proof.get("proof"), str) else len(proof.get("proof", []))
    return {
        "model": name,
        "ezkl": ezkl.__version__,
        "logrows": logrows,
        "input_scale": settings["run_args"]["input_scale"],
        "param_scale": settings["run_args"]["param_scale"],
        "lookup_range": settings["run_args"].get("lookup_range"),
        "num_inner_cols": settings["run_args"].get("num_inner_cols"),
        "setup_s": round(setup_s, 3),
        "prove_s": round(statistics.median(prove_s), 3),
        "verify_ms": round(statistics.median(verify_s) * 1e3, 1),
        "proof_bytes": proof_bytes,
        "class_agrees_with_int8": f"{agree}/{checked}",
        "cores": os.cpu_count(),
    }


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    with tempfile.TemporaryDirectory() as work:
        for name in ["digits-small", "digits-large"]:
            print(json.dumps(compare(os.path.join(HERE, f"{name}.json"), runs, work)), flush=True)


if __name__ == "__main__":
    main()
