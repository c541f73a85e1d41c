//! Refusing an oversized request body so that the client reads the refusal.
//!
//! An HTTP/1 server that answers 413 and closes while the client is still sending makes the
//! client's next write fail (EPIPE, connection reset) before it has read the answer: Node's
//! fetch (undici, what the 0G SDK uses) then throws "fetch failed" instead of handing back the
//! 413, and whether it does depends on how far the upload got — a race. So a body whose declared
//! `Content-Length` is over the limit is read and thrown away before the answer, as long as it is
//! no more than [`DRAIN_FACTOR`] times the limit and arrives within [`DRAIN_TIME`]; a larger or
//! slower one is answered at once (that client may see the reset). Bodies without a declared
//! length are still cut by the route's `DefaultBodyLimit`.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::CONTENT_LENGTH;
use axum::middleware::Next;
use axum::response::Response;
use http_body_util::BodyExt;

/// Bodies up to this many times the limit are drained before the 413.
pub const DRAIN_FACTOR: u64 = 4;
/// How long draining may take, all of it.
pub const DRAIN_TIME: Duration = Duration::from_secs(10);

/// The limit and how a route words its 413 (each API has its own error shape).
#[derive(Clone, Copy)]
pub struct BodyLimit {
    pub max_bytes: usize,
    pub refusal: fn(String) -> Response,
}

/// Middleware (`axum::middleware::from_fn_with_state`) refusing a declared-oversized body.
pub async fn refuse_oversized(State(limit): State<BodyLimit>, request: Request, next: Next) -> Response {
    let Some(declared) = declared_length(&request) else {
        return next.run(request).await;
    };
    if declared <= limit.max_bytes as u64 {
        return next.run(request).await;
    }
    if declared <= (limit.max_bytes as u64).saturating_mul(DRAIN_FACTOR) {
        let _ = tokio::time::timeout(DRAIN_TIME, drain(request.into_body())).await;
    }
    (limit.refusal)(format!("the request body is {declared} bytes; this server takes at most {}", limit.max_bytes))
}

fn declared_length(request: &Request) -> Option<u64> {
    request.headers().get(CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

async fn drain(mut body: Body) {
    while let Some(Ok(_)) = body.frame().await {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use axum::routing::post;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn refusal(message: String) -> Response {
        (StatusCode::PAYLOAD_TOO_LARGE, message).into_response()
    }

    async fn serve() -> std::net::SocketAddr {
        let limit = BodyLimit { max_bytes: 4 << 20, refusal };
        let app = Router::new()
            .route("/", post(|body: axum::body::Bytes| async move { body.len().to_string() }))
            .layer(axum::middleware::from_fn_with_state(limit, refuse_oversized));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        address
    }

    /// Sends the whole body, every byte, before reading: the client that broke on the race.
    async fn post_all(address: std::net::SocketAddr, declared: usize, sent: usize) -> std::io::Result<String> {
        let mut stream = tokio::net::TcpStream::connect(address).await?;
        let head = format!("POST / HTTP/1.1\r\nhost: x\r\ncontent-length: {declared}\r\nconnection: close\r\n\r\n");
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(&vec![b' '; sent]).await?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await?;
        Ok(answer)
    }

    #[tokio::test]
    async fn a_client_that_sends_an_oversized_body_whole_reads_the_413() {
        let address = serve().await;
        for _ in 0..3 {
            // Larger than the loopback socket's buffers, so an early close would cut the upload.
            let answer = post_all(address, 16 << 20, 16 << 20).await.expect("the upload is not cut off");
            assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
            assert!(answer.contains("16777216 bytes; this server takes at most 4194304"), "{answer}");
        }
        let answer = post_all(address, 1000, 1000).await.expect("a body under the limit");
        assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with("1000"), "{answer}");
    }

    #[tokio::test]
    async fn a_body_declared_far_over_the_limit_is_refused_without_waiting_for_it() {
        let address = serve().await;
        let mut stream = tokio::net::TcpStream::connect(address).await.expect("connect");
        let head = "POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 1000000000000\r\n\r\n";
        stream.write_all(head.as_bytes()).await.expect("head");
        let mut answer = vec![0u8; 512];
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer)).await.expect("answered at once").expect("read");
        assert!(String::from_utf8_lossy(&answer[..read]).starts_with("HTTP/1.1 413"));
    }

    #[tokio::test]
    async fn a_declared_length_that_is_not_a_number_is_left_to_the_server() {
        let address = serve().await;
        let mut stream = tokio::net::TcpStream::connect(address).await.expect("connect");
        stream.write_all(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: lots\r\n\r\n").await.expect("head");
        let mut answer = String::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut answer)).await.expect("answered");
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    }
}
