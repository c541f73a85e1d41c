//! The `kv_*` methods and `admin_addStream`, with 0G's KV node's shapes: keys and values as
//! standard base64, a missing key as `{version: 0, data: "", size: 0}`, neighbours as null at a
//! stream's end; every query at a version (default: the newest).

use alloy_primitives::{Address, B256};
use base64::Engine;
use jsonrpsee::server::RpcModule;
use jsonrpsee::types::Params;
use serde_json::{Value, json};

use zg_components::storage::kv::{KvIndex, ValueAt};
use zg_systems::storage::kv as kv_core;

use crate::rpc::error::{RpcResult, internal, invalid_params as invalid, server_error};
use crate::storage::StorageContext;

/// Most value bytes one call returns (the SDKs ask for 256 KiB at a time).
pub const MAX_QUERY_BYTES: u64 = 4 << 20;

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Reads a JSON-RPC parameter list one value at a time, with clear errors.
struct Args(std::vec::IntoIter<Value>);

impl Args {
    fn of(params: &Params<'_>, method: &str) -> RpcResult<Self> {
        let values: Vec<Value> = if params.is_object() {
            return Err(invalid(format!("{method} takes positional parameters")));
        } else {
            params.parse::<Option<Vec<Value>>>().map_err(|e| invalid(e.message().to_string()))?.unwrap_or_default()
        };
        Ok(Self(values.into_iter()))
    }

    fn next(&mut self, name: &str) -> RpcResult<Value> {
        self.0.next().ok_or_else(|| invalid(format!("missing parameter {name}")))
    }

    fn stream(&mut self) -> RpcResult<B256> {
        let value = self.next("streamId")?;
        value.as_str().and_then(|s| s.parse().ok()).ok_or_else(|| invalid(format!("streamId {value:.80} is not a 32-byte hex id")))
    }

    fn account(&mut self) -> RpcResult<Address> {
        let value = self.next("account")?;
        value.as_str().and_then(|s| s.parse().ok()).ok_or_else(|| invalid(format!("account {value:.80} is not a 20-byte hex address")))
    }

    /// A key: standard base64 of its bytes, never empty.
    fn key(&mut self) -> RpcResult<Vec<u8>> {
        let value = self.next("key")?;
        let text = value.as_str().ok_or_else(|| invalid("key must be a base64 string"))?;
        let key = base64::engine::general_purpose::STANDARD.decode(text).map_err(|e| invalid(format!("key is not base64: {e}")))?;
        if key.is_empty() {
            return Err(invalid("key is empty"));
        }
        if key.len() > kv_core::stream_data::MAX_KEY_BYTES {
            return Err(invalid("key is longer than 2^24 - 1 bytes"));
        }
        Ok(key)
    }

    fn u64(&mut self, name: &str) -> RpcResult<u64> {
        let value = self.next(name)?;
        as_u64(&value).ok_or_else(|| invalid(format!("{name} {value:.80} is not a whole number")))
    }

    fn bool(&mut self, name: &str) -> RpcResult<bool> {
        self.next(name)?.as_bool().ok_or_else(|| invalid(format!("{name} must be true or false")))
    }

    /// The optional version last parameter: the newest when absent or null.
    fn version(&mut self) -> RpcResult<u64> {
        let version = match self.0.next() {
            None | Some(Value::Null) => u64::MAX,
            Some(value) => as_u64(&value).ok_or_else(|| invalid(format!("version {value:.80} is not a whole number")))?,
        };
        if self.0.next().is_some() {
            return Err(invalid("too many parameters"));
        }
        Ok(version)
    }

    /// The (startIndex, length) of a value query.
    fn window(&mut self) -> RpcResult<(u64, u64)> {
        let start = self.u64("startIndex")?;
        let len = self.u64("length")?;
        if len > MAX_QUERY_BYTES {
            return Err(invalid(format!("query length too large: at most {MAX_QUERY_BYTES} bytes")));
        }
        Ok((start, len))
    }
}

