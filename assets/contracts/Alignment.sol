// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {Governed} from "./Governed.sol";
import {VerifiedInference} from "./VerifiedInference.sol";
import {PoraMine} from "./PoraMine.sol";

/// AI alignment node licences at 0x0000000000000000000000000000000000004010: an ERC-721 minted
/// at genesis, soulbound for its first year (the first 365 reward days of the alignment
/// manager's schedule: no transfer, only mint), tradeable after.
contract AlignmentLicense is ERC721 {
    AlignmentManager public immutable manager;
    uint256 public immutable lockedEpochs;
    uint256 public immutable totalLicences;

    error Soulbound(uint256 tokenId, uint256 untilEpoch);

    constructor(AlignmentManager manager_, address[] memory holders, uint256 lockedEpochs_)
        ERC721("zgnode AI Alignment Node License", "ZGAL")
    {
        manager = manager_;
        lockedEpochs = lockedEpochs_;
        totalLicences = holders.length;
        for (uint256 i = 0; i < holders.length; i++) {
            _mint(holders[i], i + 1);
        }
    }

    function _update(address to, uint256 tokenId, address auth) internal override returns (address) {
        address from = _ownerOf(tokenId);
        if (from != address(0) && manager.currentEpoch() < lockedEpochs) revert Soulbound(tokenId, lockedEpochs);
        return super._update(to, tokenId, auth);
    }
}

