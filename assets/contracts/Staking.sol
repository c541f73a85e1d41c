// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// zgnode's staking system contract, placed in the genesis state at
/// 0x0000000000000000000000000000000000001000.
///
/// Validators stake the native token against an ed25519 consensus key; anyone can delegate to
/// them. Voting power is a validator's total stake in whole tokens. The node reads
/// At the end of each epoch's last block the chain calls `closeEpoch()`, which snapshots
/// `activeValidators()`; the node takes the validator set from `currentValidators()`, so changes
/// here take effect at the next epoch boundary and the set in effect is always in chain state.
///
/// Stake is held as shares per validator: a slash lowers the validator's total stake and every
/// delegator's claim with it, pro rata. Slashed tokens stay in this contract (counted in
/// `slashedTotal`), so the token supply never changes.
///
/// Stake is also governance's voting power: an account's votes are the stake it holds with every
/// validator (its own and its delegations). The Governor reads them at a proposal's snapshot
/// block through the ERC-5805 views (`getPastVotes`, `getPastTotalSupply`, `clock`), so every
/// change of shares and of a validator's stake is checkpointed by block number. Votes cannot be
/// handed to another account: `delegate(address)` here stakes with a validator, as it always has.
contract Staking {
    /// The chain itself: block execution calls `slash` from here with evidence it verified.
    address public constant SYSTEM = 0xffffFFFfFFffffffffffffffFfFFFfffFFFfFFfE;
    /// The chain's ed25519 verification precompile: key (32) ‖ signature (64) ‖ message -> word 1/0.
    address public constant ED25519_VERIFY = 0x000000000000000000000000000000000000ed25;
    /// The DA entrance: slashes the attesters of a blob proven badly encoded.
    address public constant DA_ENTRANCE = 0x0000000000000000000000000000000000003000;
    /// Length of a vote's sign bytes: "ZGV1" ‖ chain id (8) ‖ height (8) ‖ round (4) ‖ type (1) ‖
    /// has value (1) ‖ value (32) ‖ validator consensus address (20).
    uint256 public constant VOTE_BYTES = 78;

    uint256 public immutable minSelfStake;
    uint256 public immutable unbondingBlocks;
    uint256 public immutable slashPercent;

    struct Validator {
        bytes32 consensusKey;
        uint256 totalStake;
        uint256 totalShares;
        bool jailed;
        bool exists;
    }

    struct Unbonding {
        uint256 amount;
        uint256 releaseBlock;
    }

    address[] public operators;
    mapping(address => Validator) public validators;
    mapping(bytes32 => address) public operatorOfKey;
    /// consensus address (last 20 bytes of keccak256(key)) => operator
    mapping(address => address) public operatorOfConsensusAddress;
    /// operator => delegator => shares
    mapping(address => mapping(address => uint256)) public shares;
    mapping(address => Unbonding[]) internal unbondings;
    uint256 public slashedTotal;

    /// (block number, value) pairs, oldest first; the last entry of a block wins.
    struct Checkpoint {
        uint64 fromBlock;
        uint192 value;
    }
    /// operator => delegator => shares held, by block
    mapping(address => mapping(address => Checkpoint[])) internal sharesHistory;
    /// operator => total shares, by block
    mapping(address => Checkpoint[]) internal totalSharesHistory;
    /// operator => total stake, by block
    mapping(address => Checkpoint[]) internal totalStakeHistory;
    /// all stake held by validators, by block
    Checkpoint[] internal stakedHistory;
    /// delegator => every validator it has held shares with
    mapping(address => address[]) internal heldWith;
    mapping(address => mapping(address => bool)) internal holdsWith;

    uint256 public epoch;
    address[] internal epochOperators;
    bytes32[] internal epochKeys;
    uint256[] internal epochStakes;

    event ValidatorCreated(address indexed operator, bytes32 consensusKey, uint256 stake);
    event Delegated(address indexed delegator, address indexed operator, uint256 amount);
    event Undelegated(address indexed delegator, address indexed operator, uint256 amount, uint256 releaseBlock);
    event Withdrawn(address indexed delegator, uint256 amount);
    event Slashed(address indexed operator, bytes32 consensusKey, uint256 amount);

    constructor(
        address[] memory operators_,
        bytes32[] memory keys,
        uint256[] memory stakes,
        uint256 minSelfStake_,
        uint256 unbondingBlocks_,
        uint256 slashPercent_
    ) payable {
        require(operators_.length == keys.length && keys.length == stakes.length, "length mismatch");
        require(slashPercent_ <= 100, "slash above 100%");
        minSelfStake = minSelfStake_;
        unbondingBlocks = unbondingBlocks_;
        slashPercent = slashPercent_;
        uint256 total;
        for (uint256 i = 0; i < keys.length; i++) {
            _create(operators_[i], keys[i], stakes[i]);
            total += stakes[i];
        }
        require(total == msg.value, "stakes must equal the value sent");
        _snapshot();
    }

    /// Ends the epoch: the active validators become the set for the next one. Only the chain calls it.
    function closeEpoch() external {
        require(msg.sender == SYSTEM, "only the chain may close an epoch");
        _snapshot();
        epoch++;
    }

    /// The validator set in effect for this epoch.
    function currentValidators()
        external
        view
        returns (address[] memory ops, bytes32[] memory keys, uint256[] memory stakes)
    {
        return (epochOperators, epochKeys, epochStakes);
    }

    function _snapshot() internal {
        (address[] memory ops, bytes32[] memory keys, uint256[] memory stakes) = activeValidators();
        epochOperators = ops;
        epochKeys = keys;
        epochStakes = stakes;
    }

    function createValidator(bytes32 consensusKey) external payable {
        require(msg.value >= minSelfStake, "stake below minimum");
        _create(msg.sender, consensusKey, msg.value);
    }

    function delegate(address operator) external payable {
        Validator storage v = validators[operator];
        require(v.exists, "no such validator");
        require(!v.jailed, "validator is jailed");
        require(msg.value > 0, "nothing to delegate");
        _addStake(operator, msg.sender, msg.value);
        emit Delegated(msg.sender, operator, msg.value);
    }

    /// Starts unbonding `amount` wei of the caller's stake with `operator`; it can be withdrawn
    /// after `unbondingBlocks` blocks.
    function undelegate(address operator, uint256 amount) external {
        Validator storage v = validators[operator];
        require(amount > 0, "nothing to undelegate");
        require(amount <= stakeOf(operator, msg.sender), "not enough stake");
        // Round the shares up so rounding never favours the leaver.
        uint256 burnt = (amount * v.totalShares + v.totalStake - 1) / v.totalStake;
        uint256 held = shares[operator][msg.sender];
        if (burnt > held) burnt = held;
        shares[operator][msg.sender] = held - burnt;
        v.totalShares -= burnt;
        v.totalStake -= amount;
        _checkpointShares(operator, msg.sender);
        _checkpointStake(operator, amount, false);
        uint256 releaseBlock = block.number + unbondingBlocks;
        unbondings[msg.sender].push(Unbonding(amount, releaseBlock));
        emit Undelegated(msg.sender, operator, amount, releaseBlock);
    }

    /// Pays out every unbonding of the caller that has matured.
    function withdraw() external {
        Unbonding[] storage list = unbondings[msg.sender];
        uint256 total;
        uint256 i = 0;
        while (i < list.length) {
            if (list[i].releaseBlock <= block.number) {
                total += list[i].amount;
                list[i] = list[list.length - 1];
                list.pop();
            } else {
                i++;
            }
        }
        require(total > 0, "nothing to withdraw");
        emit Withdrawn(msg.sender, total);
        (bool ok,) = msg.sender.call{value: total}("");
        require(ok, "transfer failed");
    }

    /// Slashes and jails the validator with this consensus key. Only the chain calls it, with
    /// double-sign evidence it has verified.
    function slash(bytes32 consensusKey) external {
        require(msg.sender == SYSTEM, "only the chain may slash");
        address operator = operatorOfKey[consensusKey];
        if (operator == address(0) || validators[operator].jailed) return;
        _slash(operator);
    }

    /// Slashes and jails the validator with this consensus key for attesting a blob the DA
    /// entrance found badly encoded (it checked the fraud proof).
    function slashForDa(bytes32 consensusKey) external {
        require(msg.sender == DA_ENTRANCE, "only the DA entrance may slash for DA");
        address operator = operatorOfKey[consensusKey];
        if (operator == address(0) || validators[operator].jailed) return;
        _slash(operator);
    }

    /// Anyone may prove a double sign: two votes (their sign bytes) by one validator for the same
    /// height, round and step with different values, each with a valid ed25519 signature.
    function submitDoubleSign(bytes calldata voteA, bytes calldata sigA, bytes calldata voteB, bytes calldata sigB)
        external
    {
        require(voteA.length == VOTE_BYTES && voteB.length == VOTE_BYTES, "a vote is 78 bytes");
        require(sigA.length == 64 && sigB.length == 64, "a signature is 64 bytes");
        require(bytes4(voteA[0:4]) == "ZGV1" && bytes4(voteB[0:4]) == "ZGV1", "not a vote");
        require(
            uint64(bytes8(voteA[4:12])) == block.chainid && uint64(bytes8(voteB[4:12])) == block.chainid,
            "a vote for another chain"
        );
        require(keccak256(voteA[12:25]) == keccak256(voteB[12:25]), "not the same height, round and step");
        require(bytes20(voteA[58:78]) == bytes20(voteB[58:78]), "not the same validator");
        require(keccak256(voteA[25:58]) != keccak256(voteB[25:58]), "the votes agree");
        address operator = operatorOfConsensusAddress[address(bytes20(voteA[58:78]))];
        require(operator != address(0), "unknown validator");
        Validator storage v = validators[operator];
        require(!v.jailed, "already jailed");
        require(_verify(v.consensusKey, sigA, voteA) && _verify(v.consensusKey, sigB, voteB), "bad signature");
        _slash(operator);
    }

    function _verify(bytes32 key, bytes calldata signature, bytes calldata message) internal view returns (bool) {
        (bool ok, bytes memory out) = ED25519_VERIFY.staticcall(abi.encodePacked(key, signature, message));
        return ok && out.length == 32 && abi.decode(out, (uint256)) == 1;
    }

    function _slash(address operator) internal {
        Validator storage v = validators[operator];
        uint256 cut = v.totalStake * slashPercent / 100;
        v.totalStake -= cut;
        v.jailed = true;
        slashedTotal += cut;
        _checkpointStake(operator, cut, false);
        emit Slashed(operator, v.consensusKey, cut);
    }

    function stakeOf(address operator, address delegator) public view returns (uint256) {
        Validator storage v = validators[operator];
        if (v.totalShares == 0) return 0;
        return shares[operator][delegator] * v.totalStake / v.totalShares;
    }

    function pendingWithdrawals(address delegator) external view returns (uint256 ready, uint256 unbonding) {
        Unbonding[] storage list = unbondings[delegator];
        for (uint256 i = 0; i < list.length; i++) {
            if (list[i].releaseBlock <= block.number) ready += list[i].amount;
            else unbonding += list[i].amount;
        }
    }

    function validatorCount() external view returns (uint256) {
        return operators.length;
    }

    /// Validators that may vote: not jailed, with at least the minimum stake.
    function activeValidators()
        public
        view
        returns (address[] memory ops, bytes32[] memory keys, uint256[] memory stakes)
    {
        uint256 count;
        for (uint256 i = 0; i < operators.length; i++) {
            if (_active(validators[operators[i]])) count++;
        }
        ops = new address[](count);
        keys = new bytes32[](count);
        stakes = new uint256[](count);
        uint256 j;
        for (uint256 i = 0; i < operators.length; i++) {
            Validator storage v = validators[operators[i]];
            if (_active(v)) {
                ops[j] = operators[i];
                keys[j] = v.consensusKey;
                stakes[j] = v.totalStake;
                j++;
            }
        }
    }

    function _active(Validator storage v) internal view returns (bool) {
        return !v.jailed && v.totalStake >= minSelfStake && v.totalStake > 0;
    }

    function _create(address operator, bytes32 consensusKey, uint256 stake) internal {
        require(!validators[operator].exists, "validator exists");
        require(consensusKey != bytes32(0), "empty consensus key");
        require(operatorOfKey[consensusKey] == address(0), "consensus key in use");
        validators[operator] = Validator(consensusKey, 0, 0, false, true);
        operatorOfKey[consensusKey] = operator;
        operatorOfConsensusAddress[address(uint160(uint256(keccak256(abi.encodePacked(consensusKey)))))] = operator;
        operators.push(operator);
        _addStake(operator, operator, stake);
        emit ValidatorCreated(operator, consensusKey, stake);
    }

    function _addStake(address operator, address delegator, uint256 amount) internal {
        Validator storage v = validators[operator];
        uint256 minted = v.totalShares == 0 || v.totalStake == 0 ? amount : amount * v.totalShares / v.totalStake;
        shares[operator][delegator] += minted;
        v.totalShares += minted;
        v.totalStake += amount;
        if (!holdsWith[delegator][operator]) {
            holdsWith[delegator][operator] = true;
            heldWith[delegator].push(operator);
        }
        _checkpointShares(operator, delegator);
        _checkpointStake(operator, amount, true);
    }

    // ---- Voting power (ERC-5805 views, block-number clock) ----

    function clock() public view returns (uint48) {
        return uint48(block.number);
    }

    // solhint-disable-next-line func-name-mixedcase
    function CLOCK_MODE() external pure returns (string memory) {
        return "mode=blocknumber&from=default";
    }

    /// An account's votes now: the stake it holds with every validator.
    function getVotes(address account) external view returns (uint256) {
        return _votesAt(account, block.number);
    }

    /// An account's votes at the end of block `timepoint`, which must be in the past.
    function getPastVotes(address account, uint256 timepoint) external view returns (uint256) {
        require(timepoint < block.number, "ERC5805FutureLookup");
        return _votesAt(account, timepoint);
    }

    /// All stake held by validators at the end of block `timepoint`, which must be in the past.
    function getPastTotalSupply(uint256 timepoint) external view returns (uint256) {
        require(timepoint < block.number, "ERC5805FutureLookup");
        return _at(stakedHistory, timepoint);
    }

    /// Votes are not handed on: each account votes its own stake.
    function delegates(address account) external pure returns (address) {
        return account;
    }

    function _votesAt(address account, uint256 blockNumber) internal view returns (uint256 votes) {
        address[] storage ops = heldWith[account];
        for (uint256 i = 0; i < ops.length; i++) {
            uint256 held = _at(sharesHistory[ops[i]][account], blockNumber);
            if (held == 0) continue;
            uint256 total = _at(totalSharesHistory[ops[i]], blockNumber);
            if (total == 0) continue;
            votes += held * _at(totalStakeHistory[ops[i]], blockNumber) / total;
        }
    }

    function _checkpointShares(address operator, address delegator) internal {
        _push(sharesHistory[operator][delegator], shares[operator][delegator]);
        _push(totalSharesHistory[operator], validators[operator].totalShares);
    }

    function _checkpointStake(address operator, uint256 amount, bool added) internal {
        _push(totalStakeHistory[operator], validators[operator].totalStake);
        uint256 staked = stakedHistory.length == 0 ? 0 : stakedHistory[stakedHistory.length - 1].value;
        _push(stakedHistory, added ? staked + amount : staked - amount);
    }

    function _push(Checkpoint[] storage history, uint256 value) internal {
        uint256 n = history.length;
        if (n > 0 && history[n - 1].fromBlock == block.number) {
            history[n - 1].value = uint192(value);
        } else {
            history.push(Checkpoint(uint64(block.number), uint192(value)));
        }
    }

    /// The value in effect at the end of `blockNumber` (0 before the first checkpoint).
    function _at(Checkpoint[] storage history, uint256 blockNumber) internal view returns (uint256) {
        uint256 low = 0;
        uint256 high = history.length;
        while (low < high) {
            uint256 mid = (low + high) / 2;
            if (history[mid].fromBlock > blockNumber) high = mid;
            else low = mid + 1;
        }
        return low == 0 ? 0 : history[low - 1].value;
    }
}
