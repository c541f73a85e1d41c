//! The status page for browsers, on the JSON-RPC port (`rpc.status_page`, on by default):
//! - `GET /status`: the page (HTML, its script and style at `/status/app.js`, `/status/app.css`,
//!   all embedded in the binary: no external script, font or CDN);
//! - `GET /status/snapshot`: its data as JSON ([`snapshot::snapshot`]: the node's own JSON-RPC
//!   answers, asked in-process);
//! - `GET /status/events`: the same, pushed as server-sent events about once a second;
//! - `GET /` from a browser (asking for HTML, no WebSocket upgrade): a redirect to `/status`.
//!
//! Everything else (POST JSON-RPC, WebSocket upgrades) goes on to JSON-RPC untouched. Read-only,
//! no keys or tokens; paths are relative, so the page works behind a reverse proxy under any
//! prefix. However many browsers watch, the data is gathered at most once per
//! [`REFRESH`]; a strict Content-Security-Policy allows only this origin.

pub mod snapshot;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::StreamBody;
use hyper::body::Frame;
use hyper::header::{self, HeaderValue};
use hyper::{Method, StatusCode};
use jsonrpsee::Methods;
use jsonrpsee::core::BoxError;
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};
use serde_json::Value;
use tokio::sync::Mutex;
use tower::{Layer, Service};

const PAGE: &str = include_str!("../../assets/status/index.html");
const SCRIPT: &str = include_str!("../../assets/status/app.js");
const STYLE: &str = include_str!("../../assets/status/app.css");

/// The data is gathered at most this often, whoever asks.
pub const REFRESH: Duration = Duration::from_millis(900);
/// How often an event stream sends, and looks at the stop flag in between.
const PUSH_EVERY: Duration = Duration::from_secs(1);
const STOP_CHECK: Duration = Duration::from_millis(100);
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The latest snapshot and when it was taken, shared by every request; and the node's stop
/// flag, which ends every event stream (a stopping server waits for its open connections, and
/// the node sets the flag before it stops the server).
struct Cache {
    methods: Methods,
    latest: Mutex<Option<(Instant, Arc<Value>)>>,
    stopping: Arc<AtomicBool>,
}

impl Cache {
    async fn snapshot(&self) -> Arc<Value> {
        let mut latest = self.latest.lock().await;
        if let Some((taken, value)) = latest.as_ref()
            && taken.elapsed() < REFRESH
        {
            return value.clone();
        }
        let value = Arc::new(snapshot::snapshot(&self.methods).await);
        *latest = Some((Instant::now(), value.clone()));
        value
    }
}

/// The tower layer jsonrpsee's server takes as HTTP middleware.
#[derive(Clone)]
pub struct StatusLayer {
    cache: Arc<Cache>,
}

impl StatusLayer {
    /// Over the node's JSON-RPC methods (the page's only source); event streams end once
    /// `stopping` is set.
    pub fn new(methods: Methods, stopping: Arc<AtomicBool>) -> Self {
        Self { cache: Arc::new(Cache { methods, latest: Mutex::new(None), stopping }) }
    }
}

impl<S> Layer<S> for StatusLayer {
    type Service = StatusService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        StatusService { inner, cache: self.cache.clone() }
    }
}

#[derive(Clone)]
pub struct StatusService<S> {
    inner: S,
    cache: Arc<Cache>,
}

/// What the layer answers itself.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    Redirect(&'static str),
    Page,
    Script,
    Style,
    Snapshot,
    Events,
    NotFound,
}

fn route<B>(request: &HttpRequest<B>) -> Option<Route> {
    let path = request.uri().path();
    let is_status = path == "/status" || path.starts_with("/status/");
    if path == "/" {
        let upgrade = request.headers().contains_key(header::UPGRADE);
        let wants_html = request.headers().get(header::ACCEPT).and_then(|a| a.to_str().ok()).is_some_and(|a| a.contains("text/html"));
        return (request.method() == Method::GET && !upgrade && wants_html).then_some(Route::Redirect("status"));
    }
    if !is_status {
        return None;
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return Some(Route::NotFound);
    }
    Some(match path {
        "/status" => Route::Page,
        // The page's paths are relative to `/status`: one under `/status/` would miss them.
        "/status/" => Route::Redirect("../status"),
        "/status/app.js" => Route::Script,
        "/status/app.css" => Route::Style,
        "/status/snapshot" => Route::Snapshot,
        "/status/events" => Route::Events,
        _ => Route::NotFound,
    })
}

fn respond(status: StatusCode, content_type: &'static str, body: HttpBody) -> HttpResponse {
    let mut response = HttpResponse::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// Server-sent events: a snapshot now, then one each [`PUSH_EVERY`], until the client leaves.
fn events(cache: Arc<Cache>) -> HttpBody {
    let stream = futures::stream::unfold((cache, true), |(cache, first)| async move {
        if !first {
            let due = Instant::now() + PUSH_EVERY;
            while Instant::now() < due {
                if cache.stopping.load(Ordering::SeqCst) {
                    return None;
                }
                tokio::time::sleep(STOP_CHECK).await;
            }
        }
        if cache.stopping.load(Ordering::SeqCst) {
            return None;
        }
        let value = cache.snapshot().await;
        let frame = Frame::data(Bytes::from(format!("event: snapshot\ndata: {value}\n\n")));
        Some((Ok::<_, BoxError>(frame), (cache, false)))
    });
    HttpBody::new(StreamBody::new(stream))
}

impl<S, B> Service<HttpRequest<B>> for StatusService<S>
where
    S: Service<HttpRequest, Response = HttpResponse>,
    S::Error: Into<BoxError> + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, BoxError>> + Send + 'static>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: HttpRequest<B>) -> Self::Future {
        let Some(route) = route(&request) else {
            let future = self.inner.call(request.map(HttpBody::new));
            return Box::pin(async move { future.await.map_err(Into::into) });
        };
        let cache = self.cache.clone();
        Box::pin(async move {
            Ok(match route {
                Route::Redirect(to) => {
                    let mut response = respond(StatusCode::FOUND, "text/plain; charset=utf-8", HttpBody::from("the status page is at /status\n"));
                    response.headers_mut().insert(header::LOCATION, HeaderValue::from_static(to));
                    response
                }
                Route::Page => respond(StatusCode::OK, "text/html; charset=utf-8", HttpBody::from(PAGE)),
                Route::Script => respond(StatusCode::OK, "text/javascript; charset=utf-8", HttpBody::from(SCRIPT)),
                Route::Style => respond(StatusCode::OK, "text/css; charset=utf-8", HttpBody::from(STYLE)),
                Route::Snapshot => respond(StatusCode::OK, "application/json", HttpBody::from(cache.snapshot().await.to_string())),
                Route::Events => respond(StatusCode::OK, "text/event-stream", events(cache)),
                Route::NotFound => respond(StatusCode::NOT_FOUND, "text/plain; charset=utf-8", HttpBody::from("no such page: the status page is GET /status\n")),
            })
        })
    }
}

#[cfg(test)]
mod tests;
