// 0G's official compute user SDK, unchanged, against `zgnode dev`'s built-in provider: the user
// opens a ledger, finds the service, acknowledges the provider, gets request headers, calls
// the OpenAI-compatible endpoint with fetch (plain and streaming), verifies each response
// through processResponse, and sees the provider settle exactly the fees of what it served.
// Hostile calls (no token, a forged token, a user without a sub-account) are refused.
// Usage: node chat.mjs <eth rpc url> <user key> <provider address> <stranger key>
// Prints "all chat checks passed" last.
import { createZGComputeNetworkBroker } from "@0glabs/0g-serving-broker";
import { ethers } from "ethers";

const [rpcUrl, userKey, providerAddress, strangerKey] = process.argv.slice(2);
const rpc = new ethers.JsonRpcProvider(rpcUrl, undefined, { polling: true, pollingInterval: 100, cacheTimeout: -1 });
const user = new ethers.Wallet(userKey, rpc);
const deadline = setTimeout(() => { console.error("timed out"); process.exit(3); }, 150_000);
const check = (ok, what) => { if (!ok) { console.error("FAILED:", what); process.exit(1); } console.log("ok:", what); };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const broker = await createZGComputeNetworkBroker(user);
await broker.ledger.addLedger(10);
const services = await broker.inference.listService();
const service = services.find((s) => s.provider === providerAddress);
check(service && service.model === "zg-tiny-llama" && service.teeSignerAcknowledged && service.verifiability === "TeeML", "listService shows zgnode dev's built-in provider, acknowledged");
await broker.inference.acknowledgeProviderSigner(providerAddress);
const { endpoint, model } = await broker.inference.getServiceMetadata(providerAddress);
check(endpoint === `${service.url}/v1/proxy` && model === "zg-tiny-llama", "getServiceMetadata gives the proxy endpoint");

const headers = await broker.inference.getRequestHeaders(providerAddress);
const before = await broker.inference.getAccount(providerAddress);
const fee = (usage) => BigInt(usage.prompt_tokens) * service.inputPrice + BigInt(usage.completion_tokens) * service.outputPrice;

// A plain completion.
let response = await fetch(`${endpoint}/chat/completions`, {
  method: "POST",
  headers: { "Content-Type": "application/json", ...headers },
  body: JSON.stringify({ model, messages: [{ role: "user", content: "Say hello to 0G." }], max_tokens: 16 }),
});
check(response.ok, `chat/completions answers 200 (got ${response.status})`);
const completion = await response.json();
const chatId = response.headers.get("ZG-Res-Key");
check(chatId && chatId === completion.id && completion.choices[0].message.role === "assistant", "the chat id comes in ZG-Res-Key");
check(completion.usage.completion_tokens > 0 && completion.usage.completion_tokens <= 16, "usage is metered within max_tokens");
check(await broker.inference.processResponse(providerAddress, chatId, JSON.stringify(completion.usage)) === true, "processResponse verifies the signature");

// A streamed completion.
response = await fetch(`${endpoint}/chat/completions`, {
  method: "POST",
  headers: { "Content-Type": "application/json", ...headers },
  body: JSON.stringify({ model, messages: [{ role: "user", content: "Stream, please." }], max_tokens: 12, stream: true }),
});
check(response.ok && response.headers.get("content-type").startsWith("text/event-stream"), "a streamed completion is an event stream");
const streamId = response.headers.get("ZG-Res-Key");
const events = (await response.text()).split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6));
check(events.at(-1) === "[DONE]", "the stream ends with [DONE]");
const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
const streamUsage = chunks.at(-1).usage;
check(chunks.every((c) => c.id === streamId && c.object === "chat.completion.chunk") && streamUsage.completion_tokens > 0, "chunks carry the chat id; the last one the usage");
check(await broker.inference.processResponse(providerAddress, streamId, JSON.stringify(streamUsage)) === true, "processResponse verifies the streamed response");

// Hostile calls.
const post = (h) => fetch(`${endpoint}/chat/completions`, { method: "POST", headers: { "Content-Type": "application/json", ...h }, body: JSON.stringify({ messages: [{ role: "user", content: "x" }] }) });
response = await post({});
check(response.status === 401 && /Authorization/.test((await response.json()).error.message), "no token: 401 with a reason");
const forged = headers.Authorization.slice(0, -8) + "AAAAAAAA";
response = await post({ Authorization: forged });
check(response.status === 401, "a forged token: 401");
const stranger = await createZGComputeNetworkBroker(new ethers.Wallet(strangerKey, rpc));
const strangerHeader = { Authorization: (await stranger.inference.getRequestHeaders(providerAddress).catch(() => null))?.Authorization ?? "" };
response = await post(strangerHeader);
check(response.status === 401 || response.status === 403, `a user without a sub-account is refused (${response.status})`);
response = await fetch(`${service.url}/v1/proxy/signature/chatcmpl-unknown`);
check(response.status === 404, "an unknown chat id has no signature");

// The provider settles what it served, once.
const owed = fee(completion.usage) + fee(streamUsage);
let account;
for (let i = 0; i < 100; i++) {
  account = await broker.inference.getAccount(providerAddress);
  if (account.nonce > before.nonce) break;
  await sleep(300);
}
check(account.nonce > before.nonce, "the provider settled on chain");
check(before.balance - account.balance === owed, `the sub-account paid exactly the served fees (${before.balance - account.balance} of ${owed})`);
await sleep(6_000);
const later = await broker.inference.getAccount(providerAddress);
check(later.balance === account.balance, "and nothing more a settle interval later");
console.log("all chat checks passed");
clearTimeout(deadline);
process.exit(0);
