//! JSON-RPC batches whose calls run side by side.
//!
//! jsonrpsee answers a batch's calls one after another; a batch of 50 eth_sendRawTransaction
//! then waits 50 tick round trips to reach the pool. Here the calls run concurrently (at most
//! [`MAX_CONCURRENT_CALLS`] of one batch at a time, so a 1,000-call batch cannot occupy every
//! blocking thread), their transactions arrive at the world in one tick and are admitted
//! together, and the answers keep the batch's order.

use futures::StreamExt;
use jsonrpsee::core::middleware::{Batch, BatchEntry, Notification, RpcServiceT};
use jsonrpsee::core::server::{BatchResponseBuilder, MethodResponse};
use jsonrpsee::types::Request;
use jsonrpsee::core::middleware::BatchEntryErr;
use std::future::Future;
use std::pin::Pin;

/// Calls of one batch in flight at once.
pub const MAX_CONCURRENT_CALLS: usize = 128;

#[derive(Clone)]
pub struct ConcurrentBatches<S> {
    pub service: S,
    pub max_response_bytes: usize,
}

impl<S> RpcServiceT for ConcurrentBatches<S>
where
    S: RpcServiceT<MethodResponse = MethodResponse, BatchResponse = MethodResponse, NotificationResponse = MethodResponse>
        + Send
        + Sync
        + Clone
        + 'static,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = MethodResponse;
    type BatchResponse = MethodResponse;

    fn call<'a>(&self, request: Request<'a>) -> impl Future<Output = Self::MethodResponse> + Send + 'a {
        self.service.call(request)
    }

    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = Self::BatchResponse> + Send + 'a {
        let service = self.service.clone();
        let limit = self.max_response_bytes;
        async move {
            let calls: Vec<_> = batch.into_iter().map(|entry| answer(service.clone(), entry)).collect();
            let answers: Vec<Option<MethodResponse>> =
                futures::stream::iter(calls).buffered(MAX_CONCURRENT_CALLS).collect().await;
            let got_notification = answers.iter().any(Option::is_none);
            let mut response = BatchResponseBuilder::new_with_limit(limit);
            for answer in answers.into_iter().flatten() {
                if let Err(too_big) = response.append(answer) {
                    return too_big;
                }
            }
            if response.is_empty() && got_notification {
                MethodResponse::notification()
            } else {
                // An empty batch is an invalid request (jsonrpsee's own answer).
                MethodResponse::from_batch(response.finish())
            }
        }
    }

    fn notification<'a>(&self, notification: Notification<'a>) -> impl Future<Output = Self::NotificationResponse> + Send + 'a {
        self.service.notification(notification)
    }
}

/// One batch entry's answer (none for a notification).
fn answer<'a, S>(
    service: S,
    entry: Result<BatchEntry<'a>, BatchEntryErr<'a>>,
) -> Pin<Box<dyn Future<Output = Option<MethodResponse>> + Send + 'a>>
where
    S: RpcServiceT<MethodResponse = MethodResponse, BatchResponse = MethodResponse, NotificationResponse = MethodResponse>
        + Send
        + Sync
        + 'static,
{
    Box::pin(async move {
        match entry {
            Ok(BatchEntry::Call(request)) => Some(service.call(request).await),
            Ok(BatchEntry::Notification(notification)) => {
                service.notification(notification).await;
                None
            }
            Err(error) => {
                let (error, id) = error.into_parts();
                Some(MethodResponse::error(id, error))
            }
        }
    })
}
