// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Governed} from "./Governed.sol";

/// The price of storage: a fixed price per 256-byte sector, as 0G's FixedPrice market.
/// Placed in the genesis state at 0x0000000000000000000000000000000000002001.
contract FixedPriceMarket {
    /// The price at genesis; `pricePerSector()` is the one in effect (governed).
    uint256 public genesisPricePerSector;

    constructor(uint256 pricePerSector_) {
        genesisPricePerSector = pricePerSector_;
    }

    /// ChainParams' `storagePricePerSector` where governance set one, else genesis'.
    function pricePerSector() external view returns (uint256) {
        return Governed.value(bytes4(keccak256("storagePricePerSector()")), genesisPricePerSector);
    }
}

/// The publishing lane: files are appended to the flow by their Merkle submission and paid for
/// by the sector. Compatible with the official 0G storage SDKs: both `submit` overloads, the
/// same `Submit` event. Placed in the genesis state at 0x0000000000000000000000000000000000002000.
///
/// The identity in the event is the file's data root, folded from the submission's pieces
/// (`H(n0, H(n1, ... H(n_{k-2}, n_{k-1})))`), so storage nodes learn the root from the event.
contract Flow {
    struct SubmissionNode {
        bytes32 root;
        uint256 height;
    }

    struct SubmissionData {
        uint256 length;
        bytes tags;
        SubmissionNode[] nodes;
    }

    struct Submission {
        SubmissionData data;
        address submitter;
    }

    /// Pieces of up to 2^40 sectors; a file of more is not a file.
    uint256 public constant MAX_HEIGHT = 40;
    uint256 public constant MAX_NODES = 64;
    /// One submission covers at most 2^32 sectors (1 TiB): every storage node audits and keeps
    /// shards of every file, so a bigger upload is split into files that each pay their way.
    uint256 public constant MAX_FILE_SECTORS = 1 << 32;

    address public immutable market;
    uint256 public numSubmissions;
    /// The flow's length in sectors: where the next submission starts.
    uint256 public nextPosition;
    /// Fees received, in wei (held here; storage rewards pay out of it).
    uint256 public totalFees;

    struct Entry {
        bytes32 root;
        uint256 start;
        uint256 sectors;
        uint256 size;
    }

    /// Every submission, in flow order (PoRA finds a challenged sector's file here).
    Entry[] public entries;

    struct Checkpoint {
        uint256 blockNumber;
        uint256 length;
    }

    /// The flow's length at the end of each block that changed it.
    Checkpoint[] public checkpoints;

    event Submit(
        address indexed sender,
        bytes32 indexed identity,
        uint256 submissionIndex,
        uint256 startPos,
        uint256 length,
        SubmissionData submission
    );

    constructor(address market_) {
        market = market_;
    }

    /// The SDK 1.x entry point.
    function submit(Submission calldata submission)
        external
        payable
        returns (uint256 index, bytes32 digest, uint256 startIndex, uint256 length)
    {
        return _submit(submission.data);
    }

    /// The SDK 0.3 entry point.
    function submit(SubmissionData calldata data)
        external
        payable
        returns (uint256 index, bytes32 digest, uint256 startIndex, uint256 length)
    {
        return _submit(data);
    }

    /// Sectors a submission occupies in the flow: the sum of its pieces.
    function sectorsOf(SubmissionData calldata data) public pure returns (uint256 sectors) {
        require(data.nodes.length > 0, "empty submission");
        require(data.nodes.length <= MAX_NODES, "too many nodes");
        for (uint256 i = 0; i < data.nodes.length; i++) {
            require(data.nodes[i].height <= MAX_HEIGHT, "node too high");
            // Largest first, as 0G's SDKs split a file: only then is every piece aligned.
            require(i == 0 || data.nodes[i].height < data.nodes[i - 1].height, "pieces not in descending size");
            sectors += uint256(1) << data.nodes[i].height;
        }
    }

    function _submit(SubmissionData calldata data)
        internal
        returns (uint256 index, bytes32 digest, uint256 startIndex, uint256 length)
    {
        length = sectorsOf(data);
        require(data.length > 0, "empty file");
        require(length <= MAX_FILE_SECTORS, "file over 1 TiB: split it into several submissions");
        require((data.length + 255) / 256 <= length, "pieces shorter than the file");
        require(length < 2 * ((data.length + 255) / 256) + 16, "pieces far longer than the file");
        uint256 fee = length * FixedPriceMarket(market).pricePerSector();
        require(msg.value >= fee, "fee below price per sector times sectors");
        uint256 last = data.nodes.length - 1;
        digest = data.nodes[last].root;
        for (uint256 i = last; i > 0; i--) {
            digest = keccak256(abi.encodePacked(data.nodes[i - 1].root, digest));
        }
        index = numSubmissions;
        // As 0G's flow: a submission starts at a multiple of its first (largest) piece, so each
        // piece sits on a boundary of its own size and a file of several segments starts on a
        // segment boundary (0G's clients count a file's segments from its start position). The
        // sectors skipped are padding, part of no file.
        uint256 align = uint256(1) << data.nodes[0].height;
        startIndex = (nextPosition + align - 1) / align * align;
        numSubmissions = index + 1;
        nextPosition = startIndex + length;
        totalFees += msg.value;
        entries.push(Entry(digest, startIndex, length, data.length));
        uint256 n = checkpoints.length;
        if (n > 0 && checkpoints[n - 1].blockNumber == block.number) {
            checkpoints[n - 1].length = startIndex + length;
        } else {
            checkpoints.push(Checkpoint(block.number, startIndex + length));
        }
        emit Submit(msg.sender, digest, index, startIndex, length, data);
    }

    /// The flow's length as it stood before block `blockNumber` (after all earlier blocks).
    function lengthBefore(uint256 blockNumber) public view returns (uint256) {
        uint256 lo = 0;
        uint256 hi = checkpoints.length;
        while (lo < hi) {
            uint256 mid = (lo + hi) / 2;
            if (checkpoints[mid].blockNumber < blockNumber) lo = mid + 1;
            else hi = mid;
        }
        return lo == 0 ? 0 : checkpoints[lo - 1].length;
    }

    /// The submission holding flow sector `position`.
    function entryAt(uint256 position) public view returns (bytes32 root, uint256 start, uint256 sectors, uint256 size) {
        require(position < nextPosition, "position beyond the flow");
        uint256 lo = 0;
        uint256 hi = entries.length;
        while (hi - lo > 1) {
            uint256 mid = (lo + hi) / 2;
            if (entries[mid].start <= position) lo = mid;
            else hi = mid;
        }
        Entry storage e = entries[lo];
        return (e.root, e.start, e.sectors, e.size);
    }
}
