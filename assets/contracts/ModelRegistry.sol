// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// Models whose inferences can be proved (halo2, IPA over Pasta) and checked on chain.
///
/// `register` stores a model's canonical bytes (zgnode's `ZGQM` encoding: int8 weights, int32
/// biases, requantization) in data contracts with the hash of its verifying key (keccak-256
/// of halo2's pinned key, as `zgnode` computes it); an id is registered once and never
/// overwritten. Registering burns a fee per circuit row: every node derives the model's key
/// (seconds of work, not in any gas price) during the activation delay, and the fee keeps that
/// work from being asked for freely. `verifyInference` hands a proof to the chain's precompile
/// (which answers this contract only) with the registered bytes and key hash: it answers 1 only
/// when the model is active, the key derived from the bytes hashes to the registered one (a
/// false hash makes the model unusable, nothing else) and the proof verifies for the public
/// inputs `[input commitment, logits...]` (Pasta Fp elements, big-endian; a negative logit `l`
/// is `P - |l|`).
contract ModelRegistry {
    /// The chain's inference-proof precompile.
    address public constant VERIFIER = address(0xc001);
    /// Pasta's Fp (Vesta's scalar field), the field the public inputs live in.
    uint256 public constant FIELD_MODULUS = 0x40000000000000000000000000000000224698fc094cf91b992d30ed00000001;
    uint256 public constant MAX_MODEL_BYTES = 1 << 20;
    /// Below EIP-170's 24,576-byte code limit with the leading STOP byte.
    uint256 private constant CHUNK = 24_000;
    uint8 private constant OP_VERIFY = 1;
    uint8 private constant OP_INSPECT = 2;
    address private constant BURN = address(0xdead);

    /// Seconds between registration and the first verification (nodes derive the key meanwhile).
    uint64 public immutable activationDelay;
    /// Burnt per circuit row (2^k) on registration.
    uint256 public immutable feePerRow;
    uint8 private constant OP_VERIFY_BATCH = 3;

    struct Model {
        address owner;
        bytes32 modelHash;
        bytes32 vkHash;
        uint32 k;
        uint32 size;
        uint64 registeredAt;
        uint64 activeAt;
        address[] chunks;
    }

    mapping(bytes32 => Model) private models;
    bytes32[] private ids;

    /// The model's bytes ride in the event: nodes derive its key from them.
    event ModelRegistered(
        bytes32 indexed modelId, address indexed owner, bytes32 modelHash, bytes32 vkHash, uint32 k, uint64 activeAt, bytes model
    );

    constructor(uint64 activationDelay_, uint256 feePerRow_) {
        activationDelay = activationDelay_;
        feePerRow = feePerRow_;
    }

    /// The circuit size of `model` and whether the precompile proves it at all.
    function inspect(bytes calldata model) public view returns (uint32 k, bool provable) {
        (bool ok, bytes memory out) = VERIFIER.staticcall(abi.encodePacked(OP_INSPECT, model));
        if (!ok || out.length != 64) return (0, false);
        (uint256 size, uint256 flag) = abi.decode(out, (uint256, uint256));
        return (uint32(size), flag == 1);
    }

    /// The fee `register` burns for a model of `2^k` rows.
    function registrationFee(uint32 k) public view returns (uint256) {
        return feePerRow << k;
    }

    /// Registers `model` (canonical bytes) under `modelId` with its verifying key's hash, paying
    /// `registrationFee(k)` (any excess is burnt too); reverts when the id is taken or the bytes
    /// are not a model the precompile proves. Usable `activationDelay` seconds later.
    function register(bytes32 modelId, bytes calldata model, bytes32 vkHash) external payable {
        require(modelId != bytes32(0), "ModelRegistry: zero model id");
        require(models[modelId].owner == address(0), "ModelRegistry: model id already registered");
        require(model.length > 0 && model.length <= MAX_MODEL_BYTES, "ModelRegistry: model size out of range");
        require(vkHash != bytes32(0), "ModelRegistry: zero key hash");
        (uint32 k, bool provable) = inspect(model);
        require(provable, "ModelRegistry: not a provable model");
        require(msg.value >= registrationFee(k), "ModelRegistry: registration fee not paid");
        (bool burnt,) = BURN.call{value: msg.value}("");
        require(burnt, "ModelRegistry: burning the fee failed");
        Model storage entry = models[modelId];
        entry.owner = msg.sender;
        entry.modelHash = keccak256(model);
        entry.vkHash = vkHash;
        entry.k = k;
        entry.size = uint32(model.length);
        entry.registeredAt = uint64(block.timestamp);
        entry.activeAt = uint64(block.timestamp) + activationDelay;
        for (uint256 at = 0; at < model.length; at += CHUNK) {
            uint256 end = at + CHUNK < model.length ? at + CHUNK : model.length;
            entry.chunks.push(store(model[at:end]));
        }
        ids.push(modelId);
        emit ModelRegistered(modelId, msg.sender, entry.modelHash, vkHash, k, entry.activeAt, model);
    }

    /// Whether `proof` proves `publicInputs` (`[input commitment, logits...]`) for `modelId`.
    /// False for an unknown model, a malformed proof or public input, or a proof that fails.
    /// Reverts when the verification did not complete (too little gas for the precompile, or
    /// its key not ready): "no" is only ever a verification's answer, so a caller that slashes
    /// on false (VerifiedInference) cannot be made to by a report sent with too little gas.
    function verifyInference(bytes32 modelId, bytes32[] calldata publicInputs, bytes calldata proof) external view returns (bool) {
        Model storage entry = models[modelId];
        if (entry.owner == address(0) || block.timestamp < entry.activeAt) return false;
        bytes memory model = load(entry);
        (bool ok, bytes memory out) = VERIFIER.staticcall(
            abi.encodePacked(OP_VERIFY, entry.vkHash, uint32(model.length), model, uint32(publicInputs.length), publicInputs, proof)
        );
        require(ok && out.length == 32, "ModelRegistry: the verification did not complete");
        return uint256(bytes32(out)) == 1;
    }

    /// [`verifyInference`] for many proofs of one model: the key is derived once, so each proof
    /// after the first costs only its verification. One answer per proof.
    function verifyInferenceBatch(bytes32 modelId, bytes32[][] calldata publicInputs, bytes[] calldata proofs)
        external
        view
        returns (bool[] memory verified)
    {
        require(publicInputs.length == proofs.length, "ModelRegistry: one public input list per proof");
        verified = new bool[](proofs.length);
        Model storage entry = models[modelId];
        if (entry.owner == address(0) || block.timestamp < entry.activeAt || proofs.length == 0) return verified;
        bytes memory model = load(entry);
        bytes memory input = abi.encodePacked(OP_VERIFY_BATCH, entry.vkHash, uint32(model.length), model, uint32(proofs.length));
        for (uint256 i = 0; i < proofs.length; i++) {
            input = bytes.concat(input, abi.encodePacked(uint32(publicInputs[i].length), publicInputs[i], uint32(proofs[i].length), proofs[i]));
        }
        (bool ok, bytes memory out) = VERIFIER.staticcall(input);
        require(ok && out.length == 32 * proofs.length, "ModelRegistry: the verification did not complete");
        for (uint256 i = 0; i < proofs.length; i++) {
            uint256 word;
            assembly {
                word := mload(add(add(out, 32), mul(i, 32)))
            }
            verified[i] = word == 1;
        }
    }

    function getModel(bytes32 modelId)
        external
        view
        returns (address owner, bytes32 modelHash, bytes32 vkHash, uint32 k, uint32 size, uint64 registeredAt, uint64 activeAt)
    {
        Model storage entry = models[modelId];
        return (entry.owner, entry.modelHash, entry.vkHash, entry.k, entry.size, entry.registeredAt, entry.activeAt);
    }

    /// The registered canonical bytes (empty for an unknown id).
    function modelBytes(bytes32 modelId) external view returns (bytes memory) {
        Model storage entry = models[modelId];
        if (entry.owner == address(0)) return "";
        return load(entry);
    }

    function modelCount() external view returns (uint256) {
        return ids.length;
    }

    function modelIdAt(uint256 index) external view returns (bytes32) {
        return ids[index];
    }

    /// A field element for a logit (negative values wrap to `P - |l|`).
    function toField(int256 value) public pure returns (bytes32) {
        if (value >= 0) {
            require(uint256(value) < FIELD_MODULUS, "ModelRegistry: value outside the field");
            return bytes32(uint256(value));
        }
        uint256 magnitude = uint256(-(value + 1)) + 1;
        require(magnitude < FIELD_MODULUS, "ModelRegistry: value outside the field");
        return bytes32(FIELD_MODULUS - magnitude);
    }

    /// A data contract whose code is `0x00 ‖ data` (the STOP byte keeps it from running).
    function store(bytes calldata data) private returns (address pointer) {
        bytes memory init = abi.encodePacked(hex"61", uint16(data.length + 1), hex"80600a3d393df300", data);
        assembly {
            pointer := create(0, add(init, 32), mload(init))
        }
        require(pointer != address(0), "ModelRegistry: storing the model failed");
    }

    function load(Model storage entry) private view returns (bytes memory model) {
        model = new bytes(entry.size);
        uint256 offset = 0;
        for (uint256 i = 0; i < entry.chunks.length; i++) {
            address pointer = entry.chunks[i];
            uint256 length = pointer.code.length - 1;
            assembly {
                extcodecopy(pointer, add(add(model, 32), offset), 1, length)
            }
            offset += length;
        }
    }
}
