// AI alignment licences and rewards through ethers v6 against `zgnode dev`:
//   node alignment.mjs <rpc url> <licence holder key (dev account 0)> <operator key>
// The licence is an ERC-721 (OpenZeppelin's IERC721 ABI) that refuses transfers in its first
// year; its holder names an operator, the operator bonds and reports a finished epoch, and the
// holder claims the 33 % launch share plus that epoch's vesting part; a false accusation costs
// the operator part of its bond.
import { ethers } from "ethers";
import { check, oz, refusal, sent, until } from "./checks.mjs";

const [url, holderKey, operatorKey] = process.argv.slice(2);
const provider = new ethers.JsonRpcProvider(url, undefined, { polling: true, pollingInterval: 100, cacheTimeout: -1 });
// No answer cache (cacheTimeout -1): a value read twice around a block must be read twice.
const holder = new ethers.NonceManager(new ethers.Wallet(holderKey, provider));
const operator = new ethers.NonceManager(new ethers.Wallet(operatorKey, provider));
for (const s of [holder, operator]) s.address = await s.getAddress();
const LICENSE = "0x0000000000000000000000000000000000004010";
const MANAGER = "0x0000000000000000000000000000000000004011";
const license = new ethers.Contract(LICENSE, [...oz("IERC721"), ...oz("IERC721Metadata").filter((f) => f.name === "name")], provider);
const manager = new ethers.Contract(
  MANAGER,
  [
    "function currentEpoch() view returns (uint256)",
    "function seed(uint256) view returns (bytes32)",
    "function setOperator(uint256 tokenId, address operator)",
    "function bond() payable",
    "function minBond() view returns (uint256)",
    "function submitReport(uint256 epoch, uint256[] tokenIds, uint256 checked, uint256 failed, bytes32 digest)",
    "function claimable(uint256) view returns (uint256)",
    "function claim(uint256)",
    "function epochShare() view returns (uint256)",
    "function rewardPerLicence() view returns (uint256)",
    "function bondOf(address) view returns (uint256)",
    "function falseAccusationPenalty() view returns (uint256)",
    "function accuseBadSegment(uint256 txSeq, uint256 segment, bytes data, bytes32[] siblings, bytes signature)",
    "event Accused(address indexed operator, uint8 indexed kind, address indexed target, bool upheld, uint256 amount)",
    "event Reported(address indexed operator, uint256 indexed epoch, uint256[] tokenIds, uint256 checked, uint256 failed, bytes32 digest)",
    "error Soulbound(uint256 tokenId, uint256 untilEpoch)",
    "error NotHolder(uint256 tokenId, address caller)",
  ],
  provider,
);
check((await license.name()) === "zgnode AI Alignment Node License", "the licence is an ERC-721");
check((await license.ownerOf(1n)) === holder.address, "licence 1 belongs to dev account 0");
check(
  (await refusal(() => license.connect(holder).transferFrom.staticCall(holder.address, operator.address, 1n))) !== null,
  "a licence cannot be transferred in its first year",
);
check(
  (await refusal(() => manager.connect(operator).setOperator.staticCall(1n, operator.address))) === "NotHolder",
  "only the holder names the operator (NotHolder)",
);
await sent(manager.connect(holder).setOperator(1n, operator.address));
await sent(manager.connect(operator).bond({ value: await manager.minBond() }));
const epoch = await manager.currentEpoch();
await until(`epoch ${epoch} to end`, async () => (await manager.currentEpoch()) > epoch);
const seed = await manager.seed(epoch);
check(seed !== ethers.ZeroHash, `epoch ${epoch}'s audit seed is ${seed.slice(0, 18)}…`);
const before = await manager.claimable(1n);
const report = await sent(manager.connect(operator).submitReport(epoch, [1n], 3n, 0n, ethers.id("no findings")));
check(report.logs.some((l) => manager.interface.parseLog(l)?.name === "Reported"), "Reported");
const share = await manager.epochShare();
check((await manager.claimable(1n)) === before + share, `a reported epoch adds ${ethers.formatEther(share)} 0G`);
const launch = (await manager.rewardPerLicence()) * 33n / 100n;
check(before >= launch, `33 % (${ethers.formatEther(launch)} 0G) is claimable from launch`);
const claim = await sent(manager.connect(holder).claim(1n));
// Balances at the blocks around the claim (a bare "latest" may be ethers' 250 ms cache).
const [was, is] = [await provider.getBalance(holder.address, claim.blockNumber - 1), await provider.getBalance(holder.address, claim.blockNumber)];
const paid = is - was + claim.gasUsed * claim.gasPrice;
check(paid === before + share, `claim paid the holder ${ethers.formatEther(paid)} 0G`);
check((await manager.claimable(1n)) === 0n, "nothing left to claim");
// A false accusation: no staked node signed these bytes, so the mine refuses the evidence and the
// manager takes the penalty out of the accuser's bond (into the reward pool).
const bond = await manager.bondOf(operator.address);
const penalty = await manager.falseAccusationPenalty();
const accusation = await sent(
  manager.connect(operator).accuseBadSegment(0n, 0n, "0x" + "00".repeat(256), [], "0x" + "11".repeat(65), { gasLimit: 20_000_000n }),
);
const accused = accusation.logs.map((l) => manager.interface.parseLog(l)).find((e) => e?.name === "Accused");
check(accused?.args.upheld === false && accused.args.kind === 2n, "a false segment accusation is judged and refused (Accused, upheld false)");
check((await manager.bondOf(operator.address)) === bond - penalty, `it cost the accuser ${ethers.formatEther(penalty)} 0G of its bond`);
console.log("all alignment checks passed");
