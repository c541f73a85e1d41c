//! A role of the host's own joins a node through the same door as the built-in ones: it adds a
//! resource to the world and a JSON-RPC method reading its state, its clients start once the
//! node serves, it can be read back from the running node, and it stops before the node does.
//! A role that fails to join stops the start with its error.

mod common;

use common::*;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use zgnode::NodeBuilder;
use zgnode::node::NodeError;
use zgnode::node::role::{Assembly, Role, RoleFuture, Serving};

#[derive(bevy_ecs::prelude::Resource)]
struct Greeting {
    _text: &'static str,
}

/// What the role's method reads from the RPC context.
struct GreetingState {
    text: String,
}

#[derive(Default)]
struct GreeterRole {
    served_at: Option<std::net::SocketAddr>,
    stopped: Arc<AtomicBool>,
    fail_to_join: bool,
}

fn register(module: &mut jsonrpsee::RpcModule<zgnode::rpc::RpcContext>) -> Result<(), jsonrpsee::core::RegisterMethodError> {
    module.register_method("greeter_hello", |_, context, _| -> Result<String, jsonrpsee::types::ErrorObjectOwned> {
        let state = context.roles.get::<GreetingState>().ok_or_else(|| zgnode::rpc::error::server_error("no greeter"))?;
        Ok(state.text.clone())
    })?;
    Ok(())
}

impl Role for GreeterRole {
    fn name(&self) -> &'static str {
        "greeter"
    }

    fn assemble<'a>(&'a mut self, assembly: Assembly<'a>) -> RoleFuture<'a> {
        Box::pin(async move {
            if self.fail_to_join {
                return Err(NodeError::Config("the greeter's config is wrong".into()));
            }
            assembly.node.world_mut().insert_resource(Greeting { _text: "hello" });
            assembly.rpc_methods.push(register);
            assembly.rpc_state.insert(GreetingState { text: format!("hello from chain {}", assembly.chain_id) });
            Ok(())
        })
    }

    fn serve<'a>(&'a mut self, serving: Serving<'a>) -> RoleFuture<'a> {
        self.served_at = serving.rpc_addr;
        Box::pin(async { Ok(()) })
    }

    fn stop(&mut self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        self.stopped.store(true, Ordering::SeqCst);
        Box::pin(async {})
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[test]
fn a_hosts_role_joins_serves_its_method_and_stops_with_the_node() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let stopped = Arc::new(AtomicBool::new(false));
    let flag = stopped.clone();
    let builder = NodeBuilder::dev()
        .with_rpc("127.0.0.1:0".parse().unwrap())
        .with_role(move || Box::new(GreeterRole { stopped: flag.clone(), ..Default::default() }));
    assert_eq!(builder.roles().iter().map(|r| r.name()).collect::<Vec<_>>(), ["da", "compute", "greeter"]);
    let node = runtime.block_on(builder.start()).expect("starts");
    let addr = node.rpc_addr.unwrap();
    assert_eq!(node.role_names(), ["da", "compute", "greeter"]);
    assert_eq!(ok(addr, "greeter_hello", json!([])), json!("hello from chain 31337"));
    let greeter = node.role::<GreeterRole>().expect("read back from the running node");
    assert_eq!(greeter.served_at, Some(addr), "its clients start once JSON-RPC serves");
    // The built-in roles' methods are still there beside it.
    assert!(ok(addr, "eth_blockNumber", json!([])).is_string());
    assert!(!stopped.load(Ordering::SeqCst));
    runtime.block_on(node.stop()).unwrap();
    assert!(stopped.load(Ordering::SeqCst), "stopped with the node");
}

#[test]
fn a_role_that_cannot_join_stops_the_start_with_its_error() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let builder = NodeBuilder::dev()
        .with_rpc("127.0.0.1:0".parse().unwrap())
        .with_role(|| Box::new(GreeterRole { fail_to_join: true, ..Default::default() }));
    let error = runtime.block_on(builder.start()).err().expect("refused");
    assert!(error.to_string().contains("the greeter's config is wrong"), "{error}");
}
