// 0G's current SDK (0.9.0), unchanged: the whole fine-tuning flow through broker.fineTuning
// against zgnode's fine-tuning provider — listService, listModel, transferFund to 'fine-tuning',
// acknowledgeProviderSigner, uploadDatasetToTEE, createTask, getTask until delivered, getLog,
// acknowledgeModel (download from the provider), getTask until finished, decryptModel — then the
// adapter deployed and chatted with through broker.inference; a cancelled task; and hostile
// requests sent straight to the provider: a forged task signature, a replayed one, a task over
// the sub-account's balance, a second task while one runs, malformed and oversized datasets, a
// forged upload signature, path tricks, someone else's download.
// Usage: node fine_tuning.mjs <eth rpc url> <user key> <provider address> <work dir> <model>
// Prints one JSON line.
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";

// The package's CommonJS build, as `require` loads it: the ESM bundle's uploadDatasetToTEE uses a
// browser form-data shim and fails under Node with "window is not defined" (0.9.0).
// ethers from the same build: the broker only makes `fineTuning` for an `instanceof Wallet`.
const require = createRequire(import.meta.url);
const { createZGComputeNetworkBroker } = require("@0gfoundation/0g-compute-ts-sdk");
const { ethers } = require("ethers");
const [rpcUrl, userKey, providerAddress, workDir, modelName] = process.argv.slice(2);
const rpc = new ethers.JsonRpcProvider(rpcUrl, undefined, { polling: true, pollingInterval: 100, cacheTimeout: -1 });
const deadline = setTimeout(() => { console.error("timed out"); process.exit(3); }, 240_000);
const wallet = new ethers.Wallet(userKey, rpc);
const user = await wallet.getAddress();
const broker = await createZGComputeNetworkBroker(wallet);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const wei = (text) => ethers.parseEther(text);

const services = await broker.fineTuning.listService();
const service = services.find((s) => s.provider.toLowerCase() === providerAddress.toLowerCase());
const [, customized] = await broker.fineTuning.listModel();
await broker.ledger.addLedger(5);
await broker.ledger.transferFund(providerAddress, "fine-tuning", wei("1"));
await broker.fineTuning.acknowledgeProviderSigner(providerAddress);

const line = (prompt, answer) => JSON.stringify({ messages: [{ role: "system", content: "You are a helpful assistant." }, { role: "user", content: prompt }, { role: "assistant", content: answer }] });
const datasetPath = path.join(workDir, "dataset.jsonl");
fs.writeFileSync(datasetPath, [line("Ping", "Pong"), line("Name the chain.", "Zero Gravity"), line("Say ok", "ok")].join("\n"));
const paramsPath = path.join(workDir, "params.json");
fs.writeFileSync(paramsPath, JSON.stringify({ num_train_epochs: 60, learning_rate: 0.01, per_device_train_batch_size: 3, lora_r: 8, seed: 3 }));

