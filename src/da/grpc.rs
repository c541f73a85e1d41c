//! 0G's disperser gRPC service (`disperser.Disperser`, assets/proto/disperser.proto) with tonic,
//! so code written against 0G's DA client works unchanged. The messages are written here by hand
//! with prost's derives (field numbers as in the proto) so the build needs no protoc.

use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::Arc;

use alloy_primitives::B256;
use tonic::Status;
use tonic::codegen::{BoxFuture, Context, Poll, Service, StdError, http};

use super::disperse::Listener;
use super::{DaNode, DisperseError, RetrieveError, root_of_request};

/// 0G's disperser port, on loopback.
pub const DEFAULT_ADDR: &str = "127.0.0.1:51001";

/// Largest message in either direction: the largest blob (0G's 31,744 KiB cap less the length
/// field) and its framing. A blob between the cap and this is refused with INVALID_ARGUMENT; a
/// bigger message is not even read (tonic answers OUT_OF_RANGE).
pub const MAX_MESSAGE_BYTES: usize = zg_components::da::MAX_BLOB_SIZE + 64 * 1024;
/// Requests one connection may have in flight; past it, further ones wait.
pub const MAX_REQUESTS_PER_CONNECTION: usize = 8;
/// HTTP/2 streams one connection may open.
pub const MAX_STREAMS_PER_CONNECTION: u32 = 16;
/// A request's deadline: accepting a blob encodes it (seconds for the largest), retrieving one
/// may gather shares from peers.
pub const REQUEST_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

