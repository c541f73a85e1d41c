// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {PersonalSign} from "./PersonalSign.sol";

interface IModelRegistry {
    function getModel(bytes32 modelId)
        external
        view
        returns (address owner, bytes32 modelHash, bytes32 vkHash, uint32 k, uint32 size, uint64 registeredAt, uint64 activeAt);
    function verifyInference(bytes32 modelId, bytes32[] calldata publicInputs, bytes calldata proof) external view returns (bool);
    function verifyInferenceBatch(bytes32 modelId, bytes32[][] calldata publicInputs, bytes[] calldata proofs)
        external
        view
        returns (bool[] memory);
    function toField(int256 value) external pure returns (bytes32);
}

/// Verifiable inference services: a provider stakes, serves one registered model and returns a
/// halo2 proof with every result; it is paid only for results whose proofs verify on chain, and
/// anyone holding a wrong result it signed takes its stake.
///
/// A request is signed by its user (`personal_sign` over `requestHash`): provider, model, the
/// Poseidon commitment of the private input, a nonce (strictly increasing per user and
/// provider, so a request pays once) and the fee. The provider signs each result
/// (`personal_sign` over `resultHash`: the request, the logits, the proof). `settle` pays a
/// result only when the user's signature holds, the nonce is fresh, the user's deposit covers
/// the fee and the proof verifies through the ModelRegistry. `reportWrongResult` slashes the
/// provider's whole stake (half to the reporter, half burnt) for a signed result whose proof
/// does not verify, or whose logits differ from those of a valid proof for the same committed
/// input. A verification that does not complete (too little gas) reverts the report: only a
/// verification's "no" slashes.
///
/// Deposits leave in two steps, `requestWithdrawal` then `withdraw` after WITHDRAW_DELAY: a
/// provider that settles more often than that (its default is every 30 s) is always paid for
/// the results it served, whatever the user does meanwhile; results settled during the delay
/// are paid from the deposit first.
contract VerifiedInference {
    uint256 public constant MIN_STAKE = 10 ether;
    /// How long a requested withdrawal waits: far longer than any provider's settle interval.
    uint256 public constant WITHDRAW_DELAY = 1 hours;
    uint256 public constant MAX_BATCH = 40;
    address private constant BURN = address(0xdead);

    IModelRegistry public immutable registry;

    struct Provider {
        bytes32 modelId;
        uint256 price;
        uint256 stake;
        string url;
        bool slashed;
    }

    struct Request {
        address user;
        address provider;
        bytes32 modelId;
        uint256 nonce;
        bytes32 inputCommitment;
        uint256 fee;
    }

    struct Result {
        Request request;
        bytes userSignature;
        int256[] logits;
        bytes proof;
    }

    /// A signed result and, optionally, a valid proof of different logits for the same input.
    struct Evidence {
        int256[] logits;
        bytes proof;
        bytes providerSignature;
        int256[] honestLogits;
        bytes honestProof;
    }

    mapping(address => Provider) public providers;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public lastNonce;
    mapping(bytes32 => bool) public reported;

    struct PendingWithdrawal {
        uint256 amount;
        uint256 unlockAt;
    }

    mapping(address => PendingWithdrawal) public pendingWithdrawal;

    event ProviderRegistered(address indexed provider, bytes32 indexed modelId, uint256 price, uint256 stake, string url);
    event Deposited(address indexed user, uint256 amount);
    event WithdrawalRequested(address indexed user, uint256 amount, uint256 unlockAt);
    event Withdrawn(address indexed user, uint256 amount);
    event Settled(address indexed provider, address indexed user, uint256 nonce, uint256 fee);
    /// reason: 1 bad user signature, 2 stale nonce, 3 deposit short of the fee, 4 proof refused,
    /// 5 another provider's or model's request, 6 fee below the price.
    event Refused(address indexed provider, address indexed user, uint256 nonce, uint8 reason);
    event Slashed(address indexed provider, address indexed reporter, bytes32 resultHash, uint256 amount);

    constructor(IModelRegistry registry_) {
        registry = registry_;
    }

    /// Registers (or updates) the caller's service; the first registration stakes at least
    /// MIN_STAKE, later calls may add to it. A slashed provider must stake again.
    function registerProvider(bytes32 modelId, uint256 price, string calldata url) external payable {
        (address owner,,,,,,) = registry.getModel(modelId);
        require(owner != address(0), "VerifiedInference: unknown model");
        Provider storage p = providers[msg.sender];
        p.stake += msg.value;
        require(p.stake >= MIN_STAKE, "VerifiedInference: stake below MIN_STAKE");
        p.modelId = modelId;
        p.price = price;
        p.url = url;
        p.slashed = false;
        emit ProviderRegistered(msg.sender, modelId, price, p.stake, url);
    }

    function deposit() external payable {
        balanceOf[msg.sender] += msg.value;
        emit Deposited(msg.sender, msg.value);
    }

    /// Starts a withdrawal of `amount` (replacing any pending one), withdrawable after
    /// WITHDRAW_DELAY; the deposit keeps paying settlements until then.
    function requestWithdrawal(uint256 amount) external {
        require(amount > 0 && balanceOf[msg.sender] >= amount, "VerifiedInference: balance too low");
        uint256 unlockAt = block.timestamp + WITHDRAW_DELAY;
        pendingWithdrawal[msg.sender] = PendingWithdrawal(amount, unlockAt);
        emit WithdrawalRequested(msg.sender, amount, unlockAt);
    }

    /// Withdraws up to the pending amount once its delay has passed (what settlements left).
    function withdraw(uint256 amount) external {
        PendingWithdrawal storage pending = pendingWithdrawal[msg.sender];
        require(pending.amount >= amount && amount > 0, "VerifiedInference: request the withdrawal first");
        require(block.timestamp >= pending.unlockAt, "VerifiedInference: the withdrawal is still locked");
        require(balanceOf[msg.sender] >= amount, "VerifiedInference: balance too low");
        pending.amount -= amount;
        balanceOf[msg.sender] -= amount;
        (bool ok,) = msg.sender.call{value: amount}("");
        require(ok, "VerifiedInference: transfer failed");
        emit Withdrawn(msg.sender, amount);
    }

    function requestHash(Request calldata r) public view returns (bytes32) {
        return keccak256(abi.encode(address(this), block.chainid, r.user, r.provider, r.modelId, r.nonce, r.inputCommitment, r.fee));
    }

    function resultHash(Request calldata r, int256[] calldata logits, bytes calldata proof) public view returns (bytes32) {
        return keccak256(abi.encode(requestHash(r), keccak256(abi.encodePacked(logits)), keccak256(proof)));
    }

    /// The public inputs a proof of `logits` for `inputCommitment` carries.
    function publicInputs(bytes32 inputCommitment, int256[] calldata logits) public view returns (bytes32[] memory inputs) {
        inputs = new bytes32[](logits.length + 1);
        inputs[0] = inputCommitment;
        for (uint256 i = 0; i < logits.length; i++) {
            inputs[i + 1] = registry.toField(logits[i]);
        }
    }

    /// Pays the caller for each result whose proof verifies (see the contract's doc); the others
    /// are refused with their reason and stay unpaid (a refused nonce may be settled again).
    function settle(Result[] calldata results) external returns (uint256 paid, uint256 refused) {
        require(results.length > 0 && results.length <= MAX_BATCH, "VerifiedInference: 1 to MAX_BATCH results");
        Provider storage p = providers[msg.sender];
        require(p.stake > 0 && !p.slashed, "VerifiedInference: not a staked provider");
        bytes32[][] memory inputs = new bytes32[][](results.length);
        bytes[] memory proofs = new bytes[](results.length);
        for (uint256 i = 0; i < results.length; i++) {
            inputs[i] = publicInputs(results[i].request.inputCommitment, results[i].logits);
            proofs[i] = results[i].proof;
        }
        bool[] memory verified = registry.verifyInferenceBatch(p.modelId, inputs, proofs);
        for (uint256 i = 0; i < results.length; i++) {
            Request calldata r = results[i].request;
            uint8 reason = check(r, results[i].userSignature, p);
            if (reason == 0 && !verified[i]) reason = 4;
            if (reason != 0) {
                refused++;
                emit Refused(msg.sender, r.user, r.nonce, reason);
                continue;
            }
            lastNonce[r.user][msg.sender] = r.nonce;
            balanceOf[r.user] -= r.fee;
            paid += r.fee;
            emit Settled(msg.sender, r.user, r.nonce, r.fee);
        }
        if (paid > 0) {
            (bool ok,) = msg.sender.call{value: paid}("");
            require(ok, "VerifiedInference: transfer failed");
        }
    }

    function check(Request calldata r, bytes calldata signature, Provider storage p) private view returns (uint8) {
        if (r.provider != msg.sender || r.modelId != p.modelId) return 5;
        if (PersonalSign.recover(requestHash(r), signature) != r.user) return 1;
        if (r.nonce <= lastNonce[r.user][msg.sender]) return 2;
        if (r.fee < p.price) return 6;
        if (balanceOf[r.user] < r.fee) return 3;
        return 0;
    }

    /// Slashes `request.provider` for the result it signed (`evidence.providerSignature` over
    /// `resultHash`) when `evidence.proof` does not verify for `evidence.logits`, or when
    /// `evidence.honestProof` is a valid proof of different logits (`evidence.honestLogits`) for
    /// the same model and committed input. Reverts when the evidence shows nothing wrong.
    function reportWrongResult(Request calldata request, Evidence calldata evidence) external {
        Provider storage p = providers[request.provider];
        require(p.stake > 0, "VerifiedInference: nothing staked to slash");
        bytes32 hash = resultHash(request, evidence.logits, evidence.proof);
        require(!reported[hash], "VerifiedInference: already reported");
        require(PersonalSign.recover(hash, evidence.providerSignature) == request.provider, "VerifiedInference: the provider did not sign this result");
        require(shownWrong(request, evidence), "VerifiedInference: the result is not shown wrong");
        reported[hash] = true;
        uint256 amount = p.stake;
        p.stake = 0;
        p.slashed = true;
        emit Slashed(request.provider, msg.sender, hash, amount);
        (bool ok,) = msg.sender.call{value: amount / 2}("");
        require(ok, "VerifiedInference: transfer failed");
        (ok,) = BURN.call{value: amount - amount / 2}("");
        require(ok, "VerifiedInference: burn failed");
    }

    function shownWrong(Request calldata request, Evidence calldata evidence) private view returns (bool) {
        if (!registry.verifyInference(request.modelId, publicInputs(request.inputCommitment, evidence.logits), evidence.proof)) {
            return true;
        }
        if (evidence.honestProof.length == 0) return false;
        if (keccak256(abi.encodePacked(evidence.honestLogits)) == keccak256(abi.encodePacked(evidence.logits))) return false;
        return registry.verifyInference(request.modelId, publicInputs(request.inputCommitment, evidence.honestLogits), evidence.honestProof);
    }
}
