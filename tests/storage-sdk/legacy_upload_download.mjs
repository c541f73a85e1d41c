// The same round trip with the legacy SDK, @0glabs/0g-ts-sdk 0.3.3: it submits with the older
// `submit(SubmissionData)` overload, waits for the receipt, takes the tx seq from the `Submit`
// event, polls zgs_getFileInfoByTxSeq, and downloads into a file.
// Usage: node legacy_upload_download.mjs <eth rpc url> <storage rpc url> <flow address> <private key> <size> <out path>
// Prints one JSON line: {root, txHash, size, same}.
import { Uploader, Downloader, StorageNode, MemData, getFlowContract, defaultUploadOption } from "@0glabs/0g-ts-sdk";
import { ethers } from "ethers";
import { readFileSync } from "node:fs";

const [rpc, storage, flowAddress, key, sizeArg, outPath] = process.argv.slice(2);
const size = Number(sizeArg);
const data = new Uint8Array(size);
for (let i = 0; i < size; i++) data[i] = (i * 131 + 7) % 251;

const provider = new ethers.JsonRpcProvider(rpc);
const signer = new ethers.Wallet(key, provider);
const flow = getFlowContract(flowAddress, signer);
const node = new StorageNode(storage);

const file = new MemData(data);
const [tree, treeError] = await file.merkleTree();
if (treeError) throw treeError;

const deadline = setTimeout(() => { console.error("timed out"); process.exit(3); }, 120_000);
// Its logs go to stdout; the result line is the last one.
const [result, uploadError] = await new Uploader([node], rpc, flow).uploadFile(file, { ...defaultUploadOption, taskSize: 2 }, { Retries: 60, Interval: 1, MaxGasPrice: 0, TooManyDataRetries: 3 });
if (uploadError) { console.error("upload failed:", uploadError); process.exit(1); }

const downloadError = await new Downloader([node]).downloadFile(tree.rootHash(), outPath);
if (downloadError) { console.error("download failed:", downloadError); process.exit(2); }
clearTimeout(deadline);
const back = new Uint8Array(readFileSync(outPath));
const same = back.length === data.length && back.every((b, i) => b === data[i]);
console.log(JSON.stringify({ root: tree.rootHash(), txHash: result.txHash, size: back.length, same }));
process.exit(same ? 0 : 4);
