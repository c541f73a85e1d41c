//! The compute role: the `compute_*` JSON-RPC methods (the marketplace as the chain records it,
//! providers ranked by measured latency) and, when asked for, the built-in inference provider
//! `zgnode dev` runs beside the chain (dev account 7's tiny model, acknowledged by the dev
//! marketplace's owner) with its verifiable service, whose proof jobs the node's own tick runs, and its
//! fine-tuning service, delivering to the node's storage.
//! The provider is a client of the node: it starts once JSON-RPC serves, and stops first.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::compute::provider::ProviderHandle;
use crate::config::NodeConfig;
use crate::node::role::{Assembly, Role, RoleFuture, Serving};

/// The compute role; with `provider` set, the built-in provider listens there.
#[derive(Default)]
pub struct ComputeRole {
    provider: Option<SocketAddr>,
    /// The node's storage JSON-RPC, where the provider's fine-tuning deliverables go.
    storage: Option<SocketAddr>,
    /// The built-in provider: running, or why it did not start.
    service: Option<Result<ComputeService, Arc<anyhow::Error>>>,
    /// Where the provider's section of the status page goes once it runs.
    sections: Option<crate::rpc::node_status::StatusSections>,
}

impl ComputeRole {
    /// The role with the built-in provider listening on `listen`.
    pub fn with_provider(listen: SocketAddr) -> Self {
        Self { provider: Some(listen), storage: None, service: None, sections: None }
    }

    /// Deliver fine-tuned models to the storage JSON-RPC at `addr` (a fixed port: one chosen at
    /// bind time is not known here, and then deliveries stay on the provider).
    pub fn with_storage(mut self, addr: Option<SocketAddr>) -> Self {
        self.storage = addr.filter(|addr| addr.port() != 0);
        self
    }

    /// The built-in provider, when it runs.
    pub fn provider(&self) -> Option<&ProviderHandle> {
        self.service.as_ref()?.as_ref().ok().map(|service| &service.provider)
    }

    /// Why the built-in provider asked for did not start.
    pub fn provider_failure(&self) -> Option<&anyhow::Error> {
        self.service.as_ref()?.as_ref().err().map(|error| error.as_ref())
    }
}

impl Role for ComputeRole {
    fn name(&self) -> &'static str {
        "compute"
    }

    fn assemble<'a>(&'a mut self, assembly: Assembly<'a>) -> RoleFuture<'a> {
        assembly.rpc_methods.push(crate::compute::rpc::register);
        assembly.rpc_state.insert(crate::compute::ranking::ProbeCache::default());
        self.sections = assembly.rpc_state.get::<crate::rpc::node_status::StatusSections>().cloned();
        Box::pin(async { Ok(()) })
    }

    /// A provider that cannot start (its port taken) is kept as the reason; the node runs on.
    fn serve<'a>(&'a mut self, serving: Serving<'a>) -> RoleFuture<'a> {
        Box::pin(async move {
            let (Some(listen), Some(rpc_addr)) = (self.provider, serving.rpc_addr) else { return Ok(()) };
            let storage = self.storage.map(|addr| format!("http://{addr}"));
            let started = start(serving.config, listen, &format!("http://{rpc_addr}"), storage, serving.prover.clone()).await;
            if let (Ok(service), Some(sections)) = (&started, &self.sections) {
                let state = service.provider.state.clone();
                sections.add("compute", move || state.status_section());
            }
            self.service = Some(started.map_err(|error| {
                tracing::warn!(%listen, error = %format!("{error:#}"), "the built-in compute provider did not start");
                Arc::new(error)
            }));
            Ok(())
        })
    }

    fn stop(&mut self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            if let Some(Ok(service)) = self.service.take() {
                service.provider.stop().await;
            }
        })
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// A running built-in provider, and the scratch directory it keeps its records in when the
/// node keeps nothing on disk.
pub struct ComputeService {
    pub provider: ProviderHandle,
    _scratch: Option<tempfile::TempDir>,
}

/// Starts the built-in provider on `listen`, talking to the node at `rpc_url`; its records go
/// to `<data dir>/compute-provider` (a scratch directory on an ephemeral node).
async fn start(
    config: &NodeConfig,
    listen: SocketAddr,
    rpc_url: &str,
    storage_rpc: Option<String>,
    prover: Option<zg_systems::verifiable::jobs::ProverHandle>,
) -> anyhow::Result<ComputeService> {
    let scratch = if config.node.ephemeral { Some(tempfile::tempdir()?) } else { None };
    let dir = match &scratch {
        Some(scratch) => scratch.path().to_path_buf(),
        None => config.node.data_dir.join("compute-provider"),
    };
    let mut provider_config = crate::compute::dev_provider::dev_config(rpc_url, listen, &dir);
    provider_config.verifiable = Some(crate::compute::dev_provider::dev_verifiable(&dir)?);
    provider_config.fine_tuning = Some(crate::compute::dev_provider::dev_fine_tuning(storage_rpc));
    let provider = crate::compute::dev_provider::start_with(provider_config, prover).await?;
    Ok(ComputeService { provider, _scratch: scratch })
}
