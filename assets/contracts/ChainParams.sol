// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// The chain's governed parameters, placed in the genesis state at
/// 0x0000000000000000000000000000000000004001 and owned by the governance timelock
/// (0x…4002), so only a proposal that passed, waited out the delay and was executed changes them.
///
/// The node reads `overrides()` after every committed block; a changed value applies from the
/// next block on every node alike (it is chain state). A zero block gas limit means "the genesis
/// limit": `blockGasLimit()` then answers the limit in effect.
contract ChainParams {
    /// A block below this could not hold the system calls the chain makes each block.
    uint64 public constant MIN_BLOCK_GAS_LIMIT = 10_000_000;
    /// Above this one block could take longer to execute than the block time on any machine.
    uint64 public constant MAX_BLOCK_GAS_LIMIT = 2_000_000_000;
    /// The alignment reward rate is in basis points of the scheduled vesting.
    uint256 public constant MAX_REWARD_RATE_BPS = 10_000;

    address public owner;
    uint64 internal _blockGasLimit;
    uint256 public daBlobPrice;
    uint256 public storagePricePerSector;
    uint256 public computeMinStake;
    uint256 public alignmentRewardRateBps;

    event OwnerChanged(address indexed previousOwner, address indexed newOwner);
    event ParamChanged(string name, uint256 previousValue, uint256 newValue);

    error NotOwner(address caller);
    error OutOfRange(string name, uint256 value);

    constructor(
        address owner_,
        uint64 blockGasLimit_,
        uint256 daBlobPrice_,
        uint256 storagePricePerSector_,
        uint256 computeMinStake_,
        uint256 alignmentRewardRateBps_
    ) {
        owner = owner_;
        _blockGasLimit = blockGasLimit_;
        daBlobPrice = daBlobPrice_;
        storagePricePerSector = storagePricePerSector_;
        computeMinStake = computeMinStake_;
        alignmentRewardRateBps = alignmentRewardRateBps_;
    }

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        _;
    }

    /// The gas limit of the blocks being built now.
    function blockGasLimit() external view returns (uint64) {
        return _blockGasLimit == 0 ? uint64(block.gaslimit) : _blockGasLimit;
    }

    /// Every parameter as stored (a zero gas limit: the genesis limit), for the node.
    function overrides()
        external
        view
        returns (uint64 gasLimit, uint256 blobPrice, uint256 pricePerSector, uint256 minStake, uint256 rewardRateBps)
    {
        return (_blockGasLimit, daBlobPrice, storagePricePerSector, computeMinStake, alignmentRewardRateBps);
    }

    function setBlockGasLimit(uint64 limit) external onlyOwner {
        if (limit < MIN_BLOCK_GAS_LIMIT || limit > MAX_BLOCK_GAS_LIMIT) revert OutOfRange("blockGasLimit", limit);
        emit ParamChanged("blockGasLimit", _blockGasLimit, limit);
        _blockGasLimit = limit;
    }

    // The contracts that read these take 0 as "not governed" (their genesis value applies), so
    // 0 is refused rather than silently meaning something else.

    function setDaBlobPrice(uint256 price) external onlyOwner {
        if (price == 0) revert OutOfRange("daBlobPrice", price);
        emit ParamChanged("daBlobPrice", daBlobPrice, price);
        daBlobPrice = price;
    }

    function setStoragePricePerSector(uint256 price) external onlyOwner {
        if (price == 0) revert OutOfRange("storagePricePerSector", price);
        emit ParamChanged("storagePricePerSector", storagePricePerSector, price);
        storagePricePerSector = price;
    }

    function setComputeMinStake(uint256 stake) external onlyOwner {
        if (stake == 0) revert OutOfRange("computeMinStake", stake);
        emit ParamChanged("computeMinStake", computeMinStake, stake);
        computeMinStake = stake;
    }

    function setAlignmentRewardRateBps(uint256 rate) external onlyOwner {
        if (rate == 0 || rate > MAX_REWARD_RATE_BPS) revert OutOfRange("alignmentRewardRateBps", rate);
        emit ParamChanged("alignmentRewardRateBps", alignmentRewardRateBps, rate);
        alignmentRewardRateBps = rate;
    }

    function setOwner(address newOwner) external onlyOwner {
        if (newOwner == address(0)) revert OutOfRange("owner", 0);
        emit OwnerChanged(owner, newOwner);
        owner = newOwner;
    }
}
