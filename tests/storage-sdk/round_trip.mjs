// What both SDK scripts share: their arguments, the test data (the SDK vectors' pattern), and
// the Flow contract, storage node and file built with the SDK under test.
import { ethers } from "ethers";

/// `sdk` is the SDK package's module; returns what its upload needs and the raw data.
export async function prepare(sdk, [rpc, storage, flowAddress, key, sizeArg]) {
  const size = Number(sizeArg);
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 131 + 7) % 251;
  const signer = new ethers.Wallet(key, new ethers.JsonRpcProvider(rpc));
  const flow = sdk.getFlowContract(flowAddress, signer);
  const node = new sdk.StorageNode(storage);
  const file = new sdk.MemData(data);
  const [tree, treeError] = await file.merkleTree();
  if (treeError) throw treeError;
  return { rpc, data, flow, node, file, tree };
}

/// Prints the result line and exits 0 when `back` is the data, 4 when not.
export function report(data, back, fields) {
  const same = back.length === data.length && back.every((b, i) => b === data[i]);
  console.log(JSON.stringify({ ...fields, size: back.length, same }));
  process.exit(same ? 0 : 4);
}
