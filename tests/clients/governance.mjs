// Governance through OpenZeppelin's own IGovernor ABI (the one governance UIs and scripts are
// written against), driven by ethers v6 against a zgnode chain:
//   node governance.mjs <rpc url> <4 staker keys, comma-separated> <an unstaked funded key>
// Proposal A (set the block gas limit) passes: for / against / abstain, stake delegated after the
// snapshot does not count, a vote after the deadline is refused, queue, execution refused before
// the timelock's delay, execute, and the next block carries the new gas limit. Proposal B gets
// one staker's vote (25 % of stake, quorum 30 %) and is defeated.
import { ethers } from "ethers";
import { check, oz, refusal, sent, until } from "./checks.mjs";

const [url, stakerKeys, outsiderKey] = process.argv.slice(2);
const provider = new ethers.JsonRpcProvider(url, undefined, { polling: true, pollingInterval: 100, cacheTimeout: -1 });
// NonceManager counts each sender's nonces itself: ethers caches identical RPC answers for
// 250 ms, so a "pending" nonce asked right after a quick block can be the one just used.
const stakers = stakerKeys.split(",").map((k) => new ethers.NonceManager(new ethers.Wallet(k, provider)));
const outsider = new ethers.NonceManager(new ethers.Wallet(outsiderKey, provider));
for (const s of [...stakers, outsider]) s.address = await s.getAddress();

const GOVERNOR = "0x0000000000000000000000000000000000004000";
const PARAMS = "0x0000000000000000000000000000000000004001";
const TIMELOCK = "0x0000000000000000000000000000000000004002";
const STAKING = "0x0000000000000000000000000000000000001000";
const governorAbi = [...oz("IGovernor"), ...oz("GovernorCountingSimple").filter((f) => f.name === "proposalVotes")];
const governor = new ethers.Contract(GOVERNOR, governorAbi, provider);
const votes = new ethers.Contract(STAKING, oz("IVotes"), provider);
const staking = new ethers.Contract(STAKING, ["function delegate(address operator) payable"], provider);
const params = new ethers.Contract(PARAMS, ["function blockGasLimit() view returns (uint64)", "function setBlockGasLimit(uint64)", "function owner() view returns (address)"], provider);

const STATES = ["Pending", "Active", "Canceled", "Defeated", "Succeeded", "Queued", "Expired", "Executed"];
const stateOf = async (id) => STATES[Number(await governor.state(id))];
check((await governor.name()) === "zgnode Governor", "name()");
check((await governor.COUNTING_MODE()) === "support=bravo&quorum=for,abstain", "COUNTING_MODE() is GovernorCountingSimple's");
check((await governor.CLOCK_MODE()) === "mode=blocknumber&from=default", "the clock is the block number");
const delay = await governor.votingDelay();
const period = await governor.votingPeriod();
console.log(`votingDelay ${delay} blocks, votingPeriod ${period} blocks`);
check((await params.owner()).toLowerCase() === TIMELOCK.toLowerCase(), "ChainParams is owned by the timelock");
check(
  (await refusal(() => params.connect(stakers[0]).setBlockGasLimit.staticCall(12_000_000n))) !== null,
  "nobody but the timelock may set a parameter",
);

const before = await params.blockGasLimit();
const latest = await provider.getBlock("latest");
check(before === latest.gasLimit, `blockGasLimit() ${before} is the chain's gas limit`);
const target = before === 45_000_000n ? 46_000_000n : 45_000_000n;

