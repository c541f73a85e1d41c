// Drives a running zgnode with real Ethereum clients: ethers v6 and viem, unchanged.
// Usage: node erc20.mjs http://127.0.0.1:PORT
// Exits non-zero with a message on the first failed check.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { ethers } from "ethers";
import { createPublicClient, createWalletClient, http, parseAbiItem, defineChain } from "viem";
import { privateKeyToAccount } from "viem/accounts";

const url = process.argv[2];
if (!url) throw new Error("usage: node erc20.mjs RPC_URL");
const artifact = JSON.parse(readFileSync(new URL("../../assets/contracts/ZgToken.json", import.meta.url)));
const KEYS = [
  "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
  "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
  "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
];
const step = (name) => console.log(`ok - ${name}`);

const provider = new ethers.JsonRpcProvider(url, undefined, { staticNetwork: true, pollingInterval: 100 });
const network = await provider.getNetwork();
assert.equal(network.chainId, 31337n);
step("ethers: chain id 31337");

const deployer = new ethers.Wallet(KEYS[0], provider);
const alice = new ethers.Wallet(KEYS[1], provider);
const bob = new ethers.Wallet(KEYS[2], provider);
assert.equal(await provider.getBalance(alice.address), ethers.parseEther("10000"));
step("ethers: dev account funded with 10000 0G");

const factory = new ethers.ContractFactory(artifact.abi, artifact.bytecode, deployer);
const supply = ethers.parseEther("1000000");
const token = await factory.deploy("Zero Gravity Test", "ZGT", supply);
await token.waitForDeployment();
const tokenAddress = await token.getAddress();
assert.notEqual(await provider.getCode(tokenAddress), "0x");
assert.equal(await token.totalSupply(), supply);
assert.equal(await token.symbol(), "ZGT");
step(`ethers: ERC-20 deployed at ${tokenAddress}`);

// The deployer's next nonce, read back after the deploy (on `zgnode dev` dev account 0 starts at
// 13: genesis holds the compute marketplace at its CREATE addresses below that).
const afterDeploy = await provider.getTransactionCount(deployer.address, "latest");
const tx = await token.transfer(alice.address, ethers.parseEther("1500"), { nonce: afterDeploy });
const receipt = await tx.wait();
assert.equal(receipt.status, 1);
assert.equal(await token.balanceOf(alice.address), ethers.parseEther("1500"));
assert.equal(receipt.logs.length, 1);
step("ethers: EIP-1559 transfer mined with one Transfer log");

// A revert carries its reason in geth's shape, which ethers decodes.
await assert.rejects(token.connect(bob).transfer.staticCall(alice.address, 1n), (e) => {
  assert.equal(e.code, "CALL_EXCEPTION");
  assert.equal(e.reason, "ZgToken: balance too low");
  return true;
});
await assert.rejects(token.connect(bob).transfer(alice.address, 1n), (e) => {
  assert.equal(e.code, "CALL_EXCEPTION");
  assert.equal(e.reason, "ZgToken: balance too low");
  return true;
});
step("ethers: revert reason from eth_call and eth_estimateGas");

// Legacy and EIP-2930 transactions. Nonces are explicit: ethers caches identical requests
// (eth_getTransactionCount included) for 250 ms, longer than a fast dev block.
const legacy = await token.connect(alice).transfer(bob.address, 10n, { type: 0, nonce: 0 });
assert.equal((await legacy.wait()).status, 1);
const accessList = await token.connect(alice).transfer(bob.address, 5n, { type: 1, nonce: 1, accessList: [{ address: tokenAddress, storageKeys: [] }] });
assert.equal((await accessList.wait()).status, 1);
assert.equal(await token.balanceOf(bob.address), 15n);
step("ethers: legacy (type 0) and access-list (type 1) transactions");

// Replaying a used nonce is refused with geth's message.
const stale = await alice.signTransaction(await alice.populateTransaction({ to: bob.address, value: 1n, nonce: 0, chainId: 31337n, gasLimit: 21000n, maxFeePerGas: 10n ** 10n, maxPriorityFeePerGas: 1n }));
await assert.rejects(provider.broadcastTransaction(stale), (e) => {
  assert.equal(e.code, "NONCE_EXPIRED");
  return true;
});
// A transaction signed for another chain is refused.
const otherChain = await alice.signTransaction({ to: bob.address, value: 1n, nonce: 99, chainId: 1n, gasLimit: 21000n, maxFeePerGas: 10n ** 10n, maxPriorityFeePerGas: 1n, type: 2 });
await assert.rejects(provider.broadcastTransaction(otherChain), /invalid chain id/);
step("ethers: stale nonce and foreign chain id refused");

const events = await token.queryFilter(token.filters.Transfer(), 0, "latest");
assert.equal(events.length, 4);
assert.equal(events[0].args.from, ethers.ZeroAddress);
assert.equal(events[1].args.to, alice.address);
const toBob = await token.queryFilter(token.filters.Transfer(null, bob.address));
assert.equal(toBob.length, 2);
step("ethers: eth_getLogs with address and topic filters");

// WebSocket subscription: a new head arrives.
const ws = new ethers.WebSocketProvider(url.replace("http", "ws"));
const head = await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error("no newHeads within 10 s")), 10000);
  ws.once("block", (n) => { clearTimeout(timer); resolve(n); });
});
assert.ok(head > 0);
await ws.destroy();
step("ethers: eth_subscribe newHeads over WebSocket");

// viem, on the same chain.
const chain = defineChain({ id: 31337, name: "zgnode dev", nativeCurrency: { name: "0G", symbol: "0G", decimals: 18 }, rpcUrls: { default: { http: [url] } } });
const publicClient = createPublicClient({ chain, transport: http(url), pollingInterval: 100 });
const walletClient = createWalletClient({ chain, transport: http(url), account: privateKeyToAccount(KEYS[1]) });
assert.equal(await publicClient.getChainId(), 31337);
const hash = await walletClient.writeContract({ address: tokenAddress, abi: artifact.abi, functionName: "transfer", args: [bob.address, 7n] });
const viemReceipt = await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 100 });
assert.equal(viemReceipt.status, "success");
const balance = await publicClient.readContract({ address: tokenAddress, abi: artifact.abi, functionName: "balanceOf", args: [bob.address] });
assert.equal(balance, 22n);
const logs = await publicClient.getLogs({ address: tokenAddress, event: parseAbiItem("event Transfer(address indexed from, address indexed to, uint256 value)"), args: { to: bob.address }, fromBlock: 0n });
assert.equal(logs.length, 3);
const fees = await publicClient.estimateFeesPerGas();
assert.ok(fees.maxFeePerGas > 0n);
const history = await publicClient.getFeeHistory({ blockCount: 4, rewardPercentiles: [25, 75] });
assert.equal(history.baseFeePerGas.length, 5);
const block = await publicClient.getBlock({ blockNumber: viemReceipt.blockNumber, includeTransactions: true });
assert.ok(block.transactions.some((t) => t.hash === hash));
step("viem: write, read, getLogs, fees and full blocks");

console.log("all client checks passed");