#[derive(Clone, PartialEq, prost::Message)]
pub struct DisperseBlobRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub data: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct DisperseBlobReply {
    /// A `BlobStatus` (an enum on the wire: the same varint).
    #[prost(int32, tag = "1")]
    pub result: i32,
    #[prost(bytes = "vec", tag = "2")]
    pub request_id: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct BlobStatusRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub request_id: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct BlobStatusReply {
    #[prost(int32, tag = "1")]
    pub status: i32,
    #[prost(message, optional, tag = "2")]
    pub info: Option<BlobInfo>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct BlobInfo {
    #[prost(message, optional, tag = "1")]
    pub blob_header: Option<BlobHeader>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct BlobHeader {
    #[prost(bytes = "vec", tag = "1")]
    pub storage_root: Vec<u8>,
    #[prost(uint64, tag = "2")]
    pub epoch: u64,
    #[prost(uint64, tag = "3")]
    pub quorum_id: u64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct RetrieveBlobRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub storage_root: Vec<u8>,
    #[prost(uint64, tag = "2")]
    pub epoch: u64,
    #[prost(uint64, tag = "3")]
    pub quorum_id: u64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct RetrieveBlobReply {
    #[prost(bytes = "vec", tag = "1")]
    pub data: Vec<u8>,
}

fn disperse_status(error: DisperseError) -> Status {
    match error {
        DisperseError::Empty | DisperseError::Size(_) => Status::invalid_argument(error.to_string()),
        DisperseError::NoDisperser => Status::failed_precondition(error.to_string()),
        DisperseError::Encoding(_) | DisperseError::Keep(_) => Status::internal(error.to_string()),
        DisperseError::Busy { .. } => Status::resource_exhausted(error.to_string()),
        DisperseError::NotServedHere | DisperseError::BadApiKey => Status::permission_denied(error.to_string()),
        DisperseError::Quota { .. } => Status::resource_exhausted(error.to_string()),
    }
}

fn retrieve_status(error: RetrieveError) -> Status {
    match error {
        RetrieveError::Unknown(_) => Status::not_found(error.to_string()),
        RetrieveError::Unrecoverable { .. } => Status::unavailable(error.to_string()),
        RetrieveError::Rebuild(_) => Status::data_loss(error.to_string()),
    }
}

/// The metadata key a client's API key rides in (`da.api_keys`).
pub const API_KEY_HEADER: &str = "x-api-key";

async fn disperse_blob(node: Arc<DaNode>, request: tonic::Request<DisperseBlobRequest>) -> Result<DisperseBlobReply, Status> {
    let key = request.metadata().get(API_KEY_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string);
    let (request_id, _) = node.submit(request.into_inner().data, Listener::Grpc, key.as_deref()).await.map_err(disperse_status)?;
    Ok(DisperseBlobReply { result: zg_components::da::BlobStatus::Processing.code(), request_id })
}

async fn get_blob_status(node: Arc<DaNode>, request: tonic::Request<BlobStatusRequest>) -> Result<BlobStatusReply, Status> {
    let request = request.into_inner();
    let root = root_of_request(&request.request_id)
        .ok_or_else(|| Status::invalid_argument(format!("a request id is 40 bytes, not {}", request.request_id.len())))?;
    let report = tokio::task::spawn_blocking(move || node.status(&root)).await.map_err(|e| Status::internal(e.to_string()))?;
    let report = report.ok_or_else(|| Status::not_found(format!("no blob {root} is known to this node or the DA entrance")))?;
    let header = BlobHeader { storage_root: report.data_root.to_vec(), epoch: report.epoch, quorum_id: report.quorum };
    Ok(BlobStatusReply { status: report.status.code(), info: Some(BlobInfo { blob_header: Some(header) }) })
}

async fn retrieve_blob(node: Arc<DaNode>, request: tonic::Request<RetrieveBlobRequest>) -> Result<RetrieveBlobReply, Status> {
    let request = request.into_inner();
    if request.storage_root.len() != 32 {
        return Err(Status::invalid_argument(format!("a storage root is 32 bytes, not {}", request.storage_root.len())));
    }
    let data = node.retrieve(&B256::from_slice(&request.storage_root)).await.map_err(retrieve_status)?;
    Ok(RetrieveBlobReply { data })
}

/// One unary method: decode `Req`, run the handler, encode its reply.
struct Unary<F, Req, Resp>(Arc<DaNode>, F, PhantomData<fn(Req) -> Resp>);

impl<F, Fut, Req, Resp> tonic::server::UnaryService<Req> for Unary<F, Req, Resp>
where
    F: Fn(Arc<DaNode>, tonic::Request<Req>) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = Result<Resp, Status>> + Send + 'static,
    Req: Send + 'static,
    Resp: Send + 'static,
{
    type Response = Resp;
    type Future = BoxFuture<tonic::Response<Resp>, Status>;

    fn call(&mut self, request: tonic::Request<Req>) -> Self::Future {
        let (node, handler) = (self.0.clone(), self.1);
        Box::pin(async move { handler(node, request).await.map(tonic::Response::new) })
    }
}

async fn unary<B, F, Fut, Req, Resp>(node: Arc<DaNode>, handler: F, request: http::Request<B>) -> http::Response<tonic::body::Body>
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
    F: Fn(Arc<DaNode>, tonic::Request<Req>) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = Result<Resp, Status>> + Send + 'static,
    Req: prost::Message + Default + Send + 'static,
    Resp: prost::Message + Send + 'static,
{
    let codec = tonic_prost::ProstCodec::<Resp, Req>::default();
    let mut grpc = tonic::server::Grpc::new(codec).apply_max_message_size_config(Some(MAX_MESSAGE_BYTES), Some(MAX_MESSAGE_BYTES));
    grpc.unary(Unary(node, handler, PhantomData), request).await
}

/// The `disperser.Disperser` service over a DA node.
#[derive(Clone)]
pub struct DisperserService {
    node: Arc<DaNode>,
}

impl DisperserService {
    pub fn new(node: Arc<DaNode>) -> Self {
        Self { node }
    }
}

impl tonic::server::NamedService for DisperserService {
    const NAME: &'static str = "disperser.Disperser";
}

impl<B> Service<http::Request<B>> for DisperserService
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let node = self.node.clone();
        match request.uri().path() {
            "/disperser.Disperser/DisperseBlob" => Box::pin(async move { Ok(unary(node, disperse_blob, request).await) }),
            "/disperser.Disperser/GetBlobStatus" => Box::pin(async move { Ok(unary(node, get_blob_status, request).await) }),
            "/disperser.Disperser/RetrieveBlob" => Box::pin(async move { Ok(unary(node, retrieve_blob, request).await) }),
            _ => Box::pin(async move { Ok(Status::unimplemented("no such method on disperser.Disperser").into_http()) }),
        }
    }
}

/// Serves the disperser on `addr` until `stop` resolves; returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    node: Arc<DaNode>,
    stop: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    let service = DisperserService::new(node);
    tokio::spawn(async move {
        let server = tonic::transport::Server::builder()
            .concurrency_limit_per_connection(MAX_REQUESTS_PER_CONNECTION)
            .max_concurrent_streams(MAX_STREAMS_PER_CONNECTION)
            .timeout(REQUEST_DEADLINE)
            .serve_with_incoming_shutdown(service, incoming, stop);
        if let Err(error) = server.await {
            tracing::error!(%error, "the disperser gRPC service stopped");
        }
    });
    tracing::info!(addr = %bound, "DA disperser gRPC listening");
    Ok(bound)
}
