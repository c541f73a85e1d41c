//! JSON-RPC errors in geth's shapes, because ethers, viem and web3.py match on them.

use alloy_primitives::Bytes;
use jsonrpsee::types::ErrorObjectOwned;

use crate::store::StoreError;

pub type RpcResult<T> = Result<T, ErrorObjectOwned>;

/// Why a JSON-RPC server (Ethereum or storage) did not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerStartError {
    /// A programming error: two modules registered the same method name.
    #[error("a method is registered twice: {0}")]
    Register(#[from] jsonrpsee::core::RegisterMethodError),
    /// The address is taken, not local, or not allowed.
    #[error("cannot listen: {0}")]
    Listen(#[from] std::io::Error),
}

/// geth's code for most server-side failures, pool refusals included.
pub const SERVER_ERROR: i32 = -32000;
pub const INVALID_PARAMS: i32 = -32602;
pub const INTERNAL_ERROR: i32 = -32603;
/// geth's code for a revert, with the revert data in `data`.
pub const EXECUTION_REVERTED: i32 = 3;
/// geth's code for a request that would exceed a configured limit (e.g. eth_getLogs).
pub const LIMIT_EXCEEDED: i32 = -32005;

pub fn server_error(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(SERVER_ERROR, message.into(), None::<()>)
}

pub fn invalid_params(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(INVALID_PARAMS, message.into(), None::<()>)
}

pub fn limit_exceeded(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(LIMIT_EXCEEDED, message.into(), None::<()>)
}

pub fn internal(error: StoreError) -> ErrorObjectOwned {
    tracing::error!(%error, "database read failed");
    ErrorObjectOwned::owned(INTERNAL_ERROR, format!("internal error: {error}"), None::<()>)
}

impl From<StoreError> for ErrorObjectOwned {
    fn from(error: StoreError) -> Self {
        internal(error)
    }
}

/// `{code: 3, message: "execution reverted: <reason>", data: "0x<revert data>"}`.
pub fn reverted(output: &Bytes) -> ErrorObjectOwned {
    let message = match revert_reason(output) {
        Some(reason) => format!("execution reverted: {reason}"),
        None => "execution reverted".to_string(),
    };
    ErrorObjectOwned::owned(EXECUTION_REVERTED, message, Some(output.to_string()))
}

pub use zg_systems::chain::simulate::revert_reason;

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_sol_types::{Revert, SolError};

    #[test]
    fn revert_reason_is_decoded_and_data_kept() {
        let data: Bytes = Revert::from("balance too low").abi_encode().into();
        let error = reverted(&data);
        assert_eq!(error.code(), 3);
        assert_eq!(error.message(), "execution reverted: balance too low");
        assert_eq!(error.data().map(|d| d.get()), Some(format!("\"{data}\"").as_str()));
        assert_eq!(reverted(&Bytes::new()).message(), "execution reverted");
        assert_eq!(revert_reason(&[1, 2, 3]), None);
    }
}