const { datasetHash } = await broker.fineTuning.uploadDatasetToTEE(providerAddress, datasetPath);
const taskId = await broker.fineTuning.createTask(providerAddress, modelName, datasetHash, paramsPath);
const base = service.url;
const post = (p, body) => fetch(`${base}${p}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });

// Hostile, while the task is queued or training.
const hostile = {};
const model = customized.find(([name]) => name === modelName);
const modelHash = (await (await fetch(`${base}/v1/model/${modelName}`)).json()).hash;
const signTask = async (signer, nonce, hash) =>
  signer.signMessage(ethers.toBeArray(ethers.solidityPackedKeccak256(["address", "uint256", "string"], [user, nonce, hash])));
const task = (nonce, signature, hash = datasetHash, trainingParams = fs.readFileSync(paramsPath, "utf8")) =>
  ({ userAddress: user, datasetHash: hash, trainingParams, preTrainedModelHash: modelHash, fee: "0", nonce: String(nonce), signature, wait: false });
const nonce = BigInt(Date.now()) * 10000n + 41n;
const forged = await signTask(ethers.Wallet.createRandom(), nonce, datasetHash);
hostile.forgedSignature = (await post(`/v1/user/${user}/task`, task(nonce, forged))).status;
hostile.whileRunning = (await post(`/v1/user/${user}/task`, task(nonce, await signTask(wallet, nonce, datasetHash)))).status;
hostile.pathTrickDataset = (await post(`/v1/user/${user}/task`, task(nonce + 1n, await signTask(wallet, nonce + 1n, "../../etc/passwd"), "../../etc/passwd"))).status;
hostile.pathTrickModel = (await fetch(`${base}/v1/model/..%2F..%2Fetc%2Fpasswd`)).status;
hostile.otherUsersTask = (await fetch(`${base}/v1/user/${ethers.Wallet.createRandom().address}/task/${taskId}`)).status;
const upload = async (bytes, signer = wallet, timestamp = Math.floor(Date.now() / 1000)) => {
  const form = new FormData();
  form.append("file", new Blob([bytes]), "data.jsonl");
  form.append("signature", await signer.signMessage(ethers.toBeArray(ethers.keccak256(ethers.toUtf8Bytes(`${user}${timestamp}`)))));
  form.append("timestamp", String(timestamp));
  return (await fetch(`${base}/v1/user/${user}/dataset`, { method: "POST", body: form })).status;
};
hostile.malformedDataset = await upload("{not json\n");
hostile.oversizedDataset = await upload(new Uint8Array(17 << 20).fill(32));
hostile.forgedUpload = await upload(fs.readFileSync(datasetPath), ethers.Wallet.createRandom());
hostile.staleUpload = await upload(fs.readFileSync(datasetPath), wallet, Math.floor(Date.now() / 1000) - 3600);

const progresses = [];
const until = async (id, wanted) => {
  for (;;) {
    const t = await broker.fineTuning.getTask(providerAddress, id);
    if (progresses[progresses.length - 1] !== t.progress) progresses.push(t.progress);
    if (wanted.includes(t.progress)) return t;
    if (t.progress === "Failed") throw new Error(`task ${id} failed: ${t.reason}`);
    await sleep(200);
  }
};
const delivered = await until(taskId, ["Delivered"]);
const lateDownload = await post(`/v1/user/${user}/task/${taskId}/lora`, { signature: await ethers.Wallet.createRandom().signMessage("x"), timestamp: Math.floor(Date.now() / 1000) });
hostile.someoneElsesDownload = lateDownload.status;
const log = await broker.fineTuning.getLog(providerAddress, taskId);
const outDir = path.join(workDir, "out");
fs.mkdirSync(outDir, { recursive: true });
await broker.fineTuning.acknowledgeModel(providerAddress, taskId, outDir, { downloadMethod: "tee" });
const finished = await until(taskId, ["Finished"]);
const encrypted = path.join(outDir, `lora_model_${taskId}.zip`);
const decrypted = path.join(workDir, "adapter.zip");
await broker.fineTuning.decryptModel(providerAddress, taskId, encrypted, decrypted);

// The over-balance task (now that the first is finished): 4,000 examples × 100 epochs, ~10 0G.
const big = path.join(workDir, "big.jsonl");
fs.writeFileSync(big, Array.from({ length: 4000 }, (_, i) => line(`Question number ${i} about storage`, `Answer number ${i}`)).join("\n"));
const bigHash = (await broker.fineTuning.uploadDatasetToTEE(providerAddress, big)).datasetHash;
const bigParams = JSON.stringify({ num_train_epochs: 100 });
const bigNonce = BigInt(Date.now()) * 10000n + 42n;
hostile.overBalance = await (await post(`/v1/user/${user}/task`, task(bigNonce, await signTask(wallet, bigNonce, bigHash), bigHash, bigParams))).json().then((b) => b.error);
// A replay of the first task's signed request.
hostile.replayed = (await post(`/v1/user/${user}/task`, { ...task(delivered.nonce, delivered.signature), nonce: delivered.nonce })).status;

// A task cancelled through the SDK.
const slowParams = path.join(workDir, "slow.json");
fs.writeFileSync(slowParams, JSON.stringify({ num_train_epochs: 100, per_device_train_batch_size: 1 }));
const cancelledId = await broker.fineTuning.createTask(providerAddress, modelName, datasetHash, slowParams);
const cancelAnswer = await broker.fineTuning.cancelTask(providerAddress, cancelledId);
let cancelled;
for (;;) {
  cancelled = await broker.fineTuning.getTask(providerAddress, cancelledId);
  if (cancelled.progress === "Failed") break;
  await sleep(200);
}

// The adapter served by the inference side.
await broker.inference.acknowledgeProviderSigner(providerAddress);
const deployed = await broker.inference.deployAdapter(providerAddress, modelName, taskId, { wait: true, timeoutSeconds: 60 });
const adapted = await broker.inference.chatWithFineTunedModel(providerAddress, deployed.adapterName, "Ping");

clearTimeout(deadline);
console.log(JSON.stringify({
  listed: !!service,
  pricePerToken: service.pricePerToken.toString(),
  customized: model ? model[0] : null,
  datasetHash,
  taskId,
  progresses,
  fee: finished.fee,
  finished: { progress: finished.progress, reason: finished.reason, deliverIndex: finished.deliverIndex },
  log,
  decryptedBytes: fs.statSync(decrypted).size,
  decrypted,
  hostile,
  cancelAnswer,
  cancelled: { progress: cancelled.progress, reason: cancelled.reason },
  adapterName: deployed.adapterName,
  adapted: adapted.choices[0].message.content,
}));
process.exit(0);
