// 0G docs' quick start download alone: `new Indexer(url).download(root, path, true)`.
// Usage: node indexer_download.mjs <indexer url> <root> <out path>
// Prints one JSON line: {size}.
import { statSync } from "node:fs";
import { Indexer } from "@0gfoundation/0g-ts-sdk";

const [indexerUrl, root, out] = process.argv.slice(2);
const deadline = setTimeout(() => { console.error("timed out"); process.exit(3); }, 120_000);
const error = await new Indexer(indexerUrl).download(root, out, true);
if (error) { console.error("download failed:", error); process.exit(2); }
clearTimeout(deadline);
console.log(JSON.stringify({ size: statSync(out).size }));
process.exit(0);
