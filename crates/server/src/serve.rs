//! Serving connections, with the limits a public server needs (`config::Limits`):
//!
//! - **connections are capped**: at most `max_connections` are served at once; the accept
//!   loop waits for a free slot (the kernel's backlog holds the rest);
//! - **slow clients are cut off**: a request's headers must arrive within
//!   `header_timeout` (hyper's timer, which also ends idle keep-alive connections); a request
//!   must be answered within `request_timeout` (body included; see
//!   [`crate::app::every_request`]); a body that makes no progress for `idle_timeout`
//!   ends the request, and a client that stops reading a streamed answer (an export) for
//!   `idle_timeout` loses its connection;
//! - **shutdown has a deadline**: on SIGTERM/SIGINT no new connection is accepted, the
//!   requests in flight finish (each connection is told to close after its current
//!   request), and after `shutdown_timeout` whatever still runs is dropped.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use axum::extract::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt;

use crate::config::Limits;

/// Serves `app` on `listener` until `shutdown` resolves, then drains as described above.
pub async fn run(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&slots).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let watcher = graceful.watcher();
        let app = app.clone();
        let limits = limits.clone();
        tokio::spawn(async move {
            serve_connection(stream, peer, app, &limits, watcher).await;
            drop(permit);
        });
    }
    drop(listener);
    tracing::info!(
        connections = graceful.count(),
        "shutting down; finishing requests in flight"
    );
    if tokio::time::timeout(limits.shutdown_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            seconds = limits.shutdown_timeout.as_secs_f64(),
            "requests still running at the shutdown deadline were dropped"
        );
    }
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: &Limits,
    watcher: hyper_util::server::graceful::Watcher,
) {
    stream.set_nodelay(true).ok();
    let stall = Arc::new(Stall::default());
    let io = Watched {
        inner: stream,
        stall: Arc::clone(&stall),
    };
    let service = app.map_request(move |mut request: Request<_>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        request
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(64 * 1024);
    let connection = builder.serve_connection(TokioIo::new(io), TowerToHyperService::new(service));
    let connection = watcher.watch(connection);
    tokio::select! {
        result = connection => {
            if let Err(e) = result {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
        }
        () = stall.exceeded(limits.idle_timeout) => {
            tracing::info!(%peer, "closed a connection whose client stopped reading");
        }
    }
}

/// When writing to a connection last blocked without progress (milliseconds since
/// `start`, `0` = not blocked).
#[derive(Debug)]
struct Stall {
    start: Instant,
    blocked_since: AtomicU64,
}

impl Default for Stall {
    fn default() -> Stall {
        Stall {
            start: Instant::now(),
            blocked_since: AtomicU64::new(0),
        }
    }
}

impl Stall {
    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    fn blocked(&self) {
        let now = self.now();
        let _ = self
            .blocked_since
            .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
    }

    fn progressed(&self) {
        self.blocked_since.store(0, Ordering::Relaxed);
    }

    /// Resolves once a write has been blocked for longer than `limit`.
    async fn exceeded(&self, limit: Duration) {
        let limit_ms = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX);
        let tick = (limit / 4).max(Duration::from_millis(50));
        loop {
            tokio::time::sleep(tick).await;
            let since = self.blocked_since.load(Ordering::Relaxed);
            if since != 0 && self.now().saturating_sub(since) > limit_ms {
                return;
            }
        }
    }
}

/// A TCP stream that notes when writes block (the client does not read).
struct Watched {
    inner: TcpStream,
    stall: Arc<Stall>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.note(&polled);
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.note(&polled);
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_flush(cx);
        self.note(&polled);
        polled
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl Watched {
    fn note<T>(&self, polled: &Poll<T>) {
        match polled {
            Poll::Pending => self.stall.blocked(),
            Poll::Ready(_) => self.stall.progressed(),
        }
    }
}

/// A body (of a request or an answer) that fails when it makes no progress for `idle`:
/// a client trickling an upload, or a streamed export whose source stalls. Unlike
/// `tower_http`'s timeout body it keeps the size hint, so answers keep their
/// `Content-Length`.
pub struct IdleTimeout {
    inner: axum::body::Body,
    idle: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl IdleTimeout {
    /// A request's body, failing once it makes no progress for `idle`; a request without
    /// a body (at its end already) is left as it is.
    pub fn wrap(inner: axum::body::Body, idle: Duration) -> axum::body::Body {
        use hyper::body::Body as _;
        if inner.is_end_stream() {
            return inner;
        }
        IdleTimeout::watch(inner, idle)
    }

    /// An answer's body, the same; an answer whose exact size is known is left as it is:
    /// only answers built in memory know it (streamed ones, `Body::from_stream`, do not),
    /// and those cannot stall.
    pub fn wrap_answer(inner: axum::body::Body, idle: Duration) -> axum::body::Body {
        use hyper::body::Body as _;
        if inner.is_end_stream() || inner.size_hint().exact().is_some() {
            return inner;
        }
        IdleTimeout::watch(inner, idle)
    }

    fn watch(inner: axum::body::Body, idle: Duration) -> axum::body::Body {
        axum::body::Body::new(IdleTimeout {
            inner,
            idle,
            sleep: None,
        })
    }
}

/// The error of a body that stalled.
#[derive(Debug, thiserror::Error)]
#[error("the body made no progress for too long")]
pub struct Stalled;

impl hyper::body::Body for IdleTimeout {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.sleep = None;
                Poll::Ready(frame)
            }
            Poll::Pending => {
                let idle = this.idle;
                let sleep = this
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
                if sleep.as_mut().poll(cx).is_ready() {
                    this.sleep = None;
                    return Poll::Ready(Some(Err(axum::Error::new(Stalled))));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use http_body_util::BodyExt;

    const IDLE: Duration = Duration::from_millis(50);

    /// A streamed body that sends `first` and then nothing, never ending.
    fn stalling(first: &'static str) -> axum::body::Body {
        let chunks =
            futures::stream::iter([Ok::<_, std::io::Error>(axum::body::Bytes::from(first))])
                .chain(futures::stream::pending());
        axum::body::Body::from_stream(chunks)
    }

    #[tokio::test]
    async fn a_stalled_body_fails_after_the_idle_time_on_both_sides() {
        for wrap in [IdleTimeout::wrap, IdleTimeout::wrap_answer] {
            let mut body = wrap(stalling("first"), IDLE);
            let frame = body.frame().await.unwrap().unwrap();
            assert_eq!(frame.into_data().unwrap(), "first");
            let began = Instant::now();
            let stalled = body.frame().await.unwrap().unwrap_err();
            assert!(began.elapsed() >= IDLE);
            let inner = stalled.into_inner();
            let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&*inner);
            while let Some(e) = cause.filter(|e| !e.is::<Stalled>()) {
                cause = e.source();
            }
            assert!(cause.is_some(), "{inner:?}");
        }
    }

    #[tokio::test]
    async fn bodies_that_cannot_stall_keep_their_size_and_data() {
        let answer = IdleTimeout::wrap_answer(axum::body::Body::from("{\"ok\":true}"), IDLE);
        assert_eq!(hyper::body::Body::size_hint(&answer).exact(), Some(11));
        assert_eq!(answer.collect().await.unwrap().to_bytes(), "{\"ok\":true}");
        let empty = IdleTimeout::wrap(axum::body::Body::empty(), IDLE);
        assert!(hyper::body::Body::is_end_stream(&empty));
        assert!(empty.collect().await.unwrap().to_bytes().is_empty());
    }
}
