#!/usr/bin/env python3
"""Trains the verifiable-compute reference models on scikit-learn's bundled 8x8 digits (no
download) and exports them quantized to int8, in the format `zg_components::verifiable`
reads, with the held-out split and the integer inference's predictions on it (the Rust
inference must match them exactly).

    python3 -m venv .venv && .venv/bin/pip install numpy scikit-learn
    .venv/bin/python assets/models/digits/train.py    # writes digits-small.json, digits-large.json

Quantized arithmetic (the circuit proves exactly this):
  input      x_i = pixel value, 0..16 (int8)
  layer      acc_j = bias_j + sum_i W_ji * x_i              (W int8, bias and acc int32)
  hidden     y_j = clamp((acc_j * M + 2^(S-1)) >> S, 0, 127) (ReLU and requantization; >> floors)
  last       the class is the argmax of acc (the lowest index on ties)
"""
import json
import pathlib

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

SEED = 6
SHIFT = 16
HERE = pathlib.Path(__file__).resolve().parent


def train(sizes, x, y, epochs, rng):
    """Full-batch Adam on cross-entropy; ReLU hidden layers."""
    params = []
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        params.append([rng.normal(0, np.sqrt(2 / fan_in), (fan_out, fan_in)), np.zeros(fan_out)])
    moments = [[np.zeros_like(p) for p in layer] for layer in params]
    velocities = [[np.zeros_like(p) for p in layer] for layer in params]
    onehot = np.eye(sizes[-1])[y]
    for step in range(1, epochs + 1):
        activations = [x]
        for i, (w, b) in enumerate(params):
            z = activations[-1] @ w.T + b
            activations.append(np.maximum(z, 0) if i < len(params) - 1 else z)
        logits = activations[-1]
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        grad = (probs - onehot) / len(x)
        for i in reversed(range(len(params))):
            w, b = params[i]
            gw, gb = grad.T @ activations[i], grad.sum(axis=0)
            if i > 0:
                grad = (grad @ w) * (activations[i] > 0)
            for j, g in enumerate((gw, gb)):
                moments[i][j] = 0.9 * moments[i][j] + 0.1 * g
                velocities[i][j] = 0.999 * velocities[i][j] + 0.001 * g * g
                m_hat = moments[i][j] / (1 - 0.9**step)
                v_hat = velocities[i][j] / (1 - 0.999**step)
                params[i][j] -= 0.01 * m_hat / (np.sqrt(v_hat) + 1e-8)
    return params


def float_predict(params, x):
    a = x
    for i, (w, b) in enumerate(params):
        a = a @ w.T + b
        if i < len(params) - 1:
            a = np.maximum(a, 0)
    return a.argmax(axis=1)


def quantize(params, x_train):
    """int8 weights per layer (symmetric), int32 biases, (M, S) requantization per hidden layer
    chosen from the training set's activation range."""
    layers = []
    in_scale = 1 / 16  # a pixel's int value is its float value x 16
    a_float = x_train
    for i, (w, b) in enumerate(params):
        w_scale = np.abs(w).max() / 127
        w_int = np.clip(np.round(w / w_scale), -127, 127).astype(np.int64)
        acc_scale = in_scale * w_scale
        b_int = np.round(b / acc_scale).astype(np.int64)
        layer = {"in": w.shape[1], "out": w.shape[0], "weights": w_int.flatten().tolist(), "bias": b_int.tolist()}
        a_float = a_float @ w.T + b
        if i < len(params) - 1:
            a_float = np.maximum(a_float, 0)
            out_scale = max(a_float.max(), 1e-9) / 127
            multiplier = int(round(acc_scale / out_scale * 2**SHIFT))
            layer.update({"multiplier": multiplier, "shift": SHIFT, "relu": True})
            in_scale = out_scale
        else:
            layer.update({"multiplier": 1, "shift": 0, "relu": False})
        layers.append(layer)
    return layers


def int_predict(layers, x_int):
    a = x_int.astype(np.int64)
    for layer in layers:
        w = np.array(layer["weights"], dtype=np.int64).reshape(layer["out"], layer["in"])
        acc = a @ w.T + np.array(layer["bias"], dtype=np.int64)
        assert np.abs(acc).max() < 2**31, "int32 accumulators overflow"
        if layer["relu"]:
            shift = layer["shift"]
            a = np.clip((acc * layer["multiplier"] + (1 << (shift - 1))) >> shift, 0, 127)
        else:
            a = acc
    return a.argmax(axis=1)


def main():
    digits = load_digits()
    x_int = digits.data.astype(np.int64)  # 0..16
    x_train, x_test, y_train, y_test = train_test_split(x_int, digits.target, test_size=0.2, random_state=SEED, stratify=digits.target)
    for name, sizes, epochs in [("digits-small", [64, 32, 10], 400), ("digits-large", [64, 128, 96, 10], 400)]:
        rng = np.random.default_rng(SEED)
        params = train(sizes, x_train / 16, y_train, epochs, rng)
        float_accuracy = float((float_predict(params, x_test / 16) == y_test).mean())
        layers = quantize(params, x_train / 16)
        predictions = int_predict(layers, x_test)
        int8_accuracy = float((predictions == y_test).mean())
        parameters = sum(l["in"] * l["out"] + l["out"] for l in layers)
        model = {
            "name": name,
            "input_len": 64,
            "layers": layers,
            "parameters": parameters,
            "float_accuracy": float_accuracy,
            "int8_accuracy": int8_accuracy,
            "test": {"inputs": x_test.tolist(), "labels": y_test.tolist(), "predictions": predictions.tolist()},
        }
        (HERE / f"{name}.json").write_text(json.dumps(model, separators=(",", ":")) + "\n")
        print(f"{name}: {parameters} parameters, held-out {len(y_test)}: float {float_accuracy:.4f}, int8 {int8_accuracy:.4f}")


if __name__ == "__main__":
    main()