/// A whole number as the SDKs send it: a JSON number, or a decimal or 0x-hex string (the TS SDK
/// sends some as strings).
fn as_u64(value: &Value) -> Option<u64> {
    match value {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => match text.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).ok(),
            None => text.parse().ok(),
        },
        _ => None,
    }
}

impl StorageContext {
    fn kv_index(&self) -> std::sync::RwLockReadGuard<'_, KvIndex> {
        self.kv.read()
    }

    /// `[start, start + len)` of a value's bytes (as the value's file holds them).
    fn value_bytes(&self, value: &ValueAt, start: u64, len: u64) -> RpcResult<Vec<u8>> {
        if len == 0 || value.len == 0 {
            return Ok(Vec::new());
        }
        if start > value.len {
            return Err(invalid("start index is greater than value length"));
        }
        let take = len.min(value.len - start);
        let record = self.store.file(value.version).map_err(internal)?.ok_or_else(|| server_error("key data is missing"))?;
        let record = self.readable(&record)?.ok_or_else(|| server_error("key data is missing"))?;
        let bytes = self.file_bytes(&record, value.offset + start, take)?.ok_or_else(|| server_error("key data is missing"))?;
        if bytes.len() as u64 != take {
            return Err(server_error("key data is missing"));
        }
        Ok(bytes)
    }

    fn key_value(&self, found: Option<kv_core::Found>, (start, len): (u64, u64)) -> RpcResult<Value> {
        let Some(found) = found else { return Ok(Value::Null) };
        let data = self.value_bytes(&found.value, start, len)?;
        Ok(json!({ "version": found.value.version, "key": base64(&found.key), "data": base64(&data), "size": found.value.len }))
    }
}

