// Compiles the system and test contracts with solc-js and writes <Name>.json (abi + bytecode)
// beside each source. Run from the repository root:
//   npm install --prefix tests/clients && node assets/contracts/build.mjs
import { createRequire } from "node:module";
import { readFileSync, writeFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, "../../tests/clients/package.json"));
const solc = require("solc");

const sources = Object.fromEntries(
  readdirSync(here).filter((f) => f.endsWith(".sol")).map((f) => [f, { content: readFileSync(join(here, f), "utf8") }]),
);
const input = {
  language: "Solidity",
  sources,
  settings: { optimizer: { enabled: true, runs: 200 }, evmVersion: "cancun", outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } } },
};
// Imports resolve against tests/clients/node_modules (OpenZeppelin's governance contracts).
const findImports = (path) => {
  try {
    return { contents: readFileSync(require.resolve(path), "utf8") };
  } catch (e) {
    return { error: `${path}: ${e.message}` };
  }
};
const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
const errors = (output.errors ?? []).filter((e) => e.severity === "error");
if (errors.length) {
  console.error(errors.map((e) => e.formattedMessage).join("\n"));
  process.exit(1);
}
for (const [file, contracts] of Object.entries(output.contracts)) {
  if (!(file in sources)) continue; // imported library contracts ship inside ours
  for (const [name, c] of Object.entries(contracts)) {
    if (!c.evm.bytecode.object || c.abi.length === 0) continue; // interfaces and internal libraries ship inside others
    const artifact = { contractName: name, source: file, compiler: `solc-js ${solc.version()}`, abi: c.abi, bytecode: "0x" + c.evm.bytecode.object, deployedBytecode: "0x" + c.evm.deployedBytecode.object };
    writeFileSync(join(here, `${name}.json`), JSON.stringify(artifact, null, 2) + "\n");
    console.log(`wrote ${name}.json (${c.evm.bytecode.object.length / 2} bytes of init code)`);
  }
}
