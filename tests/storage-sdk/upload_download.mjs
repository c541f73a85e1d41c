// Uploads a file through zgnode with the official 0G TypeScript SDK and downloads it back.
// Usage: node upload_download.mjs <eth rpc url> <storage rpc url> <flow address> <private key> <size> [download storage rpc url]
// With a download node, the file is read back from that node instead (once it reports the file
// finalized, as an application would wait). Prints one JSON line: {root, txSeq, txHash, size, same}.
import * as sdk from "@0gfoundation/0g-ts-sdk";
import { prepare, report } from "./round_trip.mjs";

const { Uploader, Downloader, StorageNode } = sdk;
const args = process.argv.slice(2);
const downloadFrom = args[5];
const { rpc, data, flow, node, file, tree } = await prepare(sdk, args);

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
report(data, back, { root: tree.rootHash(), txSeq: result.txSeq, txHash: result.txHash });
