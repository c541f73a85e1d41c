// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Governed} from "./Governed.sol";

interface IDaStaking {
    function epoch() external view returns (uint256);
    function currentValidators() external view returns (address[] memory, bytes32[] memory, uint256[] memory);
}

/// zgnode's data-availability entrance, placed in the genesis state at
/// 0x0000000000000000000000000000000000003000.
///
/// 0G's flow with 0G's names: a disperser registers a blob's data root with its fee
/// (`submitOriginalData`, event `DataUpload`), the DA nodes of the epoch's quorum store their
/// rows and columns and sign (data root, epoch, quorum), and the disperser hands the signatures to
/// `submitVerifiedCommitRoots`, which checks each one (ed25519 precompile) and that the signers
/// hold at least 2/3 of the quorum's votes (event `ErasureCommitmentVerified`).
///
/// No KZG: a blob whose square is badly encoded is caught by a fraud proof that the chain's
/// precompile at 0x..da01 checks (`submitFraudProof`); the blob is rejected and the prover is
/// paid the blob's fee. A confirmed blob with no proof for `fraudWindowBlocks` blocks is final.
///
/// Who bears an encoding fault: the disperser (its fee goes to the prover, its blob is
/// rejected), never the attesters. An attester checks every row and column it is given against
/// its root and where they cross, but a square whose rows and columns are each valid codewords
/// and disagree where no single attester holds both is the disperser's doing alone, and a
/// disperser could otherwise get every honest attester slashed by proving its own blob bad.
///
/// The data root commits to the square's size: it is keccak(0x02 ‖ k (uint32) ‖ root of the
/// axis tree), and every tree under it is domain-separated (leaf keccak(0x00 ‖ bytes), inner
/// node keccak(0x01 ‖ left ‖ right), odd levels padded with zero, never promoted). A blob
/// registered with `submitBlobs` also stores its k; a fraud proof or sampling response for
/// another k is refused.
///
/// Signers are the staking contract's validators in effect (votes = stake / tokensPerVote, capped
/// at maxVotesPerSigner, 0G's rule); on a chain without staking (the dev chain) a fixed signer set
/// given at deployment.
contract DAEntrance {
    address public constant ED25519_VERIFY = 0x000000000000000000000000000000000000ed25;
    address public constant FRAUD_PROOF = 0x000000000000000000000000000000000000DA01;
    /// "ZGDA" ‖ chain id (8) ‖ data root (32) ‖ epoch (8) ‖ quorum (8).
    uint256 public constant ATTESTATION_BYTES = 60;

    uint8 public constant UNKNOWN = 0;
    uint8 public constant PROCESSING = 1;
    uint8 public constant CONFIRMED = 2;
    uint8 public constant FAILED = 3;
    uint8 public constant FINALIZED = 4;
    uint8 public constant INSUFFICIENT_SIGNATURES = 5;

    address public immutable staking;
    /// The price per blob at genesis; `blobPrice()` is the one in effect (governed).
    uint256 public immutable genesisBlobPrice;
    uint256 public immutable fraudWindowBlocks;
    /// A blob not confirmed this many blocks after its upload can no longer be.
    uint256 public immutable attestTimeoutBlocks;
    uint256 public immutable tokensPerVote;
    uint256 public immutable maxVotesPerSigner;
    /// Sampling: a round every `samplePeriod` blocks (at most 256, so its seed block's hash is
    /// readable), over blobs confirmed in the last `sampleWindowBlocks` blocks.
    uint256 public immutable samplePeriod;
    uint256 public immutable sampleWindowBlocks;
    /// Valid responses wanted per round (0G's 20); at most twice as many are paid.
    uint256 public constant TARGET_RESPONSES = 20;
    /// A valid response is paid this fraction of its blob's fee (what is left of it).
    uint256 public constant REWARD_DIVISOR = 100;
    uint256 public constant SHARE_BYTES = 256;
    /// The largest blob's square (0G's 31,744 KiB less the length field).
    uint256 public constant MAX_K = 357;

    /// A response is valid when its quality (a hash) is at most this; adjusted each round.
    uint256 public podasTarget;
    uint256 public sampleRound;
    uint256 public roundResponses;
    mapping(bytes32 => bool) internal answered;
    /// (round, blob, attester) already paid this round: one response per attester per blob.
    mapping(bytes32 => bool) internal attesterAnswered;

    bytes32[] internal fixedKeys;
    uint256[] internal fixedStakes;

    struct Blob {
        address submitter;
        uint64 epoch;
        uint64 quorumId;
        uint64 uploadedAt;
        uint64 confirmedAt;
        bool confirmed;
        bool rejected;
        /// The square's size stated at registration (0: registered through 0G's
        /// `submitOriginalData`, which carries none; the data root still commits to it).
        uint32 k;
        uint256 fee;
    }

    mapping(bytes32 => Blob) public blobs;
    mapping(bytes32 => bytes32[]) internal attesters;
    uint256 public blobCount;

    event DataUpload(address sender, bytes32 dataRoot, uint256 epoch, uint256 quorumId, uint256 blobPrice);
    event ErasureCommitmentVerified(bytes32 dataRoot, uint256 epoch, uint256 quorumId);
    event BlobRejected(bytes32 indexed dataRoot, address prover, uint256 slashedAttesters);
    event SampleAccepted(bytes32 indexed dataRoot, address sampler, uint256 round, uint256 row, uint256 column, uint256 reward);
    event TargetAdjusted(uint256 round, uint256 responses, uint256 podasTarget);

    constructor(
        address staking_,
        uint256 blobPrice_,
        uint256 fraudWindowBlocks_,
        uint256 attestTimeoutBlocks_,
        uint256 tokensPerVote_,
        uint256 maxVotesPerSigner_,
        uint256 samplePeriod_,
        uint256 sampleWindowBlocks_,
        uint256 podasTarget_,
        bytes32[] memory keys,
        uint256[] memory stakes
    ) {
        require(keys.length == stakes.length, "length mismatch");
        require(tokensPerVote_ > 0 && maxVotesPerSigner_ > 0, "votes need a size and a cap");
        staking = staking_;
        genesisBlobPrice = blobPrice_;
        fraudWindowBlocks = fraudWindowBlocks_;
        attestTimeoutBlocks = attestTimeoutBlocks_;
        tokensPerVote = tokensPerVote_;
        maxVotesPerSigner = maxVotesPerSigner_;
        require(samplePeriod_ > 0 && samplePeriod_ <= 256, "sample period must be 1..=256 blocks");
        samplePeriod = samplePeriod_;
        sampleWindowBlocks = sampleWindowBlocks_;
        podasTarget = podasTarget_;
        fixedKeys = keys;
        fixedStakes = stakes;
    }

    function epoch() public view returns (uint256) {
        return staking == address(0) ? 0 : IDaStaking(staking).epoch();
    }

    /// The signers of this epoch and their stakes.
    function signers() public view returns (bytes32[] memory keys, uint256[] memory stakes) {
        if (staking == address(0)) return (fixedKeys, fixedStakes);
        (, keys, stakes) = IDaStaking(staking).currentValidators();
    }

    function votesOf(uint256 stake) public view returns (uint256) {
        uint256 votes = stake / tokensPerVote;
        return votes > maxVotesPerSigner ? maxVotesPerSigner : votes;
    }

    /// The fee per blob now: ChainParams' `daBlobPrice` where governance set one, else genesis'.
    function blobPrice() public view returns (uint256) {
        return Governed.value(bytes4(keccak256("daBlobPrice()")), genesisBlobPrice);
    }

    /// Registers blobs by data root and pays their fee (at least blobPrice each). 0G's entry point.
    function submitOriginalData(bytes32[] calldata dataRoots) external payable {
        _register(dataRoots, new uint32[](dataRoots.length));
    }

    /// Registers blobs with their squares' sizes (`ks[i]` for `dataRoots[i]`, 1..=357): a fraud
    /// proof or a sampling response must then state that k.
    function submitBlobs(bytes32[] calldata dataRoots, uint32[] calldata ks) external payable {
        require(ks.length == dataRoots.length, "one k per data root");
        for (uint256 i = 0; i < ks.length; i++) require(ks[i] > 0 && ks[i] <= MAX_K, "k outside 1..=357");
        _register(dataRoots, ks);
    }

    function _register(bytes32[] calldata dataRoots, uint32[] memory ks) internal {
        require(dataRoots.length > 0, "no data roots");
        uint256 price = blobPrice();
        require(msg.value >= dataRoots.length * price, "fee below blobPrice per blob");
        uint256 fee = msg.value / dataRoots.length;
        uint64 current = uint64(epoch());
        for (uint256 i = 0; i < dataRoots.length; i++) {
            bytes32 root = dataRoots[i];
            require(root != bytes32(0), "empty data root");
            require(blobs[root].submitter == address(0), "data root already submitted");
            blobs[root] = Blob(msg.sender, current, 0, uint64(block.number), 0, false, false, ks[i], fee);
            blobCount++;
            emit DataUpload(msg.sender, root, current, 0, price);
        }
    }

    /// The k a blob was registered with (0: not stated).
    function kOf(bytes32 dataRoot) external view returns (uint32) {
        return blobs[dataRoot].k;
    }

    /// The bytes a DA node signs to attest that it stores its pieces of `dataRoot`.
    function attestationMessage(bytes32 dataRoot, uint256 epoch_, uint256 quorumId) public view returns (bytes memory) {
        return abi.encodePacked("ZGDA", uint64(block.chainid), dataRoot, uint64(epoch_), uint64(quorumId));
    }

    /// The quorum's slots, apportioned to signers by votes (zgnode's `quorum::slots_for`).
    uint256 public constant QUORUM_SLOTS = 3072;

    /// A signer's slots: QUORUM_SLOTS × votes / all votes, rounded down — exactly the slots the
    /// nodes' draw gives it, so the threshold counts what signers hold.
    function slotsOf(uint256 votes, uint256 totalVotes) public pure returns (uint256) {
        return totalVotes == 0 ? 0 : QUORUM_SLOTS * votes / totalVotes;
    }

    /// Confirms a registered blob with its attesters' signatures over (data root, current epoch,
    /// quorum): keys strictly increasing, each a signer of this epoch, together holding >= 2/3
    /// of the quorum's slots.
    function submitVerifiedCommitRoots(bytes32 dataRoot, bytes32[] calldata keys, bytes[] calldata signatures) external {
        Blob storage blob = blobs[dataRoot];
        require(blob.submitter != address(0), "unknown data root");
        require(!blob.rejected, "the blob was proven badly encoded");
        require(!blob.confirmed, "already confirmed");
        require(block.number < blob.uploadedAt + attestTimeoutBlocks, "the attestation window has closed");
        require(keys.length == signatures.length, "one signature per key");
        uint256 current = epoch();
        (uint256 total, uint256 signed) = _slotsSigned(keys, signatures, attestationMessage(dataRoot, current, blob.quorumId));
        require(total > 0 && 2 * total <= 3 * signed, "attestations below 2/3 of the quorum's slots");
        blob.confirmed = true;
        blob.confirmedAt = uint64(block.number);
        blob.epoch = uint64(current);
        attesters[dataRoot] = keys;
        emit ErasureCommitmentVerified(dataRoot, current, blob.quorumId);
    }

    /// The quorum's slots and those held by `keys` (strictly increasing, each a signer of this
    /// epoch whose signature over `message` holds).
    function _slotsSigned(bytes32[] calldata keys, bytes[] calldata signatures, bytes memory message) internal view returns (uint256 total, uint256 signed) {
        (bytes32[] memory set, uint256[] memory stakes) = signers();
        uint256 totalVotes;
        for (uint256 j = 0; j < set.length; j++) totalVotes += votesOf(stakes[j]);
        for (uint256 j = 0; j < set.length; j++) total += slotsOf(votesOf(stakes[j]), totalVotes);
        for (uint256 i = 0; i < keys.length; i++) {
            require(i == 0 || keys[i] > keys[i - 1], "keys must be strictly increasing");
            uint256 j = 0;
            while (j < set.length && set[j] != keys[i]) j++;
            require(j < set.length, "a signer outside this epoch's quorum");
            require(signatures[i].length == 64, "a signature is 64 bytes");
            require(_verify(keys[i], signatures[i], message), "bad attestation signature");
            signed += slotsOf(votesOf(stakes[j]), totalVotes);
        }
    }

    /// Proves a blob badly encoded (the bytes the precompile at 0x..da01 reads): the blob is
    /// rejected and the sender is paid the blob's fee (the disperser's loss; attesters are not
    /// slashed, see the contract's doc). A proof that does not hold reverts, and its sender has
    /// paid the gas.
    function submitFraudProof(bytes calldata proof) external {
        (bool ok, bytes memory out) = FRAUD_PROOF.staticcall(proof);
        require(ok && out.length == 96, "the fraud-proof precompile failed");
        (uint256 valid, bytes32 dataRoot, uint256 k) = abi.decode(out, (uint256, bytes32, uint256));
        require(valid == 1, "the fraud proof does not hold");
        Blob storage blob = blobs[dataRoot];
        require(blob.submitter != address(0), "unknown data root");
        require(blob.k == 0 || blob.k == k, "the proof's square is not the blob's size");
        require(!blob.rejected, "already rejected");
        require(!blob.confirmed || block.number < blob.confirmedAt + fraudWindowBlocks, "the fraud window has closed");
        blob.rejected = true;
        emit BlobRejected(dataRoot, msg.sender, 0);
        uint256 fee = blob.fee;
        blob.fee = 0;
        if (fee > 0) {
            (bool paid,) = msg.sender.call{value: fee}("");
            require(paid, "paying the prover failed");
        }
    }

    /// 0G's statuses: 0 unknown, 1 processing, 2 confirmed, 3 failed (proven badly encoded),
    /// 4 finalized (confirmed and the fraud window passed), 5 insufficient signatures (not
    /// confirmed within attestTimeoutBlocks of its upload).
    function statusOf(bytes32 dataRoot) external view returns (uint8) {
        Blob storage blob = blobs[dataRoot];
        if (blob.submitter == address(0)) return UNKNOWN;
        if (blob.rejected) return FAILED;
        if (!blob.confirmed) {
            return block.number >= blob.uploadedAt + attestTimeoutBlocks ? INSUFFICIENT_SIGNATURES : PROCESSING;
        }
        if (block.number >= blob.confirmedAt + fraudWindowBlocks) return FINALIZED;
        return CONFIRMED;
    }

    /// The current sampling round and its seed: the hash of the block before it began.
    function sampleSeed() public view returns (uint256 round, bytes32 seed) {
        round = block.number / samplePeriod;
        uint256 start = round * samplePeriod;
        seed = start == 0 ? bytes32(0) : blockhash(start - 1);
    }

    /// A response's quality: lower is better; valid when at most `podasTarget`.
    function sampleQuality(bytes32 seed, bytes32 dataRoot, uint256 row, uint256 column, bytes calldata share) public pure returns (uint256) {
        return uint256(keccak256(abi.encodePacked(seed, dataRoot, uint32(row), uint32(column), keccak256(share))));
    }

    /// A sampling response: share (row, column) of a `k`×`k` blob's square, proven through its
    /// row (`throughRow`) or column: `toAxis` are the siblings up the axis's tree of 2k shares,
    /// `toRoot` those from the axis root up the data root's tree of 4k axis roots. `signer` is
    /// one of the blob's attesters (a node that said it stores the blob) and `signature` its
    /// ed25519 signature over `samplingMessage(round, dataRoot, row, column, msg.sender)`: the
    /// reward goes to the nodes that store, not to whoever fetched a share.
    struct SampleResponse {
        bytes32 dataRoot;
        uint256 k;
        uint256 row;
        uint256 column;
        bool throughRow;
        bytes share;
        bytes32[] toAxis;
        bytes32[] toRoot;
        bytes32 signer;
        bytes signature;
        /// The rank of one of the signer's slots whose axis is this share's row or column.
        uint256 slotRank;
    }

    /// Where rank `rank` of `total` sits among a blob's slots (`seed` its data root): a 4-round
    /// Feistel permutation over the smallest even-bit domain holding `total`, walked until it
    /// lands inside (zgnode's `quorum::slot_at`).
    function slotOf(bytes32 seed, uint256 total, uint256 rank) public pure returns (uint256 x) {
        require(rank < total, "rank outside the quorum");
        uint256 bits = 2;
        while ((uint256(1) << bits) < total) bits++;
        bits += bits % 2;
        uint256 half = bits / 2;
        uint256 mask = (uint256(1) << half) - 1;
        x = rank;
        while (true) {
            uint256 left = x >> half;
            uint256 right = x & mask;
            for (uint8 round = 0; round < 4; round++) {
                uint256 f = uint256(keccak256(abi.encodePacked(seed, round, uint64(right)))) & mask;
                (left, right) = (right, left ^ f);
            }
            x = (left << half) | right;
            if (x < total) return x;
        }
    }

    /// Whether `signer`'s slots in the blob's quorum (this epoch's signers in key order, each
    /// taking its slots' worth of consecutive ranks) include rank `rank`, and that slot answers
    /// for row `row` or column `column` of a `k`×`k` square.
    function holdsAxis(bytes32 dataRoot, uint256 k, bytes32 signer, uint256 rank, uint256 row, uint256 column) public view returns (bool) {
        (bytes32[] memory set, uint256[] memory stakes) = signers();
        uint256 totalVotes;
        for (uint256 j = 0; j < set.length; j++) totalVotes += votesOf(stakes[j]);
        uint256 total;
        uint256 first;
        uint256 mine;
        for (uint256 j = 0; j < set.length; j++) {
            uint256 slots = slotsOf(votesOf(stakes[j]), totalVotes);
            total += slots;
            if (set[j] == signer) mine = slots;
            else if (set[j] < signer) first += slots;
        }
        if (rank < first || rank >= first + mine) return false;
        uint256 axis = slotOf(dataRoot, total, rank) % (4 * k);
        return axis == row || axis == 2 * k + column;
    }

    /// What an attester signs to claim a sampling reward for `payee`: "ZGDS" ‖ chain id (8) ‖
    /// round (8) ‖ data root (32) ‖ row (4) ‖ column (4) ‖ payee (20).
    function samplingMessage(uint256 round, bytes32 dataRoot, uint256 row, uint256 column, address payee) public view returns (bytes memory) {
        return abi.encodePacked("ZGDS", uint64(block.chainid), uint64(round), dataRoot, uint32(row), uint32(column), payee);
    }

    function _isAttester(bytes32 dataRoot, bytes32 key) internal view returns (bool) {
        bytes32[] storage keys = attesters[dataRoot];
        for (uint256 i = 0; i < keys.length; i++) {
            if (keys[i] == key) return true;
        }
        return false;
    }

    /// Answers the round with a share of a confirmed blob in the sampling window whose quality
    /// beats the target; a valid response is paid from the blob's fee.
    function submitSamplingResponse(SampleResponse calldata r) external {
        Blob storage blob = blobs[r.dataRoot];
        require(blob.confirmed && !blob.rejected, "not a confirmed blob");
        require(block.number < blob.confirmedAt + sampleWindowBlocks, "the blob left the sampling window");
        require(r.k > 0 && r.k <= MAX_K && r.row < 2 * r.k && r.column < 2 * r.k, "outside the square");
        require(blob.k == 0 || blob.k == r.k, "not the blob's square size");
        require(r.share.length == SHARE_BYTES, "a share is 256 bytes");
        require(_isAttester(r.dataRoot, r.signer), "the signer did not attest this blob");
        require(holdsAxis(r.dataRoot, r.k, r.signer, r.slotRank, r.row, r.column), "the signer's slot does not hold that row or column");
        require(r.signature.length == 64, "a signature is 64 bytes");
        bytes32 key = _openRound(r.dataRoot, r.row, r.column, r.share);
        require(_verify(r.signer, r.signature, samplingMessage(sampleRound, r.dataRoot, r.row, r.column, msg.sender)), "bad sampling signature");
        bytes32 signerKey = keccak256(abi.encodePacked(sampleRound, r.dataRoot, r.signer));
        require(!attesterAnswered[signerKey], "this attester already answered for this blob this round");
        attesterAnswered[signerKey] = true;
        bytes32 axisRoot = _climb(_leaf(r.share), r.throughRow ? r.column : r.row, 2 * r.k, r.toAxis);
        uint256 at = r.throughRow ? r.row : 2 * r.k + r.column;
        bytes32 top = _climb(_leaf(abi.encodePacked(axisRoot)), at, 4 * r.k, r.toRoot);
        require(sha256(abi.encodePacked(bytes1(0x02), uint32(r.k), top)) == r.dataRoot, "the share does not prove against the data root");
        answered[key] = true;
        roundResponses++;
        uint256 reward = blob.fee / REWARD_DIVISOR;
        blob.fee -= reward;
        emit SampleAccepted(r.dataRoot, msg.sender, sampleRound, r.row, r.column, reward);
        if (reward > 0) {
            (bool paid,) = msg.sender.call{value: reward}("");
            require(paid, "paying the sampler failed");
        }
    }

    /// Moves to the current round (adjusting the target when a new one starts) and checks the
    /// response is new and beats the target; returns its key in this round.
    function _openRound(bytes32 dataRoot, uint256 row, uint256 column, bytes calldata share) internal returns (bytes32 key) {
        (uint256 round, bytes32 seed) = sampleSeed();
        if (round != sampleRound) {
            _adjustTarget();
            sampleRound = round;
            roundResponses = 0;
        }
        require(roundResponses < 2 * TARGET_RESPONSES, "this round has all its responses");
        key = keccak256(abi.encodePacked(round, dataRoot, row, column));
        require(!answered[key], "already answered this round");
        require(sampleQuality(seed, dataRoot, row, column, share) <= podasTarget, "quality does not beat the target");
    }

    /// 0G's rule: the target moves by target * |responses - 20| / 20 / 8, down when the last
    /// round had more valid responses than wanted, up when it had fewer.
    function _adjustTarget() internal {
        uint256 step = podasTarget / TARGET_RESPONSES / 8;
        if (roundResponses > TARGET_RESPONSES) {
            uint256 down = step * (roundResponses - TARGET_RESPONSES);
            podasTarget = down >= podasTarget ? 1 : podasTarget - down;
        } else {
            uint256 up = step * (TARGET_RESPONSES - roundResponses);
            podasTarget = up > type(uint256).max - podasTarget ? type(uint256).max : podasTarget + up;
        }
        emit TargetAdjusted(sampleRound, roundResponses, podasTarget);
    }

    /// A DA tree's leaf hash: sha256(0x00 ‖ bytes) (the DA trees are SHA-256: every DA node
    /// hashes every share it keeps, three times faster than keccak on CPUs with SHA extensions).
    function _leaf(bytes memory data) internal pure returns (bytes32) {
        return sha256(abi.encodePacked(bytes1(0x00), data));
    }

    /// Hashes leaf hash `node` at `position` of a `width`-leaf DA tree (inner node sha256(0x01 ‖
    /// left ‖ right), odd levels padded with zero) up to its root with `siblings`: exactly one
    /// per level, ceil(log2 width) of them.
    function _climb(bytes32 node, uint256 position, uint256 width, bytes32[] calldata siblings) internal pure returns (bytes32) {
        uint256 levels;
        while ((uint256(1) << levels) < width) levels++;
        require(siblings.length == levels, "the proof has one sibling per level");
        for (uint256 i = 0; i < levels; i++) {
            node = (position >> i) & 1 == 0
                ? sha256(abi.encodePacked(bytes1(0x01), node, siblings[i]))
                : sha256(abi.encodePacked(bytes1(0x01), siblings[i], node));
        }
        return node;
    }

    function attestersOf(bytes32 dataRoot) external view returns (bytes32[] memory) {
        return attesters[dataRoot];
    }

    function _verify(bytes32 key, bytes calldata signature, bytes memory message) internal view returns (bool) {
        (bool ok, bytes memory out) = ED25519_VERIFY.staticcall(abi.encodePacked(key, signature, message));
        return ok && out.length == 32 && abi.decode(out, (uint256)) == 1;
    }
}
