// 0G's official compute user SDK, unchanged, against `zgnode dev`'s built-in provider: the user
// opens a ledger, finds the service, acknowledges the provider, gets request headers, calls
// the OpenAI-compatible endpoint with fetch (plain and streaming), verifies each response
// through processResponse, and sees the provider settle exactly the fees of what it served.
// Hostile calls (no token, a forged token, a user without a sub-account) are refused.
// Usage: node chat.mjs <eth rpc url> <user key> <provider address> <stranger key>
// Prints "all chat checks passed" last.
// The SDK under test: 0G's current package by default; ZG_COMPUTE_SDK=@0glabs/0g-serving-broker
// runs the older one its docs still show.
const { createZGComputeNetworkBroker } = await import(process.env.ZG_COMPUTE_SDK ?? "@0gfoundation/0g-compute-ts-sdk");
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
// The price tiers the service registered (its additionalInfo): each request pays its tier's
// fractions of the prices, each part rounded down.
const tiers = JSON.parse(service.additionalInfo || "{}").tieredPricing?.tiers ?? [];
const tierOf = (n) => tiers.find((t) => t.maxInputTokens === 0 || n <= t.maxInputTokens);
const fee = (usage) => {
  const t = tierOf(usage.prompt_tokens) ?? { inputMultiplier: 1, outputMultiplier: 1 };
  const part = (tokens, price, n, d) => (BigInt(tokens) * price * BigInt(n)) / BigInt(d ?? 1);
  return part(usage.prompt_tokens, service.inputPrice, t.inputMultiplier, t.inputMultiplierDenominator) + part(usage.completion_tokens, service.outputPrice, t.outputMultiplier, t.outputMultiplierDenominator);
};
check(tiers.length === 2 && tiers[1].maxInputTokens === 0, "the service registers two price tiers");
if (typeof broker.inference.getProviderModels === "function") {
  // What 0.9 adds: the tiers parsed, the public model catalog, the GPU attestation check.
  const [detail] = (await broker.inference.listServiceWithDetail()).filter((s) => s.provider === providerAddress);
  check(detail?.tieredPricing?.tiers?.[1]?.inputMultiplier === 1.5 && detail.tieredPricing.tiers[1].outputMultiplier === 2, "listServiceWithDetail parses the tiered prices");
  const catalog = await broker.inference.getProviderModels(providerAddress);
  const entry = catalog.models[0];
  check(catalog.models.length === 1 && entry.id === "zg-tiny-llama" && entry.pricing.prompt === service.inputPrice.toString() && entry.pricing.tiered_pricing.length === 2, "getProviderModels reads the provider's /v1/models");
  const gpu = await fetch(`${service.url}/v1/quote/verify/gpu`, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
  check(gpu.status === 422 && /without a TEE/.test((await gpu.json()).error.message), "/v1/quote/verify/gpu says there is no TEE to verify");
}

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

// A prompt past the first tier pays the second tier's prices.
response = await fetch(`${endpoint}/chat/completions`, {
  method: "POST",
  headers: { "Content-Type": "application/json", ...headers },
  body: JSON.stringify({ model, messages: [{ role: "user", content: "Repeat after me: " + "zero gravity ".repeat(20) }], max_tokens: 4 }),
});
check(response.ok, `a long prompt is served (got ${response.status})`);
const long = await response.json();
check(long.usage.prompt_tokens > tiers[0].maxInputTokens, `the long prompt is past the first tier (${long.usage.prompt_tokens} tokens)`);
check(await broker.inference.processResponse(providerAddress, long.id, JSON.stringify(long.usage)) === true, "processResponse verifies it");
const signed = await (await fetch(`${service.url}/v1/proxy/signature/${long.id}`)).json();
const charged = BigInt(JSON.parse(signed.text).fee);
const base = BigInt(long.usage.prompt_tokens) * service.inputPrice + BigInt(long.usage.completion_tokens) * service.outputPrice;
check(charged === fee(long.usage) && charged > base, `its signed record charges the second tier's fee (${charged}; base prices would be ${base})`);

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
const owed = fee(completion.usage) + fee(long.usage) + fee(streamUsage);
let account;
// The provider may settle in more than one round (a round takes what was served by then).
for (let i = 0; i < 100; i++) {
  account = await broker.inference.getAccount(providerAddress);
  if (account.nonce > before.nonce && before.balance - account.balance >= owed) break;
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