/// The AI alignment nodes' manager at 0x0000000000000000000000000000000000004011.
///
/// A licence holder names an operator (one operator may serve several licences). Operators post
/// a bond, audit the network each epoch on targets drawn from `seed(epoch)`, and report each
/// finished epoch during the next one. A report earns each licence it covers that epoch's share
/// of the vesting allocation; an epoch nobody reported for a licence is forfeited (its tokens stay
/// in the pool, never minted). A failure comes with evidence this contract checks through the
/// market it concerns: evidence that holds triggers that market's penalty; evidence that does not
/// costs the accuser part of its bond.
///
/// Rewards, per licence: `launchShareBps` of `rewardPerLicence` claimable from launch, the rest
/// vesting in `vestingEpochs` equal daily parts (an epoch is a day on a network; the dev chain
/// compresses it to a few seconds), scaled by ChainParams' `alignmentRewardRateBps`. The pool is
/// this contract's balance less the bonds; tokens only move, so supply never changes.
contract AlignmentManager {
    AlignmentLicense public immutable license;
    address public immutable verifiedInference;
    address payable public immutable poraMine;
    uint256 public immutable epochBlocks;
    uint256 public immutable vestingEpochs;
    uint256 public immutable rewardPerLicence;
    uint256 public immutable launchShareBps;
    uint256 public immutable minBond;
    uint256 public immutable falseAccusationPenalty;
    uint256 public constant FULL_RATE_BPS = 10_000;
    /// Gas the market gets to judge evidence. Forwarded exactly, and the call is refused when
    /// less is left, so no caller (nor a gas estimator searching for the least that does not
    /// revert) can make honest evidence fail by starving it of gas.
    uint256 public constant JUDGE_GAS = 15_000_000;

    mapping(uint256 => address) public operatorOf;
    mapping(address => uint256) public bondOf;
    mapping(address => uint256) public licencesServed;
    mapping(uint256 => mapping(uint256 => bool)) public reported;
    mapping(uint256 => uint256) public epochsReported;
    mapping(uint256 => uint256) public accrued;
    mapping(uint256 => uint256) public claimed;
    mapping(uint256 => bool) public launchClaimed;
    uint256 public totalBonds;

    event OperatorSet(uint256 indexed tokenId, address indexed holder, address indexed operator);
    event Bonded(address indexed operator, uint256 amount, uint256 bond);
    event BondWithdrawn(address indexed operator, uint256 amount);
    event Reported(
        address indexed operator, uint256 indexed epoch, uint256[] tokenIds, uint256 checked, uint256 failed, bytes32 digest
    );
    event Accused(address indexed operator, uint8 indexed kind, address indexed target, bool upheld, uint256 amount);
    event Claimed(uint256 indexed tokenId, address indexed holder, uint256 amount);

    error NotHolder(uint256 tokenId, address caller);
    error NotOperator(uint256 tokenId, address caller);
    error BondTooLow(address operator, uint256 bond, uint256 required);
    error WrongEpoch(uint256 epoch, uint256 reportable);
    error AlreadyReported(uint256 tokenId, uint256 epoch);
    error StillServing(address operator, uint256 licences);
    error NothingToClaim(uint256 tokenId);

    uint8 public constant ACCUSE_VERIFIED_RESULT = 1;
    uint8 public constant ACCUSE_BAD_SEGMENT = 2;

    constructor(
        AlignmentLicense license_,
        address verifiedInference_,
        address payable poraMine_,
        uint256 epochBlocks_,
        uint256 vestingEpochs_,
        uint256 rewardPerLicence_,
        uint256 launchShareBps_,
        uint256 minBond_,
        uint256 falseAccusationPenalty_
    ) payable {
        require(epochBlocks_ > 0 && vestingEpochs_ > 0, "epochs need a length");
        require(launchShareBps_ <= FULL_RATE_BPS, "launch share above 100%");
        require(falseAccusationPenalty_ <= minBond_, "a penalty larger than the bond");
        license = license_;
        verifiedInference = verifiedInference_;
        poraMine = poraMine_;
        epochBlocks = epochBlocks_;
        vestingEpochs = vestingEpochs_;
        rewardPerLicence = rewardPerLicence_;
        launchShareBps = launchShareBps_;
        minBond = minBond_;
        falseAccusationPenalty = falseAccusationPenalty_;
    }

    /// Tokens left for rewards: the balance (granted at genesis from the AI alignment nodes'
    /// allocation, plus forfeited bonds) less the operators' bonds.
    function pool() public view returns (uint256) {
        return address(this).balance - totalBonds;
    }

    function currentEpoch() public view returns (uint256) {
        return block.number / epochBlocks;
    }

    /// The randomness an epoch's audit targets are drawn from: the hash of the epoch's first
    /// block, known only once that block is sealed (so no operator picks its targets ahead).
    function seed(uint256 epoch) public view returns (bytes32) {
        uint256 first = epoch * epochBlocks;
        require(first < block.number, "the epoch has not started");
        bytes32 hash = blockhash(first);
        require(hash != bytes32(0), "the epoch's first block is too old to draw from");
        return keccak256(abi.encodePacked("zgnode alignment audit", epoch, hash));
    }

    // ---- operators ----

    function setOperator(uint256 tokenId, address operator) external {
        if (license.ownerOf(tokenId) != msg.sender) revert NotHolder(tokenId, msg.sender);
        address previous = operatorOf[tokenId];
        if (previous != address(0)) licencesServed[previous] -= 1;
        operatorOf[tokenId] = operator;
        if (operator != address(0)) licencesServed[operator] += 1;
        emit OperatorSet(tokenId, msg.sender, operator);
    }

    function bond() external payable {
        bondOf[msg.sender] += msg.value;
        totalBonds += msg.value;
        emit Bonded(msg.sender, msg.value, bondOf[msg.sender]);
    }

    /// An operator that serves no licence takes its bond back (its evidence has been judged:
    /// accusations are settled in the transaction that makes them).
    function withdrawBond() external {
        if (licencesServed[msg.sender] != 0) revert StillServing(msg.sender, licencesServed[msg.sender]);
        uint256 amount = bondOf[msg.sender];
        bondOf[msg.sender] = 0;
        totalBonds -= amount;
        emit BondWithdrawn(msg.sender, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        require(ok, "transfer failed");
    }

    // ---- reports ----

    /// The summary of `epoch`'s audits for the licences the caller operates, sent during the
    /// next epoch. Earns each licence the epoch's vesting share.
    function submitReport(uint256 epoch, uint256[] calldata tokenIds, uint256 checked, uint256 failed, bytes32 digest)
        external
    {
        uint256 current = currentEpoch();
        if (current == 0 || epoch != current - 1) revert WrongEpoch(epoch, current == 0 ? 0 : current - 1);
        if (bondOf[msg.sender] < minBond) revert BondTooLow(msg.sender, bondOf[msg.sender], minBond);
        require(failed <= checked, "more failures than checks");
        uint256 share = epoch < vestingEpochs ? epochShare() : 0;
        for (uint256 i = 0; i < tokenIds.length; i++) {
            uint256 id = tokenIds[i];
            if (operatorOf[id] != msg.sender) revert NotOperator(id, msg.sender);
            if (reported[id][epoch]) revert AlreadyReported(id, epoch);
            reported[id][epoch] = true;
            epochsReported[id] += 1;
            accrued[id] += share;
        }
        emit Reported(msg.sender, epoch, tokenIds, checked, failed, digest);
    }

    /// One reported epoch's reward per licence now (the governed rate applies from the next report).
    function epochShare() public view returns (uint256) {
        uint256 rate = Governed.value(bytes4(keccak256("alignmentRewardRateBps()")), FULL_RATE_BPS);
        if (rate > FULL_RATE_BPS) rate = FULL_RATE_BPS;
        uint256 vesting = rewardPerLicence - rewardPerLicence * launchShareBps / FULL_RATE_BPS;
        return vesting / vestingEpochs * rate / FULL_RATE_BPS;
    }

    // ---- rewards ----

    function claimable(uint256 tokenId) public view returns (uint256) {
        uint256 amount = accrued[tokenId] - claimed[tokenId];
        if (!launchClaimed[tokenId]) amount += rewardPerLicence * launchShareBps / FULL_RATE_BPS;
        return amount;
    }

    /// Pays the licence's holder what it has earned and not taken: the launch share once, and
    /// every reported epoch's share.
    function claim(uint256 tokenId) external {
        address holder = license.ownerOf(tokenId);
        if (holder != msg.sender) revert NotHolder(tokenId, msg.sender);
        uint256 amount = claimable(tokenId);
        if (amount == 0 || amount > pool()) revert NothingToClaim(tokenId);
        launchClaimed[tokenId] = true;
        claimed[tokenId] = accrued[tokenId];
        emit Claimed(tokenId, holder, amount);
        (bool ok,) = holder.call{value: amount}("");
        require(ok, "transfer failed");
    }

    // ---- evidence ----

    /// A verifiable-inference provider signed a result its proof does not support (or an
    /// honest proof shows other logits): the market checks the evidence and slashes the provider,
    /// paying the reporter's half to this contract, which passes it to the operator.
    function accuseVerifiedResult(VerifiedInference.Request calldata request, VerifiedInference.Evidence calldata evidence)
        external
    {
        _checkAccuser();
        uint256 before = address(this).balance;
        try VerifiedInference(verifiedInference).reportWrongResult{gas: JUDGE_GAS}(request, evidence) {
            _upheld(ACCUSE_VERIFIED_RESULT, request.provider, before);
        } catch {
            _refused(ACCUSE_VERIFIED_RESULT, request.provider);
        }
    }

    /// A staked storage node signed a segment answer that does not hash to the file's on-chain
    /// root (`PoraMine.reportBadSegment`): the mine cuts its stake and pays the reporter's half
    /// here, passed on to the operator. The event names the miner the mine recovered (none when
    /// refused).
    function accuseBadSegment(
        uint256 txSeq,
        uint256 segment,
        bytes calldata data,
        bytes32[] calldata siblings,
        bytes calldata signature
    ) external {
        _checkAccuser();
        uint256 before = address(this).balance;
        try PoraMine(poraMine).reportBadSegment{gas: JUDGE_GAS}(txSeq, segment, data, siblings, signature) returns (address miner) {
            _upheld(ACCUSE_BAD_SEGMENT, miner, before);
        } catch {
            _refused(ACCUSE_BAD_SEGMENT, address(0));
        }
    }

    /// Only a bonded operator accuses, and the judging market gets its full gas: no caller (nor
    /// a gas estimator searching for the least that does not revert) can make honest evidence
    /// fail by starving it.
    function _checkAccuser() private view {
        if (licencesServed[msg.sender] == 0) revert NotOperator(0, msg.sender);
        if (bondOf[msg.sender] < minBond) revert BondTooLow(msg.sender, bondOf[msg.sender], minBond);
        require(gasleft() > JUDGE_GAS + JUDGE_GAS / 63 + 50_000, "not enough gas to judge the evidence");
    }

    function _upheld(uint8 kind, address target, uint256 before) private {
        uint256 reward = address(this).balance - before;
        emit Accused(msg.sender, kind, target, true, reward);
        (bool ok,) = msg.sender.call{value: reward}("");
        require(ok, "transfer failed");
    }

    /// Evidence the market refused costs the accuser `falseAccusationPenalty` of its bond, into the pool.
    function _refused(uint8 kind, address target) private {
        bondOf[msg.sender] -= falseAccusationPenalty;
        totalBonds -= falseAccusationPenalty;
        emit Accused(msg.sender, kind, target, false, falseAccusationPenalty);
    }

    /// The market's reporter reward arrives here during `accuseVerifiedResult`.
    receive() external payable {
        require(msg.sender == verifiedInference || msg.sender == poraMine, "only the markets pay in");
    }
}
