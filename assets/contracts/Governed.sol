// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// A parameter governance may change: read from the ChainParams contract at 0x…4001 (owned by
/// the governance timelock) where it is deployed and holds a value, the contract's own genesis
/// value otherwise. A changed value applies to the next call, so from the next block.
library Governed {
    address internal constant CHAIN_PARAMS = 0x0000000000000000000000000000000000004001;

    /// `getter` is the selector of a ChainParams view returning one uint256; 0 there means
    /// "not governed", so `fallbackValue` applies.
    function value(bytes4 getter, uint256 fallbackValue) internal view returns (uint256) {
        if (CHAIN_PARAMS.code.length == 0) return fallbackValue;
        (bool ok, bytes memory out) = CHAIN_PARAMS.staticcall(abi.encodeWithSelector(getter));
        if (!ok || out.length != 32) return fallbackValue;
        uint256 governed = abi.decode(out, (uint256));
        return governed == 0 ? fallbackValue : governed;
    }
}
