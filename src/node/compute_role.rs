//! The compute role: the built-in inference provider `zgnode dev` runs beside the chain (dev
//! account 7's tiny model, acknowledged by the dev marketplace's owner) with its verifiable
//! service, whose proof jobs the node's own tick runs. It is a client of the node: it starts
//! once JSON-RPC serves, and stops before the node does.

use std::net::SocketAddr;

use crate::compute::provider::ProviderHandle;
use crate::config::NodeConfig;

/// A running built-in provider, and the scratch directory it keeps its records in when the
/// node keeps nothing on disk.
pub struct ComputeService {
    pub provider: ProviderHandle,
    _scratch: Option<tempfile::TempDir>,
}

/// Starts the built-in provider on `listen`, talking to the node at `rpc_url`; its records go
/// to `<data dir>/compute-provider` (a scratch directory on an ephemeral node).
pub(super) async fn start(
    config: &NodeConfig,
    listen: SocketAddr,
    rpc_url: &str,
    prover: Option<zg_systems::verifiable::jobs::ProverHandle>,
) -> anyhow::Result<ComputeService> {
    let scratch = if config.node.ephemeral { Some(tempfile::tempdir()?) } else { None };
    let dir = match &scratch {
        Some(scratch) => scratch.path().to_path_buf(),
        None => config.node.data_dir.join("compute-provider"),
    };
    let mut provider_config = crate::compute::dev_provider::dev_config(rpc_url, listen, &dir);
    provider_config.verifiable = Some(crate::compute::dev_provider::dev_verifiable(&dir)?);
    let provider = crate::compute::dev_provider::start_with(provider_config, prover).await?;
    Ok(ComputeService { provider, _scratch: scratch })
}
