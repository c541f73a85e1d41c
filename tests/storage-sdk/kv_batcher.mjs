// 0G's KV quick start with the official TS SDK, unchanged: nodes from the indexer, a `Batcher`
// writing two keys through the Flow contract, then `KvClient` reading them back (value, range,
// permission checks — `isAdmin` sends `kv_IsAdmin`).
// Usage: node kv_batcher.mjs <eth rpc url> <indexer/kv url> <private key> <stream id>
// Prints one JSON line with what was read.
import { ethers } from "ethers";
import { Indexer, Batcher, KvClient, getFlowContract } from "@0gfoundation/0g-ts-sdk";

const [rpc, nodeUrl, key, streamId] = process.argv.slice(2);
const deadline = setTimeout(() => { console.error("timed out"); process.exit(3); }, 120_000);
const signer = new ethers.Wallet(key, new ethers.JsonRpcProvider(rpc));
const indexer = new Indexer(nodeUrl);
const [nodes, selectError] = await indexer.selectNodes(1);
if (selectError) { console.error("selectNodes failed:", selectError); process.exit(1); }
const status = await nodes[0].getStatus();
const flow = getFlowContract(status.networkIdentity.flowAddress, signer);

const enc = (text) => new TextEncoder().encode(text);
const batcher = new Batcher(1, nodes, flow, rpc);
batcher.streamDataBuilder.set(streamId, enc("ts-key-1"), enc("value one"));
batcher.streamDataBuilder.set(streamId, enc("ts-key-2"), enc("value two"));
const [tx, execError] = await batcher.exec();
if (execError) { console.error("batcher.exec failed:", execError); process.exit(1); }

const kv = new KvClient(nodeUrl);
const decode = (b64) => Buffer.from(b64, "base64").toString();
let one = null;
for (let i = 0; i < 200 && (one === null || one.size === 0); i++) {
  one = await kv.getValue(streamId, enc("ts-key-1"));
  if (one === null || one.size === 0) await new Promise((r) => setTimeout(r, 100));
}
const two = await kv.getValue(streamId, enc("ts-key-2"));
const first = await kv.getFirst(streamId, 0, 1024);
const next = await kv.getNext(streamId, enc("ts-key-1"), 0, 1024, false);
const admin = await kv.isAdmin(signer.address, streamId);
const writer = await kv.hasWritePermission(signer.address, streamId, enc("ts-key-1"));
const streams = await kv.getHoldingStreamIds();
clearTimeout(deadline);
console.log(JSON.stringify({
  txSeq: tx.txSeq,
  one: decode(one.data),
  two: decode(two.data),
  version: one.version,
  first: decode(first.key),
  next: decode(next.key),
  admin,
  writer,
  holds: streams.includes(streamId),
}));
process.exit(0);
