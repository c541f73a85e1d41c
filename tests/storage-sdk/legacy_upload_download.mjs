// The same round trip with the legacy SDK, @0glabs/0g-ts-sdk 0.3.3: it submits with the older
// `submit(SubmissionData)` overload, waits for the receipt, takes the tx seq from the `Submit`
// event, polls zgs_getFileInfoByTxSeq, and downloads into a file.
// Usage: node legacy_upload_download.mjs <eth rpc url> <storage rpc url> <flow address> <private key> <size> <out path>
// Prints one JSON line: {root, txHash, size, same}.
import * as sdk from "@0glabs/0g-ts-sdk";
import { readFileSync } from "node:fs";
import { prepare, report } from "./round_trip.mjs";

const { Uploader, Downloader, defaultUploadOption } = sdk;
const args = process.argv.slice(2);
const outPath = args[5];
const { rpc, data, flow, node, file, tree } = await prepare(sdk, args);

const deadline = setTimeout(() => { console.error("timed out"); process.exit(3); }, 120_000);
// Its logs go to stdout; the result line is the last one.
const [result, uploadError] = await new Uploader([node], rpc, flow).uploadFile(file, { ...defaultUploadOption, taskSize: 2 }, { Retries: 60, Interval: 1, MaxGasPrice: 0, TooManyDataRetries: 3 });
if (uploadError) { console.error("upload failed:", uploadError); process.exit(1); }

const downloadError = await new Downloader([node]).downloadFile(tree.rootHash(), outPath);
if (downloadError) { console.error("download failed:", downloadError); process.exit(2); }
clearTimeout(deadline);
const back = new Uint8Array(readFileSync(outPath));
report(data, back, { root: tree.rootHash(), txHash: result.txHash });
