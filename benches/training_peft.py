"""The baseline `zgnode bench training` runs beside its own trainer: LoRA with PyTorch + PEFT on
the CPU, on the same model directory, the same token sequences in the same batches and the same
hyper-parameters (rank, alpha, target modules, AdamW without weight decay, learning rate). Each
example's loss is the mean cross-entropy of its answer tokens; a step's loss the batch mean, as
zgnode computes it. Prints one JSON line: {losses, seconds, tokens}.

Usage: python3 training_peft.py MODEL_DIR PLAN_JSON   (needs torch, transformers, peft)
"""

import json
import os
import sys
import time

import torch
from peft import LoraConfig, get_peft_model
from transformers import LlamaForCausalLM


def main() -> None:
    model_dir, plan_path = sys.argv[1], sys.argv[2]
    with open(plan_path) as f:
        plan = json.load(f)
    torch.manual_seed(plan["seed"])
    torch.set_num_threads(os.cpu_count() or 1)
    model = LlamaForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32)
    config = LoraConfig(
        r=plan["rank"],
        lora_alpha=plan["alpha"],
        target_modules=plan["target_modules"],
        lora_dropout=0.0,
        bias="none",
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(model, config)
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=plan["learning_rate"], weight_decay=0.0)
    examples = [(torch.tensor([e["tokens"]]), e["answer_from"]) for e in plan["examples"]]
    losses, tokens = [], 0
    started = time.perf_counter()
    for batch in plan["batches"]:
        optimizer.zero_grad()
        total = None
        for index in batch:
            ids, answer_from = examples[index]
            logits = model(input_ids=ids[:, :-1]).logits[0]
            loss = torch.nn.functional.cross_entropy(logits[answer_from - 1 :], ids[0, answer_from:])
            total = loss if total is None else total + loss
            tokens += ids.shape[1]
        loss = total / len(batch)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    print(json.dumps({"losses": losses, "seconds": time.perf_counter() - started, "tokens": tokens}))


if __name__ == "__main__":
    main()
