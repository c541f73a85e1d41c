// 0G's current SDK (0.9.0), unchanged, against a provider holding a LoRA adapter trained by
// zgnode: listAdapters, deployAdapter (waits for "active"), getAdapterStatus,
// chatWithFineTunedModel; the same prompt to the base model for comparison; the adapted answer's
// signed record. Hostile: chatting with an adapter never deployed; deploying a path.
// Usage: node lora_chat.mjs <eth rpc url> <user key> <provider address> <task id> <base model>
// Prints one JSON line.
import { createZGComputeNetworkBroker } from "@0gfoundation/0g-compute-ts-sdk";
import { ethers } from "ethers";

const [rpcUrl, userKey, providerAddress, taskId, baseModel] = process.argv.slice(2);
const rpc = new ethers.JsonRpcProvider(rpcUrl, undefined, { polling: true, pollingInterval: 100, cacheTimeout: -1 });
const deadline = setTimeout(() => { console.error("timed out"); process.exit(3); }, 150_000);
const broker = await createZGComputeNetworkBroker(new ethers.Wallet(userKey, rpc));
await broker.ledger.addLedger(10);
await broker.inference.acknowledgeProviderSigner(providerAddress);
const listed = await broker.inference.listAdapters(providerAddress);
const { endpoint } = await broker.inference.getServiceMetadata(providerAddress);
const base = `${endpoint.replace(/\/v1\/proxy$/, "")}`;
const headers = await broker.inference.getRequestHeaders(providerAddress);
const post = (path, body) => fetch(`${base}${path}`, { method: "POST", headers: { "Content-Type": "application/json", ...headers }, body: JSON.stringify(body) });
const before = await post("/v1/proxy/chat/completions", { model: `ft-${baseModel}-${taskId.slice(0, 12)}`, messages: [{ role: "user", content: "Ping" }] });
const notDeployed = before.status;
const pathTrick = (await post("/v1/lora/adapters/deploy", { taskId: "../../etc", baseModel })).status;
const deployed = await broker.inference.deployAdapter(providerAddress, baseModel, taskId, { wait: true, timeoutSeconds: 60 });
const status = await broker.inference.getAdapterStatus(providerAddress, deployed.adapterName);
const adapted = await broker.inference.chatWithFineTunedModel(providerAddress, deployed.adapterName, "Ping");
const messages = [{ role: "system", content: "You are a helpful assistant." }, { role: "user", content: "Ping" }];
const plain = await (await post("/v1/proxy/chat/completions", { model: baseModel, messages })).json();
const signed = await (await fetch(`${base}/v1/proxy/signature/${adapted.id}`)).json();
clearTimeout(deadline);
console.log(JSON.stringify({
  listed: listed.map((a) => ({ name: a.adapterName, taskId: a.taskId, state: a.state })),
  adapterName: deployed.adapterName,
  state: status.state,
  adapted: adapted.choices[0].message.content,
  adaptedModel: adapted.model,
  base: plain.choices[0].message.content,
  record: JSON.parse(signed.text),
  notDeployed,
  pathTrick,
}));
process.exit(0);