pub fn register(module: &mut RpcModule<StorageContext>) -> Result<(), jsonrpsee::core::RegisterMethodError> {
    module.register_method("kv_getStatus", |_, _, _| -> RpcResult<bool> { Ok(true) })?;
    module.register_blocking_method("kv_getValue", |params, ctx, _| -> RpcResult<Value> {
        let mut args = Args::of(&params, "kv_getValue")?;
        let (stream, key, window, at) = (args.stream()?, args.key()?, args.window()?, args.version()?);
        let found = kv_core::value_of(&ctx.kv_index(), &stream, &key, at);
        let Some(value) = found else { return Ok(json!({ "version": 0, "data": "", "size": 0 })) };
        let data = ctx.value_bytes(&value, window.0, window.1)?;
        Ok(json!({ "version": value.version, "data": base64(&data), "size": value.len }))
    })?;
    for (method, forward) in [("kv_getNext", true), ("kv_getPrev", false)] {
        module.register_blocking_method(method, move |params, ctx, _| -> RpcResult<Value> {
            let mut args = Args::of(&params, method)?;
            let (stream, key, window) = (args.stream()?, args.key()?, args.window()?);
            let (inclusive, at) = (args.bool("inclusive")?, args.version()?);
            let found = if forward {
                kv_core::next_key(&ctx.kv_index(), &stream, &key, inclusive, at)
            } else {
                kv_core::prev_key(&ctx.kv_index(), &stream, &key, inclusive, at)
            };
            ctx.key_value(found, window)
        })?;
    }
    for (method, first) in [("kv_getFirst", true), ("kv_getLast", false)] {
        module.register_blocking_method(method, move |params, ctx, _| -> RpcResult<Value> {
            let mut args = Args::of(&params, method)?;
            let (stream, window, at) = (args.stream()?, args.window()?, args.version()?);
            let found = if first { kv_core::first_key(&ctx.kv_index(), &stream, at) } else { kv_core::last_key(&ctx.kv_index(), &stream, at) };
            ctx.key_value(found, window)
        })?;
    }
    module.register_blocking_method("kv_getTransactionResult", |params, ctx, _| -> RpcResult<Option<String>> {
        let mut args = Args::of(&params, "kv_getTransactionResult")?;
        let seq = args.u64("txSeq")?;
        ctx.store.kv_result(seq).map_err(internal)
    })?;
    module.register_method("kv_getHoldingStreamIds", |_, ctx, _| -> RpcResult<Vec<B256>> { Ok(kv_core::holding_streams(&ctx.kv_index())) })?;
    module.register_method("kv_getReplayProgress", |_, ctx, _| -> RpcResult<Value> {
        Ok(json!({ "appliedSeq": ctx.kv.recorded(), "firstTxSeq": null }))
    })?;
    module.register_method("kv_hasWritePermission", |params, ctx, _| -> RpcResult<bool> {
        let mut args = Args::of(&params, "kv_hasWritePermission")?;
        let (account, stream, key, at) = (args.account()?, args.stream()?, args.key()?, args.version()?);
        Ok(kv_core::has_write_permission(&ctx.kv_index(), &account, &stream, &key, at))
    })?;
    // The TS SDK sends `kv_IsAdmin`: both spellings answer.
    for method in ["kv_isAdmin", "kv_IsAdmin"] {
        module.register_method(method, move |params, ctx, _| -> RpcResult<bool> {
            let mut args = Args::of(&params, method)?;
            let (account, stream, at) = (args.account()?, args.stream()?, args.version()?);
            Ok(kv_core::is_admin(&ctx.kv_index(), &account, &stream, at))
        })?;
    }
    module.register_method("kv_isSpecialKey", |params, ctx, _| -> RpcResult<bool> {
        let mut args = Args::of(&params, "kv_isSpecialKey")?;
        let (stream, key, at) = (args.stream()?, args.key()?, args.version()?);
        Ok(kv_core::is_special_key(&ctx.kv_index(), &stream, &key, at))
    })?;
    module.register_method("kv_isWriterOfKey", |params, ctx, _| -> RpcResult<bool> {
        let mut args = Args::of(&params, "kv_isWriterOfKey")?;
        let (account, stream, key, at) = (args.account()?, args.stream()?, args.key()?, args.version()?);
        Ok(kv_core::is_writer_of_key(&ctx.kv_index(), &account, &stream, &key, at))
    })?;
    module.register_method("kv_isWriterOfStream", |params, ctx, _| -> RpcResult<bool> {
        let mut args = Args::of(&params, "kv_isWriterOfStream")?;
        let (account, stream, at) = (args.account()?, args.stream()?, args.version()?);
        Ok(kv_core::is_writer_of_stream(&ctx.kv_index(), &account, &stream, at))
    })?;
    // Follow one more stream, on the word of a wallet's EIP-712 signature. A node following
    // every stream has it already; otherwise the replay starts over from seq 0 with it.
    module.register_blocking_method("admin_addStream", |params, ctx, _| -> RpcResult<bool> {
        let mut args = Args::of(&params, "admin_addStream")?;
        let stream = args.stream()?;
        let wallet = args.account()?;
        let signature = args.next("signature")?;
        let signature = signature.as_str().ok_or_else(|| invalid("signature must be a hex string"))?;
        let signer = super::eip712::signer_of(wallet, stream, ctx.chain_id, signature).map_err(|e| invalid(format!("signature: {e}")))?;
        if signer != wallet {
            return Err(invalid("signature: recovered signer does not match claimed wallet"));
        }
        if ctx.kv_index().followed.follows(&stream) {
            return Ok(true);
        }
        let _exclusive = ctx.kv.exclusive();
        ctx.store.kv_add_stream_and_reset(&stream).map_err(internal)?;
        let configured: Vec<B256> = match &ctx.kv_index().followed {
            zg_components::storage::kv::FollowedStreams::Only(set) => set.iter().copied().collect(),
            zg_components::storage::kv::FollowedStreams::All => Vec::new(),
        };
        let index = super::restore_index(&ctx.store, &configured).map_err(internal)?;
        ctx.kv.replace(index);
        ctx.kv.poke();
        tracing::info!(%stream, %wallet, "kv: stream added; replaying from seq 0");
        Ok(true)
    })?;
    Ok(())
}
