// Uploads a file through zgnode with the official 0G TypeScript SDK and downloads it back.
// Usage: node upload_download.mjs <eth rpc url> <storage rpc url> <flow address> <private key> <size> [download storage rpc url]
// With a download node, the file is read back from that node instead (once it reports the file
// finalized, as an application would wait). Prints one JSON line: {root, txSeq, txHash, size, same}.
import { Uploader, Downloader, StorageNode, MemData, getFlowContract } from "@0gfoundation/0g-ts-sdk";
import { ethers } from "ethers";

const [rpc, storage, flowAddress, key, sizeArg, downloadFrom] = process.argv.slice(2);
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

const uploader = new Uploader([node], rpc, flow);
const deadline = setTimeout(() => { console.error("upload timed out"); process.exit(3); }, 120_000);
const [result, uploadError] = await uploader.uploadFile(file, { taskSize: 2 });
if (uploadError) { console.error("upload failed:", uploadError); process.exit(1); }

const reader = downloadFrom ? new StorageNode(downloadFrom) : node;
for (;;) {
  const info = await reader.getFileInfo(tree.rootHash(), true);
  if (info && info.finalized) break;
  await new Promise((resolve) => setTimeout(resolve, 200));
}
const downloader = new Downloader([reader]);
const [blob, downloadError] = await downloader.downloadToBlob(tree.rootHash());
if (downloadError) { console.error("download failed:", downloadError); process.exit(2); }
clearTimeout(deadline);
const back = new Uint8Array(await blob.arrayBuffer());
const same = back.length === data.length && back.every((b, i) => b === data[i]);
console.log(JSON.stringify({ root: tree.rootHash(), txSeq: result.txSeq, txHash: result.txHash, size: back.length, same }));
process.exit(same ? 0 : 4);
