//! The plain-HTTP endpoint Prometheus scrapes: `GET /metrics`, 404
//! elsewhere. It is apart from the gRPC port and has no TLS: it carries no
//! person data, and belongs on an internal network.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{ALLOW, CONTENT_TYPE};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Mutex, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Metrics;

/// OpenMetrics text, which Prometheus asks for first.
const CONTENT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// Scrapers served at once; more connections are closed at once.
const MAX_CONNECTIONS: usize = 16;
/// A scraper that sends no request line in this long is dropped.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads the gauges that come from storage (inbox lag, overdue cases) into
/// the metrics; the server calls it before a scrape, at most once per
/// refresh interval.
#[async_trait]
pub trait Refresh: Send + Sync + 'static {
    /// Logs its own failures: a scrape then shows the last values read.
    async fn refresh(&self);
}

/// The metrics port, bound and ready to serve.
#[derive(Debug)]
pub struct MetricsServer {
    listener: TcpListener,
    local_addr: SocketAddr,
}

struct Scrape {
    metrics: Metrics,
    refresh: Arc<dyn Refresh>,
    every: Duration,
    /// When the gauges were last read; held while reading, so scrapes that
    /// arrive together read storage once.
    refreshed: Mutex<Option<Instant>>,
}

impl MetricsServer {
    /// Binds `addr` (port 0 allowed; see [`Self::local_addr`]).
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub async fn bind(addr: SocketAddr) -> io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        Ok(Self {
            listener,
            local_addr,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves `metrics` until `shutdown` is cancelled, then lets the
    /// requests in flight finish. `refresh` runs before a scrape when the
    /// last one is older than `every`, so scrapers cannot hammer storage.
    pub async fn run(
        self,
        metrics: Metrics,
        refresh: Arc<dyn Refresh>,
        every: Duration,
        shutdown: CancellationToken,
    ) {
        let scrape = Arc::new(Scrape {
            metrics,
            refresh,
            every,
            refreshed: Mutex::new(None),
        });
        let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let mut connections = JoinSet::new();
        tracing::info!(addr = %self.local_addr, "serving metrics");
        loop {
            while connections.try_join_next().is_some() {}
            let accepted = tokio::select! {
                () = shutdown.cancelled() => break,
                accepted = self.listener.accept() => accepted,
            };
            let (tcp, remote) = match accepted {
                Ok(connection) => connection,
                Err(error) => {
                    tracing::debug!(%error, "metrics connection lost before it was accepted");
                    // Also a pause when accept fails for want of file
                    // descriptors, so the loop does not spin.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                tracing::info!(%remote, "too many metrics connections; closed");
                continue;
            };
            let (scrape, shutdown) = (Arc::clone(&scrape), shutdown.clone());
            connections.spawn(async move {
                let _slot = slot;
                serve_connection(tcp, scrape, shutdown).await;
            });
        }
        connections.join_all().await;
        tracing::debug!("metrics server stopped");
    }
}

async fn serve_connection(
    tcp: tokio::net::TcpStream,
    scrape: Arc<Scrape>,
    shutdown: CancellationToken,
) {
    let service = service_fn(move |request| {
        let scrape = Arc::clone(&scrape);
        async move { Ok::<_, Infallible>(scrape.answer(&request).await) }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(TokioIo::new(tcp), service);
    tokio::pin!(connection);
    let served = tokio::select! {
        served = connection.as_mut() => served,
        () = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = served {
        tracing::debug!(%error, "metrics connection ended with an error");
    }
}

impl Scrape {
    async fn answer(&self, request: &Request<Incoming>) -> Response<Full<Bytes>> {
        if request.uri().path() != "/metrics" {
            return plain(StatusCode::NOT_FOUND, "not found; try /metrics\n");
        }
        if request.method() != Method::GET {
            let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "only GET\n");
            response
                .headers_mut()
                .insert(ALLOW, hyper::header::HeaderValue::from_static("GET"));
            return response;
        }
        self.refresh_if_stale().await;
        let mut response = Response::new(Full::new(Bytes::from(self.metrics.encode())));
        response.headers_mut().insert(
            CONTENT_TYPE,
            hyper::header::HeaderValue::from_static(CONTENT),
        );
        response
    }

    async fn refresh_if_stale(&self) {
        let mut refreshed = self.refreshed.lock().await;
        if refreshed.is_some_and(|at| at.elapsed() < self.every) {
            return;
        }
        self.refresh.refresh().await;
        *refreshed = Some(Instant::now());
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[derive(Default)]
    struct Counting(AtomicUsize);

    #[async_trait]
    impl Refresh for Counting {
        async fn refresh(&self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    async fn reads_for_two_scrapes(every: Duration) -> usize {
        let counting = Arc::new(Counting::default());
        let scrape = Scrape {
            metrics: Metrics::new(),
            refresh: counting.clone(),
            every,
            refreshed: Mutex::new(None),
        };
        scrape.refresh_if_stale().await;
        scrape.refresh_if_stale().await;
        counting.0.load(Ordering::SeqCst)
    }

    #[tokio::test]
    async fn scrapes_within_the_refresh_interval_read_storage_once() {
        assert_eq!(reads_for_two_scrapes(Duration::from_secs(3600)).await, 1);
        assert_eq!(reads_for_two_scrapes(Duration::ZERO).await, 2);
    }
}