// Proposal A changes four parameters at once; the contracts that price blobs, sectors and
// provider stakes read them from ChainParams.
const DA_ENTRANCE = "0x0000000000000000000000000000000000003000";
const MARKET = "0x0000000000000000000000000000000000002001";
const INFERENCE = "0x0165878A594ca255338adfa4d48449f69242Eb8F";
const entrance = new ethers.Contract(DA_ENTRANCE, ["function blobPrice() view returns (uint256)"], provider);
const market = new ethers.Contract(MARKET, ["function pricePerSector() view returns (uint256)"], provider);
const inference = new ethers.Contract(INFERENCE, ["function minProviderStake() view returns (uint256)"], provider);
const [blobPrice, sectorPrice, minStake] = [await entrance.blobPrice(), await market.pricePerSector(), await inference.minProviderStake()];
const governedIface = new ethers.Interface([
  "function setDaBlobPrice(uint256)",
  "function setStoragePricePerSector(uint256)",
  "function setComputeMinStake(uint256)",
]);
const setLimit = params.interface.encodeFunctionData("setBlockGasLimit", [target]);
const callsA = [
  setLimit,
  governedIface.encodeFunctionData("setDaBlobPrice", [blobPrice * 2n]),
  governedIface.encodeFunctionData("setStoragePricePerSector", [sectorPrice * 3n]),
  governedIface.encodeFunctionData("setComputeMinStake", [minStake * 2n]),
];
const targetsA = callsA.map(() => PARAMS);
const valuesA = callsA.map(() => 0n);
const descriptionA = `Set the block gas limit to ${target} (${Date.now()})`;
const descriptionB = `Set the block gas limit to 12000000 (${Date.now()})`;
const setLow = params.interface.encodeFunctionData("setBlockGasLimit", [12_000_000n]);
const [receiptA, receiptB] = await Promise.all([
  sent(governor.connect(stakers[0]).propose(targetsA, valuesA, callsA, descriptionA)),
  sent(governor.connect(stakers[1]).propose([PARAMS], [0n], [setLow], descriptionB)),
]);
const created = (receipt) => receipt.logs.map((l) => governor.interface.parseLog(l)).find((e) => e?.name === "ProposalCreated");
const idA = created(receiptA).args.proposalId;
const idB = created(receiptB).args.proposalId;
check(idA === (await governor.hashProposal(targetsA, valuesA, callsA, ethers.id(descriptionA))), "ProposalCreated's id is hashProposal's");
const snapshot = await governor.proposalSnapshot(idA);
check(snapshot === BigInt(receiptA.blockNumber) + delay, "the snapshot is votingDelay blocks after the proposal");

// Stake added after the snapshot, by a newcomer and by a staker, must not count.
await until("the snapshot to pass", async () => (await provider.getBlockNumber()) > Number(snapshot));
await Promise.all([
  sent(staking.connect(outsider).delegate(stakers[3].address, { value: ethers.parseEther("5000") })),
  sent(staking.connect(stakers[3]).delegate(stakers[3].address, { value: ethers.parseEther("1") })),
]);
const weight = async (i) => votes.getPastVotes(stakers[i].address, snapshot);
const weights = await Promise.all([0, 1, 2, 3].map(weight));
check(weights.every((w) => w > 0n), `stakers hold votes at the snapshot: ${weights.map((w) => ethers.formatEther(w)).join(", ")} 0G`);
check((await votes.getPastVotes(outsider.address, snapshot)) === 0n, "the newcomer had no votes at the snapshot");
check((await votes.getVotes(outsider.address)) === ethers.parseEther("5000"), "... though it holds 5000 0G of stake now");

await until("proposal A to be active", async () => (await stateOf(idA)) === "Active");
const cast = await Promise.all([
  sent(governor.connect(stakers[0]).castVoteWithReason(idA, 1, "more room per block")),
  sent(governor.connect(stakers[1]).castVote(idA, 0)),
  sent(governor.connect(stakers[2]).castVote(idA, 2)),
  sent(governor.connect(stakers[3]).castVote(idA, 1)),
  sent(governor.connect(outsider).castVote(idA, 0)),
]);
// One staker of four for proposal B (after its vote on A: one nonce at a time).
await sent(governor.connect(stakers[2]).castVote(idB, 1));
const voteCast = (receipt) => receipt.logs.map((l) => governor.interface.parseLog(l)).find((e) => e?.name === "VoteCast").args;
check(voteCast(cast[0]).reason === "more room per block", "VoteCast carries the reason");
check(voteCast(cast[3]).weight === weights[3], "a staker who added stake after the snapshot votes its snapshot stake");
check(voteCast(cast[4]).weight === 0n, "the newcomer's vote weighs nothing");
check(await governor.hasVoted(idA, stakers[1].address), "hasVoted");
check(
  (await refusal(() => governor.connect(stakers[1]).castVote.staticCall(idA, 1))) === "GovernorAlreadyCastVote",
  "a second vote is refused (GovernorAlreadyCastVote)",
);
const tally = await governor.proposalVotes(idA);
check(
  tally.forVotes === weights[0] + weights[3] && tally.againstVotes === weights[1] && tally.abstainVotes === weights[2],
  `proposalVotes: for ${ethers.formatEther(tally.forVotes)}, against ${ethers.formatEther(tally.againstVotes)}, abstain ${ethers.formatEther(tally.abstainVotes)}`,
);

