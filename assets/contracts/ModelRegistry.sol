// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// Models whose inferences can be proved (halo2, IPA over Pasta) and checked on chain.
///
/// `register` stores a model's canonical bytes (zgnode's `ZGQM` encoding: int8 weights, int32
/// biases, requantization) in data contracts and records the hash of the verifying key the
/// chain's verification precompile derives from them; an id is registered once and never
/// overwritten. `verifyInference` hands a proof to the precompile with the registered bytes and
/// key hash: the precompile answers 1 only when the key it derives hashes to the registered one
/// and the proof verifies for the public inputs `[input commitment, logits...]` (field elements
/// of the Pasta scalar field, big-endian; a negative logit `l` is `P - |l|`).
contract ModelRegistry {
    /// The chain's inference-proof precompile.
    address public constant VERIFIER = address(0xc001);
    /// Pasta's Fp (Vesta's scalar field), the field the public inputs live in.
    uint256 public constant FIELD_MODULUS = 0x40000000000000000000000000000000224698fc094cf91b992d30ed00000001;
    uint256 public constant MAX_MODEL_BYTES = 1 << 20;
    /// Below EIP-170's 24,576-byte code limit with the leading STOP byte.
    uint256 private constant CHUNK = 24_000;
    uint8 private constant OP_VERIFY = 1;
    uint8 private constant OP_DESCRIBE = 2;
    uint8 private constant OP_VERIFY_BATCH = 3;

    struct Model {
        address owner;
        bytes32 modelHash;
        bytes32 vkHash;
        uint32 k;
        uint32 size;
        uint64 registeredAt;
        address[] chunks;
    }

    mapping(bytes32 => Model) private models;
    bytes32[] private ids;

    event ModelRegistered(bytes32 indexed modelId, address indexed owner, bytes32 modelHash, bytes32 vkHash, uint32 k, uint32 size);

    /// Registers `model` (canonical bytes) under `modelId`; reverts when the id is taken or the
    /// bytes are not a model the precompile proves. Returns the verifying key's hash.
    function register(bytes32 modelId, bytes calldata model) external returns (bytes32 vkHash) {
        require(modelId != bytes32(0), "ModelRegistry: zero model id");
        require(models[modelId].owner == address(0), "ModelRegistry: model id already registered");
        require(model.length > 0 && model.length <= MAX_MODEL_BYTES, "ModelRegistry: model size out of range");
        (bool ok, bytes memory out) = VERIFIER.staticcall(abi.encodePacked(OP_DESCRIBE, model));
        require(ok && out.length == 64, "ModelRegistry: the verifier precompile failed");
        uint256 k;
        (vkHash, k) = abi.decode(out, (bytes32, uint256));
        require(vkHash != bytes32(0), "ModelRegistry: not a provable model");
        Model storage entry = models[modelId];
        entry.owner = msg.sender;
        entry.modelHash = keccak256(model);
        entry.vkHash = vkHash;
        entry.k = uint32(k);
        entry.size = uint32(model.length);
        entry.registeredAt = uint64(block.timestamp);
        for (uint256 at = 0; at < model.length; at += CHUNK) {
            uint256 end = at + CHUNK < model.length ? at + CHUNK : model.length;
            entry.chunks.push(store(model[at:end]));
        }
        ids.push(modelId);
        emit ModelRegistered(modelId, msg.sender, entry.modelHash, vkHash, uint32(k), uint32(model.length));
    }

    /// Whether `proof` proves `publicInputs` (`[input commitment, logits...]`) for `modelId`.
    /// False for an unknown model, a malformed proof or public input, or a proof that fails.
    function verifyInference(bytes32 modelId, bytes32[] calldata publicInputs, bytes calldata proof) external view returns (bool) {
        Model storage entry = models[modelId];
        if (entry.owner == address(0)) return false;
        bytes memory model = load(entry);
        (bool ok, bytes memory out) = VERIFIER.staticcall(
            abi.encodePacked(OP_VERIFY, entry.vkHash, uint32(model.length), model, uint32(publicInputs.length), publicInputs, proof)
        );
        return ok && out.length == 32 && uint256(bytes32(out)) == 1;
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
        if (entry.owner == address(0) || proofs.length == 0) return verified;
        bytes memory model = load(entry);
        bytes memory input = abi.encodePacked(OP_VERIFY_BATCH, entry.vkHash, uint32(model.length), model, uint32(proofs.length));
        for (uint256 i = 0; i < proofs.length; i++) {
            input = bytes.concat(input, abi.encodePacked(uint32(publicInputs[i].length), publicInputs[i], uint32(proofs[i].length), proofs[i]));
        }
        (bool ok, bytes memory out) = VERIFIER.staticcall(input);
        if (!ok || out.length != 32 * proofs.length) return verified;
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
        returns (address owner, bytes32 modelHash, bytes32 vkHash, uint32 k, uint32 size, uint64 registeredAt)
    {
        Model storage entry = models[modelId];
        return (entry.owner, entry.modelHash, entry.vkHash, entry.k, entry.size, entry.registeredAt);
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
