// 0G docs' quick start, unchanged: `new Indexer(url).upload(file, rpc, signer)` then
// `indexer.download(root, path, true)`, with zgnode's storage port as the indexer.
// Usage: node indexer_upload_download.mjs <eth rpc url> <indexer url> <private key> <size> <out path>
// Prints one JSON line: {root, txSeq, size, same}.
import { readFileSync } from "node:fs";
import { ethers } from "ethers";
import { Indexer, MemData } from "@0gfoundation/0g-ts-sdk";

const [rpc, indexerUrl, key, sizeArg, out] = process.argv.slice(2);
const size = Number(sizeArg);
const data = new Uint8Array(size);
for (let i = 0; i < size; i++) data[i] = (i * 131 + 7) % 251;
const signer = new ethers.Wallet(key, new ethers.JsonRpcProvider(rpc));
const indexer = new Indexer(indexerUrl);
const deadline = setTimeout(() => { console.error("timed out"); process.exit(3); }, 120_000);
const [result, uploadError] = await indexer.upload(new MemData(data), rpc, signer);
if (uploadError) { console.error("upload failed:", uploadError); process.exit(1); }
const downloadError = await indexer.download(result.rootHash, out, true);
if (downloadError) { console.error("download failed:", downloadError); process.exit(2); }
clearTimeout(deadline);
const back = readFileSync(out);
const same = back.length === data.length && back.every((b, i) => b === data[i]);
console.log(JSON.stringify({ root: result.rootHash, txSeq: result.txSeq, size: back.length, same }));
process.exit(same ? 0 : 4);
