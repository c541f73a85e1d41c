// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {PersonalSign} from "./PersonalSign.sol";

interface IFlowForMine {
    function lengthBefore(uint256 blockNumber) external view returns (uint256);
    function entryAt(uint256 position) external view returns (bytes32 root, uint256 start, uint256 sectors, uint256 size);
    function entries(uint256 txSeq) external view returns (bytes32 root, uint256 start, uint256 sectors, uint256 size);
}

/// Proof of random access: each epoch the chain's block hash picks, for every registered storage
/// node, `challengesPerEpoch` sectors across the flow; the node proves it holds each with the
/// 256-byte chunk and its Merkle siblings up to the file's root, verified here. A passed challenge
/// pays `rewardPerChallenge` at once; after the epoch's deadline anyone may settle a node's epoch,
/// and each challenge it did not pass (wrong proof or silence) costs `penaltyPerMille` of its
/// stake. Placed in the genesis state at 0x0000000000000000000000000000000000002002.
///
/// Positions depend only on the block hash, the node's address and the challenge index, never
/// on the prover's choice, and the flow length they range over is the length before the epoch's
/// first block.
contract PoraMine {
    address public immutable flow;
    uint256 public immutable epochBlocks;
    uint256 public immutable challengesPerEpoch;
    uint256 public immutable minStake;
    uint256 public immutable penaltyPerMille;
    uint256 public immutable rewardPerChallenge;

    uint256 public constant SEGMENT_CHUNKS = 1024;
    /// What `challenge` returns when it found nothing this miner keeps: passed without a proof.
    uint256 public constant NO_CHALLENGE = type(uint256).max;
    /// Draws `challenge` makes before giving up on finding a chunk this miner keeps.
    uint256 public constant DRAWS = 16;

    /// Erasure coding across storage nodes: shard j of a file's segment s lives on
    /// ring[(j + s) % ring.length]; data shard j holds chunks [j*c, (j+1)*c) of the segment,
    /// c = ceil(segment chunks / dataShards). A miner registered for a ring member is challenged
    /// only on chunks of its data shards. No ring (dataShards 0): chunks across the whole flow.
    bytes32[] public ring;
    uint256 public immutable dataShards;
    /// Ring position + 1 by storage node key.
    mapping(bytes32 => uint256) public ringSlot;

    struct Miner {
        uint256 stake;
        uint256 earned;
        uint256 penalized;
        uint256 registeredEpoch;
        bool registered;
        /// The storage node's network key (ed25519): who holds its erasure-coded shards.
        bytes32 nodeId;
    }

    mapping(address => Miner) public miners;
    /// epoch => miner => bitmap of passed challenge indices
    mapping(uint256 => mapping(address => uint256)) public passed;
    mapping(uint256 => mapping(address => bool)) public settled;
    uint256 public penaltiesTotal;
    /// Storage node key => the miner that registered for it.
    mapping(bytes32 => address) public nodeOwner;
    /// The chain's ed25519 verification precompile: key (32) ‖ signature (64) ‖ message -> word 1/0.
    address public constant ED25519_VERIFY = 0x000000000000000000000000000000000000ed25;

    event Registered(address indexed miner, uint256 stake, bytes32 nodeId);
    event Passed(address indexed miner, uint256 indexed epoch, uint256 index, uint256 position);
    event Settled(address indexed miner, uint256 indexed epoch, uint256 missed, uint256 penalty);
    event ServedBadSegment(address indexed miner, address indexed reporter, bytes32 indexed root, uint256 segment, uint256 penalty);

    /// Share of its stake a miner loses for each signed segment answer shown not to verify: half
    /// to whoever shows it, half kept with the other penalties.
    uint256 public constant BAD_SEGMENT_PENALTY_PER_MILLE = 100;
    uint256 public constant SEGMENT_BYTES = SEGMENT_CHUNKS * 256;
    /// Signed answers already judged (an answer is penalized once).
    mapping(bytes32 => bool) public answerReported;

    constructor(
        address flow_,
        uint256 epochBlocks_,
        uint256 challengesPerEpoch_,
        uint256 minStake_,
        uint256 penaltyPerMille_,
        uint256 rewardPerChallenge_,
        bytes32[] memory ring_,
        uint256 dataShards_
    ) {
        require(ring_.length == 0 || (dataShards_ > 0 && dataShards_ < ring_.length), "data shards must be 1..ring size - 1");
        for (uint256 i = 0; i < ring_.length; i++) {
            require(i == 0 || ring_[i - 1] < ring_[i], "ring keys must be sorted and distinct");
            ringSlot[ring_[i]] = i + 1;
        }
        ring = ring_;
        dataShards = ring_.length == 0 ? 0 : dataShards_;
        require(epochBlocks_ > 1 && epochBlocks_ <= 128, "epochs of 2..128 blocks");
        require(challengesPerEpoch_ > 0 && challengesPerEpoch_ <= 256, "1..256 challenges");
        require(penaltyPerMille_ <= 1000, "penalty above 100%");
        flow = flow_;
        epochBlocks = epochBlocks_;
        challengesPerEpoch = challengesPerEpoch_;
        minStake = minStake_;
        penaltyPerMille = penaltyPerMille_;
        rewardPerChallenge = rewardPerChallenge_;
    }

    receive() external payable {}

    /// `nodeId` names the storage node whose shards this stake answers for; it must sign
    /// `registrationMessage(msg.sender)` with that key, and each node is claimed once. Zero: a
    /// storage node that keeps no erasure-coded shards (no signature).
    function register(bytes32 nodeId, bytes calldata nodeSignature) external payable {
        Miner storage m = miners[msg.sender];
        require(!m.registered, "already registered");
        require(msg.value >= minStake, "stake below minimum");
        if (nodeId != bytes32(0)) {
            require(nodeOwner[nodeId] == address(0), "node already registered");
            require(nodeSignature.length == 64, "node signature must be 64 bytes");
            (bool ok, bytes memory out) =
                ED25519_VERIFY.staticcall(abi.encodePacked(nodeId, nodeSignature, registrationMessage(msg.sender)));
            require(ok && out.length == 32 && uint256(bytes32(out)) == 1, "bad node signature");
            nodeOwner[nodeId] = msg.sender;
        }
        m.stake = msg.value;
        m.registered = true;
        m.registeredEpoch = currentEpoch();
        m.nodeId = nodeId;
        emit Registered(msg.sender, msg.value, nodeId);
    }

    /// What a storage node's key signs to let `miner` stake for it.
    function registrationMessage(address miner) public view returns (bytes memory) {
        return abi.encodePacked("zgnode PoRA registration", block.chainid, address(this), miner);
    }

    function currentEpoch() public view returns (uint256) {
        return block.number / epochBlocks;
    }

    /// The randomness of an epoch: the hash of its first block (it must have been mined).
    function seed(uint256 epoch) public view returns (bytes32) {
        uint256 first = epoch * epochBlocks;
        require(first < block.number, "epoch not started");
        require(block.number - first <= 256, "epoch too old");
        return blockhash(first);
    }

    /// The flow sector challenge `index` of `epoch` asks `miner` for (NO_CHALLENGE: none).
    function challenge(uint256 epoch, address miner, uint256 index) public view returns (uint256) {
        require(index < challengesPerEpoch, "no such challenge");
        uint256 length = IFlowForMine(flow).lengthBefore(epoch * epochBlocks);
        require(length > 0, "the flow was empty");
        uint256 draw = uint256(keccak256(abi.encode(seed(epoch), miner, index)));
        uint256 slot = ringSlot[miners[miner].nodeId];
        if (dataShards == 0 || slot == 0) return _flowChallenge(draw, length);
        return _shardChallenge(draw, length, slot - 1);
    }

    /// A flow sector inside a file: the draw, or, when it lands in the padding between
    /// submissions (which holds nothing to prove), a redraw, at most DRAWS in all. Redrawing
    /// rather than excusing keeps padding from shielding a node that stores nothing: whoever
    /// pads the flow pays for as many real sectors as it pads.
    function _flowChallenge(uint256 draw, uint256 length) internal view returns (uint256) {
        for (uint256 attempt = 0; attempt < DRAWS; attempt++) {
            uint256 r = attempt == 0 ? draw : uint256(keccak256(abi.encode(draw, attempt)));
            uint256 position = r % length;
            (, uint256 start, uint256 sectors,) = IFlowForMine(flow).entryAt(position);
            if (position < start + sectors) return position;
        }
        return NO_CHALLENGE;
    }

    /// A chunk of a data shard ring member `member` keeps: a file drawn by flow position, one of
    /// its data segments, the chunk inside that segment's shard for the member.
    function _shardChallenge(uint256 draw, uint256 length, uint256 member) internal view returns (uint256) {
        uint256 n = ring.length;
        for (uint256 attempt = 0; attempt < DRAWS; attempt++) {
            uint256 r = uint256(keccak256(abi.encode(draw, attempt)));
            (, uint256 start,, uint256 size) = IFlowForMine(flow).entryAt(r % length);
            uint256 fileChunks = (size + 255) / 256;
            if (fileChunks == 0) continue;
            uint256 segment = (r >> 64) % ((fileChunks + SEGMENT_CHUNKS - 1) / SEGMENT_CHUNKS);
            uint256 shard = (member + n - segment % n) % n;
            if (shard >= dataShards) continue;
            uint256 segmentChunks = fileChunks - segment * SEGMENT_CHUNKS;
            if (segmentChunks > SEGMENT_CHUNKS) segmentChunks = SEGMENT_CHUNKS;
            uint256 perShard = (segmentChunks + dataShards - 1) / dataShards;
            uint256 first = shard * perShard;
            if (first >= segmentChunks) continue;
            uint256 width = segmentChunks - first;
            if (width > perShard) width = perShard;
            return start + segment * SEGMENT_CHUNKS + first + (r >> 128) % width;
        }
        return NO_CHALLENGE;
    }

    /// Proves challenge `index` of `epoch`: `chunk` is the challenged sector, `siblings` the
    /// Merkle siblings from it to the file root (inside its segment first, then across segments;
    /// levels where a node is promoted have none). Accepted until the end of the next epoch.
    function submitProof(uint256 epoch, uint256 index, bytes calldata chunk, bytes32[] calldata siblings) external {
        Miner storage m = miners[msg.sender];
        require(m.registered, "not a registered storage node");
        require(epoch >= m.registeredEpoch, "epoch before registration");
        require(epoch <= currentEpoch(), "epoch not started");
        require(currentEpoch() <= epoch + 1, "deadline passed");
        uint256 bit = uint256(1) << index;
        require(passed[epoch][msg.sender] & bit == 0, "already proven");
        uint256 position = challenge(epoch, msg.sender, index);
        if (position == NO_CHALLENGE) {
            // Nothing of this miner's was drawn: passed, unpaid.
            passed[epoch][msg.sender] |= bit;
            emit Passed(msg.sender, epoch, index, position);
            return;
        }
        require(chunk.length == 256, "a chunk is 256 bytes");
        (bytes32 root, uint256 start, uint256 sectors,) = IFlowForMine(flow).entryAt(position);
        require(_verify(root, position - start, sectors, keccak256(chunk), siblings), "invalid proof");
        passed[epoch][msg.sender] |= bit;
        m.earned += rewardPerChallenge;
        emit Passed(msg.sender, epoch, index, position);
        if (rewardPerChallenge > 0 && address(this).balance >= rewardPerChallenge) {
            (bool ok,) = msg.sender.call{value: rewardPerChallenge}("");
            require(ok, "reward transfer failed");
        }
    }

    /// After an epoch's deadline: penalizes `miner` for each challenge it did not pass.
    function settle(uint256 epoch, address miner) external {
        Miner storage m = miners[miner];
        require(m.registered && epoch >= m.registeredEpoch, "nothing to settle");
        require(currentEpoch() >= epoch + 2, "the epoch is still open");
        require(!settled[epoch][miner], "already settled");
        settled[epoch][miner] = true;
        uint256 missed = challengesPerEpoch - _popcount(passed[epoch][miner]);
        uint256 penalty = m.stake * penaltyPerMille * missed / 1000 / challengesPerEpoch;
        m.stake -= penalty;
        m.penalized += penalty;
        penaltiesTotal += penalty;
        emit Settled(miner, epoch, missed, penalty);
    }

    // ---- serving ----

    /// What a staked storage node signs (`personal_sign`, with its miner key) when it serves
    /// segment `segment` of the file with data root `root`: the bytes and the Merkle siblings
    /// from the segment's root up to the file root, as it sent them.
    function segmentAnswerHash(bytes32 root, uint256 segment, bytes calldata data, bytes32[] calldata siblings)
        public
        view
        returns (bytes32)
    {
        return keccak256(
            abi.encode(address(this), block.chainid, root, segment, keccak256(data), keccak256(abi.encodePacked(siblings)))
        );
    }

    /// Penalizes the miner that signed an answer for segment `segment` of submission `txSeq`
    /// whose bytes and siblings do not hash to the file root the flow recorded: a staked node
    /// served a corrupted segment (an honest node's answers always verify, so nobody can frame
    /// one). Pays the caller half the penalty; returns the miner penalized. Reverts when the
    /// answer verifies, is not signed by a staked miner, or was judged before.
    function reportBadSegment(
        uint256 txSeq,
        uint256 segment,
        bytes calldata data,
        bytes32[] calldata siblings,
        bytes calldata signature
    ) external returns (address miner) {
        (bytes32 root,, uint256 sectors,) = IFlowForMine(flow).entries(txSeq);
        bytes32 answer = segmentAnswerHash(root, segment, data, siblings);
        require(!answerReported[answer], "answer already judged");
        miner = PersonalSign.recover(answer, signature);
        require(miner != address(0) && miners[miner].registered && miners[miner].stake > 0, "not signed by a staked storage node");
        require(segment < (sectors + SEGMENT_CHUNKS - 1) / SEGMENT_CHUNKS, "no such segment");
        require(!_segmentVerifies(root, sectors, segment, data, siblings), "the segment verifies");
        answerReported[answer] = true;
        _penalizeServing(miner, root, segment);
    }

    function _penalizeServing(address miner, bytes32 root, uint256 segment) private {
        Miner storage m = miners[miner];
        uint256 penalty = m.stake * BAD_SEGMENT_PENALTY_PER_MILLE / 1000;
        m.stake -= penalty;
        m.penalized += penalty;
        penaltiesTotal += penalty - penalty / 2;
        emit ServedBadSegment(miner, msg.sender, root, segment, penalty);
        (bool ok,) = msg.sender.call{value: penalty / 2}("");
        require(ok, "reporter transfer failed");
    }

    /// Whether `data` (a whole number of 256-byte chunks, at most a segment; what a node stores)
    /// is segment `segment` of the file under `root`: its chunks, padded with the flow's empty
    /// chunks to the segment's width, hash to a segment root that `siblings` fold into `root`.
    function _segmentVerifies(bytes32 root, uint256 sectors, uint256 segment, bytes calldata data, bytes32[] calldata siblings)
        internal
        pure
        returns (bool)
    {
        uint256 width = sectors - segment * SEGMENT_CHUNKS;
        if (width > SEGMENT_CHUNKS) width = SEGMENT_CHUNKS;
        if (data.length == 0 || data.length % 256 != 0 || data.length / 256 > width) return false;
        bytes32[] memory level = new bytes32[](width);
        bytes32 empty = keccak256(new bytes(256));
        for (uint256 i = 0; i < width; i++) {
            level[i] = i < data.length / 256 ? keccak256(data[i * 256:(i + 1) * 256]) : empty;
        }
        while (width > 1) {
            uint256 half = (width + 1) / 2;
            for (uint256 i = 0; i < half; i++) {
                level[i] = 2 * i + 1 < width ? keccak256(abi.encodePacked(level[2 * i], level[2 * i + 1])) : level[2 * i];
            }
            width = half;
        }
        uint256 segments = (sectors + SEGMENT_CHUNKS - 1) / SEGMENT_CHUNKS;
        (bytes32 node, uint256 used) = _fold(level[0], segment, segments, siblings, 0);
        return used == siblings.length && node == root && root != bytes32(0);
    }

    function _verify(bytes32 root, uint256 chunkIndex, uint256 sectors, bytes32 leaf, bytes32[] calldata siblings)
        internal
        pure
        returns (bool)
    {
        uint256 segments = (sectors + SEGMENT_CHUNKS - 1) / SEGMENT_CHUNKS;
        uint256 segment = chunkIndex / SEGMENT_CHUNKS;
        uint256 width = sectors - segment * SEGMENT_CHUNKS;
        if (width > SEGMENT_CHUNKS) width = SEGMENT_CHUNKS;
        uint256 used;
        bytes32 node;
        (node, used) = _fold(leaf, chunkIndex % SEGMENT_CHUNKS, width, siblings, 0);
        (node, used) = _fold(node, segment, segments, siblings, used);
        return used == siblings.length && node == root && root != bytes32(0);
    }

    /// Hashes up a tree whose odd last node is promoted, from `position` among `width` leaves;
    /// a zero node when the siblings run out (a short proof verifies nothing, and is evidence).
    function _fold(bytes32 node, uint256 position, uint256 width, bytes32[] calldata siblings, uint256 used)
        internal
        pure
        returns (bytes32, uint256)
    {
        while (width > 1) {
            bool promoted = position == width - 1 && width % 2 == 1;
            if (!promoted) {
                if (used >= siblings.length) return (bytes32(0), used);
                bytes32 sibling = siblings[used++];
                node = position % 2 == 0
                    ? keccak256(abi.encodePacked(node, sibling))
                    : keccak256(abi.encodePacked(sibling, node));
            }
            position /= 2;
            width = (width + 1) / 2;
        }
        return (node, used);
    }

    function _popcount(uint256 x) internal pure returns (uint256 count) {
        while (x != 0) {
            x &= x - 1;
            count++;
        }
    }
}
