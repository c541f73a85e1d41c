// 0G's official compute user SDK against zgnode's marketplace contracts, with no contract
// addresses given: the SDK picks its chain-31337 defaults, where the dev genesis put them.
// A provider registers a service and the owner acknowledges its signer (plain ethers, as a
// provider's own tooling would); the user then opens a ledger, lists services, acknowledges the
// provider and funds a sub-account through the SDK; the provider settles signed fee batches
// (refused: a replayed nonce, a forged signature, a fee changed after signing; partial: more
// than the balance); the user gets a refund back after the lock time.
// Usage: node ledger_settlement.mjs <eth rpc url> <owner key> <user key> <provider key>
// Prints "all compute checks passed" last.
// The SDK under test: 0G's current package by default; ZG_COMPUTE_SDK=@0glabs/0g-serving-broker
// runs the older one its docs still show.
const { createZGComputeNetworkBroker } = await import(process.env.ZG_COMPUTE_SDK ?? "@0gfoundation/0g-compute-ts-sdk");
import { ethers } from "ethers";

const [rpcUrl, ownerKey, userKey, providerKey] = process.argv.slice(2);
// No request cache: every read after a transaction must see its block.
const rpc = new ethers.JsonRpcProvider(rpcUrl, undefined, { polling: true, pollingInterval: 100, cacheTimeout: -1 });
const owner = new ethers.Wallet(ownerKey, rpc);
const user = new ethers.Wallet(userKey, rpc);
const provider = new ethers.Wallet(providerKey, rpc);
const teeSigner = ethers.Wallet.createRandom();
const forger = ethers.Wallet.createRandom();
const INFERENCE = "0x0165878A594ca255338adfa4d48449f69242Eb8F";
const LEDGER = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0";
const inferenceAbi = [
  "function addOrUpdateService((string serviceType, string url, string model, string verifiability, uint256 inputPrice, uint256 outputPrice, string additionalInfo, address teeSignerAddress) params) payable",
  "function acknowledgeTEESignerByOwner(address provider)",
  "function settleFeesWithTEE((address user, address provider, uint256 totalFee, bytes32 requestsHash, uint256 nonce, bytes signature)[] settlements) returns (uint8[] statuses)",
  "function getAccount(address user, address provider) view returns ((address user, address provider, uint256 nonce, uint256 balance, uint256 pendingRefund, (uint256 index, uint256 amount, uint256 createdAt, bool processed)[] refunds, string additionalInfo, bool acknowledged, uint256 validRefundsLength, uint256 generation, uint256 revokedBitmap))",
  "error InsufficientStake(uint256 provided, uint256 required)",
];
const deadline = setTimeout(() => { console.error("timed out"); process.exit(3); }, 120_000);
const check = (ok, what) => { if (!ok) { console.error("FAILED:", what); process.exit(1); } console.log("ok:", what); };
const wei = (x) => ethers.parseEther(String(x));

// The provider's side: register with a stake, then the owner acknowledges the signer.
const asProvider = new ethers.Contract(INFERENCE, inferenceAbi, provider);
const params = ["chatbot", "http://127.0.0.1:1", "tiny-llama", "", 1000n, 2000n, "{}", teeSigner.address];
let refusedStake = false;
try { await asProvider.addOrUpdateService.staticCall(params, { value: wei(1) }); } catch (e) { refusedStake = /InsufficientStake|revert/.test(String(e)); }
check(refusedStake, "a service without the minimum stake is refused");
await (await asProvider.addOrUpdateService(params, { value: wei(100) })).wait();
await (await new ethers.Contract(INFERENCE, inferenceAbi, owner).acknowledgeTEESignerByOwner(provider.address)).wait();

// The user's side, through the SDK with its default addresses.
const broker = await createZGComputeNetworkBroker(user);
await broker.ledger.addLedger(10);
let ledger = await broker.ledger.getLedger();
check(ledger.totalBalance === wei(10) && ledger.availableBalance === wei(10), "addLedger(10) opens a 10 0G ledger");
await broker.ledger.depositFund(5);
ledger = await broker.ledger.getLedger();
check(ledger.totalBalance === wei(15), "depositFund(5) adds 5 0G");

const services = await broker.inference.listService();
const listed = services.find((s) => s.provider === provider.address);
check(listed && listed.model === "tiny-llama" && listed.url === "http://127.0.0.1:1" && listed.teeSignerAcknowledged, "listService shows the acknowledged service");

