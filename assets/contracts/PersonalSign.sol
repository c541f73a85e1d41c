// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// What an account signed with `personal_sign` over a 32-byte hash (ethers' `signMessage` of the
/// hash's bytes, alloy's `sign_message`), as the markets read a provider's or a node's signature.
library PersonalSign {
    /// The signer, with EIP-2 low-s; the zero address for anything malformed.
    function recover(bytes32 hash, bytes calldata signature) internal pure returns (address) {
        if (signature.length != 65) return address(0);
        bytes32 r = bytes32(signature[0:32]);
        bytes32 s = bytes32(signature[32:64]);
        uint8 v = uint8(signature[64]);
        if (v < 27) v += 27;
        if (uint256(s) > 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0) return address(0);
        return ecrecover(keccak256(abi.encodePacked("\x19Ethereum Signed Message:\n32", hash)), v, r, s);
    }
}