const deadline = await governor.proposalDeadline(idA);
await until("the voting period to end", async () => (await stateOf(idA)) !== "Active");
check((await stateOf(idA)) === "Succeeded", "proposal A succeeded");
await until("proposal B's voting period to end", async () => (await stateOf(idB)) !== "Active");
check((await stateOf(idB)) === "Defeated", `proposal B (one staker of four, quorum ${ethers.formatEther(await governor.quorum(snapshot))} 0G) is defeated`);
check(
  (await refusal(() => governor.connect(stakers[0]).castVote.staticCall(idA, 1))) === "GovernorUnexpectedProposalState",
  `a vote after the deadline (block ${deadline}) is refused (GovernorUnexpectedProposalState)`,
);
check(
  (await refusal(() => governor.connect(stakers[0]).queue.staticCall([PARAMS], [0n], [setLow], ethers.id(descriptionB)))) ===
    "GovernorUnexpectedProposalState",
  "a defeated proposal cannot be queued",
);

check(await governor.proposalNeedsQueuing(idA), "proposalNeedsQueuing (a timelock)");
const queued = await sent(governor.connect(stakers[2]).queue(targetsA, valuesA, callsA, ethers.id(descriptionA)));
check((await stateOf(idA)) === "Queued", "proposal A queued");
const eta = await governor.proposalEta(idA);
const queuedAt = (await provider.getBlock(queued.blockNumber)).timestamp;
check(eta >= BigInt(queuedAt) + 2n, `proposalEta ${eta} is the timelock's delay after ${queuedAt}`);
const early = await refusal(() => governor.connect(stakers[2]).execute.staticCall(targetsA, valuesA, callsA, ethers.id(descriptionA)));
check(early !== null, `execution before the delay is refused (${early})`);
await until("the timelock's delay", async () => BigInt((await provider.getBlock("latest")).timestamp) >= eta);
const executed = await sent(governor.connect(stakers[2]).execute(targetsA, valuesA, callsA, ethers.id(descriptionA)));
check((await stateOf(idA)) === "Executed", "proposal A executed");
check((await params.blockGasLimit({ blockTag: executed.blockNumber })) === target, `ChainParams.blockGasLimit() is ${target}`);
const next = await until("the next block", () => provider.getBlock(executed.blockNumber + 1));
check(next.gasLimit === target, `eth_getBlockByNumber(${executed.blockNumber + 1}).gasLimit is ${next.gasLimit}`);
const at = { blockTag: executed.blockNumber };
check((await entrance.blobPrice(at)) === blobPrice * 2n, `the DA entrance charges ${ethers.formatEther(blobPrice * 2n)} 0G per blob`);
check((await market.pricePerSector(at)) === sectorPrice * 3n, `the storage market charges ${sectorPrice * 3n} wei per sector`);
check((await inference.minProviderStake(at)) === minStake * 2n, `a new inference provider stakes ${ethers.formatEther(minStake * 2n)} 0G`);
const executedBlock = await provider.getBlock(executed.blockNumber);
check(executedBlock.gasLimit === before, `the executing block itself kept ${executedBlock.gasLimit}`);
console.log("all governance checks passed");
