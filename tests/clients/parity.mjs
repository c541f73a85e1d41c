// What anvil and Hardhat give ethers and viem users, against `zgnode dev`: estimates that hold
// for UniswapV2 swaps sent around second boundaries, state at older blocks, filters over HTTP
// (ethers' contract.on, viem's filters), the dev controls and unlocked accounts, traces, access
// lists, proofs and the txpool. Usage: node parity.mjs http://127.0.0.1:PORT
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { ethers } from "ethers";
import { createPublicClient, http, parseAbiItem } from "viem";

const url = process.argv[2];
if (!url) throw new Error("usage: node parity.mjs RPC_URL");
const require = createRequire(import.meta.url);
const tokenArtifact = JSON.parse(readFileSync(new URL("../../assets/contracts/ZgToken.json", import.meta.url)));
const factoryArtifact = require("@uniswap/v2-core/build/UniswapV2Factory.json");
const pairArtifact = require("@uniswap/v2-core/build/UniswapV2Pair.json");
const KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const step = (name) => console.log(`ok - ${name}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const within = (promise, ms, what) =>
  Promise.race([promise, sleep(ms).then(() => { throw new Error(`timed out: ${what}`); })]);

const provider = new ethers.JsonRpcProvider(url, undefined, { staticNetwork: true, pollingInterval: 100 });
const wallet = new ethers.NonceManager(new ethers.Wallet(KEY, provider));
const me = await wallet.getAddress();
const tokens = new ethers.ContractFactory(tokenArtifact.abi, tokenArtifact.bytecode, wallet);
const mined = async (pending) => {
  const receipt = await (await pending).wait();
  assert.equal(receipt.status, 1);
  return receipt;
};

// UniswapV2: a fresh pair's first swap writes its price accumulators for the first time (two
// zero-to-nonzero SSTOREs) only if block.timestamp moved since the mint. The estimate must be
// made in the block that will include the swap, whatever second it is sent in.
const factory = await new ethers.ContractFactory(factoryArtifact.abi, factoryArtifact.bytecode, wallet).deploy(me);
await factory.waitForDeployment();
const base = await tokens.deploy("Base", "BASE", ethers.parseEther("1000000"));
await base.waitForDeployment();
const ROUNDS = 8;
for (let round = 0; round < ROUNDS; round++) {
  const other = await tokens.deploy(`Other ${round}`, `O${round}`, ethers.parseEther("1000000"));
  await other.waitForDeployment();
  await mined(factory.createPair(base, other));
  const pairAddress = await factory.getPair(base, other);
  const pair = new ethers.Contract(pairAddress, pairArtifact.abi, wallet);
  await mined(base.transfer(pairAddress, ethers.parseEther("1000")));
  await mined(other.transfer(pairAddress, ethers.parseEther("1000")));
  await mined(pair.mint(me));
  await mined(base.transfer(pairAddress, ethers.parseEther("1")));
  const out = ethers.parseEther("0.9");
  const baseIsToken0 = (await pair.token0()) === (await base.getAddress());
  // Just after a second boundary, or just before one, alternately.
  const target = round % 2 ? 960 : 10;
  while (Math.abs((Date.now() % 1000) - target) > 25) await sleep(5);
  const swap = await mined(pair.swap(baseIsToken0 ? 0n : out, baseIsToken0 ? out : 0n, me, "0x"));
  assert.equal(swap.status, 1, `round ${round}: the swap ran out of the estimated gas`);
}
step(`ethers: ${ROUNDS} UniswapV2 first swaps around second boundaries, every one status 1`);

// State at older blocks, by number and as a contract call's blockTag.
const bob = ethers.Wallet.createRandom().address;
const sent = await mined(base.transfer(bob, 1234n));
assert.equal(await base.balanceOf(bob, { blockTag: sent.blockNumber - 1 }), 0n);
assert.equal(await base.balanceOf(bob, { blockTag: sent.blockNumber }), 1234n);
const before = await provider.getBalance(me, sent.blockNumber - 1);
const after = await provider.getBalance(me, sent.blockNumber);
assert.equal(before - after, sent.gasUsed * sent.gasPrice, "the fee, between the two blocks");
assert.equal(await provider.getTransactionCount(me, sent.blockNumber - 1) + 1, await provider.getTransactionCount(me, sent.blockNumber));
step("ethers: balances, nonces and calls at older blocks");

// ethers' contract.on over HTTP installs an eth_newFilter and polls eth_getFilterChanges.
const heard = new Promise((resolve) => base.on("Transfer", (from, to, value) => { if (to === bob) resolve(value); }));
await sleep(300);
await mined(base.transfer(bob, 77n));
assert.equal(await within(heard, 15000, "contract.on Transfer"), 77n);
await base.removeAllListeners();
step("ethers: contract.on over HTTP hears the Transfer");

// viem's filters.
const client = createPublicClient({ transport: http(url) });
const transfers = await client.createEventFilter({
  address: await base.getAddress(),
  event: parseAbiItem("event Transfer(address indexed from, address indexed to, uint256 value)"),
});
const blockFilter = await client.createBlockFilter();
const pendingFilter = await client.createPendingTransactionFilter();
const third = await mined(base.transfer(bob, 5n));
const logs = await client.getFilterChanges({ filter: transfers });
assert.equal(logs.length, 1);
assert.equal(logs[0].args.value, 5n);
assert.ok((await client.getFilterChanges({ filter: blockFilter })).includes(third.blockHash));
assert.ok((await client.getFilterChanges({ filter: pendingFilter })).includes(third.hash));
assert.equal(await client.uninstallFilter({ filter: transfers }), true);
step("viem: event, block and pending-transaction filters");

// By block and index, counts by hash, and a call with a state override (viem's own shapes).
const byIndex = await client.getTransaction({ blockNumber: BigInt(third.blockNumber), index: third.index });
assert.equal(byIndex.hash, third.hash);
const byHashIndex = await client.getTransaction({ blockHash: third.blockHash, index: third.index });
assert.equal(byHashIndex.hash, third.hash);
assert.ok((await client.getBlockTransactionCount({ blockHash: third.blockHash })) >= 1);
const rich = ethers.Wallet.createRandom().address;
const overridden = await client.getBalance({ address: rich });
assert.equal(overridden, 0n);
const { data: echoed } = await client.call({
  to: await base.getAddress(),
  data: base.interface.encodeFunctionData("balanceOf", [rich]),
  stateOverride: [{ address: await base.getAddress(), stateDiff: [{
    slot: ethers.keccak256(ethers.AbiCoder.defaultAbiCoder().encode(["address", "uint256"], [rich, 3])),
    value: ethers.toBeHex(424242n, 32),
  }] }],
});
assert.equal(BigInt(echoed), 424242n);
step("viem: transactions by block and index, counts by hash, eth_call with a state override");

// Dev controls and unlocked accounts (anvil's and Hardhat's).
const accounts = await provider.send("eth_accounts", []);
assert.equal(accounts.length, 10);
// provider.send, not getBlock: ethers caches identical requests for 250 ms.
const latestBlock = async () => await provider.send("eth_getBlockByNumber", ["latest", false]);
const head = await latestBlock();
await provider.send("evm_increaseTime", [86400]);
await provider.send("evm_mine", []);
const later = await latestBlock();
assert.ok(Number(later.timestamp) >= Number(head.timestamp) + 86400, `${later.timestamp} vs ${head.timestamp}`);
const whale = ethers.Wallet.createRandom().address;
await provider.send("hardhat_setBalance", [whale, "0x56bc75e2d63100000"]);
assert.equal(await provider.getBalance(whale), ethers.parseEther("100"));
await provider.send("anvil_impersonateAccount", [whale]);
const impersonated = new ethers.JsonRpcSigner(provider, whale);
const gift = await mined(impersonated.sendTransaction({ to: bob, value: ethers.parseEther("1") }));
assert.equal(gift.from, whale);
const unlocked = await provider.getSigner(accounts[4]);
await mined(unlocked.sendTransaction({ to: bob, value: 1n }));
assert.equal(await provider.getBalance(bob), ethers.parseEther("1") + 1n);
step("ethers: evm_increaseTime/evm_mine, hardhat_setBalance, impersonation and unlocked dev accounts");

// Debugging: traces, access lists, proofs, the pool.
const trace = await provider.send("debug_traceTransaction", [third.hash, { tracer: "callTracer" }]);
assert.equal(trace.type, "CALL");
assert.equal(ethers.getAddress(trace.to), await base.getAddress());
const list = await client.request({
  method: "eth_createAccessList",
  params: [{ from: me, to: await base.getAddress(), data: base.interface.encodeFunctionData("transfer", [bob, 1n]) }],
});
assert.ok(list.accessList.some((e) => ethers.getAddress(e.address) === ethers.getAddress(third.to) && e.storageKeys.length === 2));
const proof = await client.getProof({ address: await base.getAddress(), storageKeys: [] });
assert.ok(proof.accountProof.length > 0);
const status = await provider.send("txpool_status", []);
assert.equal(status.pending, "0x0");
step("debug_traceTransaction (callTracer), eth_createAccessList, eth_getProof, txpool_status");

// Hardhat's loadFixture pattern: snapshot, change things, revert.
const snapshot = await provider.send("evm_snapshot", []);
const blockNumber = async () => Number(await provider.send("eth_blockNumber", []));
const snapshotHead = await blockNumber();
const bobTokens = await base.balanceOf(bob);
await mined(base.transfer(bob, 9n));
assert.equal(await provider.send("evm_revert", [snapshot]), true);
assert.equal(await blockNumber(), snapshotHead);
assert.equal(await base.balanceOf(bob), bobTokens);
wallet.reset();
await mined(base.transfer(bob, 9n));
assert.equal(await base.balanceOf(bob), bobTokens + 9n);
step("ethers: evm_snapshot / evm_revert");

console.log("all parity checks passed");
