// What the client scripts share: OpenZeppelin's compiled ABIs, a check that prints or fails,
// waits, a transaction that must succeed, and the error a call is refused with.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

export const oz = (name) => JSON.parse(readFileSync(require.resolve(`@openzeppelin/contracts/build/contracts/${name}.json`), "utf8")).abi;

export const check = (ok, what) => {
  if (!ok) throw new Error(`FAILED: ${what}`);
  console.log(`ok - ${what}`);
};

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function until(what, predicate, timeoutMs = 120_000) {
  const start = Date.now();
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() - start > timeoutMs) throw new Error(`FAILED: timed out waiting for ${what}`);
    await sleep(100);
  }
}

export async function sent(promise) {
  const tx = await promise;
  const receipt = await tx.wait();
  if (receipt.status !== 1) throw new Error(`FAILED: transaction ${tx.hash} reverted`);
  return receipt;
}

// Which error a call fails with (ethers decodes it from the ABI), or null when it does not.
export async function refusal(call) {
  try {
    await call();
  } catch (e) {
    return e.revert?.name ?? e.shortMessage ?? e.message;
  }
  return null;
}