await broker.inference.acknowledgeProviderSigner(provider.address);
const account = await broker.inference.getAccount(provider.address);
check(account.acknowledged && account.balance === wei(1), "acknowledgeProviderSigner opens a 1 0G sub-account, acknowledged");
await broker.ledger.transferFund(provider.address, "inference", wei(2));
ledger = await broker.ledger.getLedger();
check(ledger.availableBalance === wei(12) && ledger.totalBalance === wei(15), "transferFund moves 2 0G into the sub-account (available 12, total 15)");

// Settlement: signed by the acknowledged signer over (requestsHash, nonce, provider, user, fee).
const sign = async (signer, fee, nonce, requestsHash) => {
  const digest = ethers.solidityPackedKeccak256(["bytes32", "uint256", "address", "address", "uint256"], [requestsHash, nonce, provider.address, user.address, fee]);
  return signer.signMessage(ethers.getBytes(digest));
};
const settle = async (items) => {
  const statuses = await asProvider.settleFeesWithTEE.staticCall(items);
  await (await asProvider.settleFeesWithTEE(items)).wait();
  return statuses.map(Number);
};
const hash = ethers.keccak256(ethers.toUtf8Bytes("requests 1..3"));
const fee = wei("0.5");
const good = { user: user.address, provider: provider.address, totalFee: fee, requestsHash: hash, nonce: 1n, signature: await sign(teeSigner, fee, 1n, hash) };
const receipt = await (await asProvider.settleFeesWithTEE([good])).wait();
// Balances at the blocks around the settlement (ethers caches identical calls for 250 ms, so
// two "latest" reads could both see the block before).
const before = await rpc.getBalance(provider.address, receipt.blockNumber - 1);
const paid = (await rpc.getBalance(provider.address, receipt.blockNumber)) - before + receipt.gasUsed * receipt.gasPrice;
check(paid === fee, `a signed 0.5 0G batch pays the provider 0.5 0G (paid ${paid}, gas ${receipt.gasUsed} at ${receipt.gasPrice}, block ${receipt.blockNumber})`);
ledger = await broker.ledger.getLedger();
check(ledger.totalBalance === wei("14.5"), "the ledger's total drops by the fee");

check((await settle([good]))[0] === 4, "the same batch again is refused (INVALID_NONCE)");
const forged = { ...good, nonce: 2n, signature: await sign(forger, fee, 2n, hash) };
check((await settle([forged]))[0] === 5, "a batch signed by another key is refused (INVALID_SIGNATURE)");
const inflated = { ...good, nonce: 3n, totalFee: wei(1), signature: await sign(teeSigner, fee, 3n, hash) };
check((await settle([inflated]))[0] === 5, "a fee raised after signing is refused (INVALID_SIGNATURE)");
const big = wei(100);
const tooMuch = { ...good, nonce: 4n, totalFee: big, signature: await sign(teeSigner, big, 4n, hash) };
check((await settle([tooMuch]))[0] === 1, "a fee above the balance settles only the balance (PARTIAL)");
const drained = await broker.inference.getAccount(provider.address);
check(drained.balance === 0n, "nothing is left in the sub-account after the partial settlement");

// Refund: top the sub-account up, ask for it back, wait out the lock time.
await broker.ledger.transferFund(provider.address, "inference", wei(2));
await broker.ledger.retrieveFund("inference");
const waiting = await broker.inference.getAccount(provider.address);
check(waiting.pendingRefund === wei(2), "retrieveFund asks for the 2 0G back (pending until the lock time)");
ledger = await broker.ledger.getLedger();
const availableBefore = ledger.availableBalance;
await rpc.send("evm_increaseTime", [61]);
await rpc.send("evm_mine", []);
await broker.ledger.retrieveFund("inference");
ledger = await broker.ledger.getLedger();
check(ledger.availableBalance === availableBefore + wei(2), "after the lock time the refund is back in the ledger");
const wallet = await rpc.getBalance(user.address);
await broker.ledger.refund(1);
check((await rpc.getBalance(user.address)) > wallet, "refund(1) withdraws to the wallet");

// The request header the SDK makes for the provider (last: getRequestHeaders also tops the
// sub-account up), printed for the Rust side to verify with the provider's token check.
const headers = await broker.inference.getRequestHeaders(provider.address);
check(headers.Authorization.startsWith("Bearer app-sk-"), "getRequestHeaders gives an app-sk bearer token");
console.log(`AUTHORIZATION ${headers.Authorization}`);

clearTimeout(deadline);
console.log("all compute checks passed");
// The SDK and the polling provider keep timers alive; the checks are done.
process.exit(0);
