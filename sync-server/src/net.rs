//! Connections that cannot be held open for nothing: a client that sends no byte and reads no
//! byte for the idle limit is disconnected, and no connection lives past its lifetime (a
//! keep-alive connection with a request every 25 s included); at most so many connections at
//! once, and so many from one address, so idle sockets cannot use up the server's files.
//! (Slow-header clients are cut by hyper's header-read timeout and axum-server's first-request
//! timeout, see `http`.)

use std::collections::HashMap;
use std::future::{ready, Future, Ready};
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{sleep, Instant, Sleep};

/// A TCP stream that fails with `TimedOut` once neither side has moved a byte for `idle`, or
/// once it has lived `lifetime`; it holds its place among the open connections until dropped.
pub struct IdleStream {
    inner: TcpStream,
    idle: Duration,
    timer: Pin<Box<Sleep>>,
    end_of_life: Pin<Box<Sleep>>,
    _slot: Slot,
}

impl IdleStream {
    fn limited(inner: TcpStream, idle: Duration, lifetime: Duration, slot: Slot) -> Self {
        Self {
            inner,
            idle,
            timer: Box::pin(sleep(idle)),
            end_of_life: Box::pin(sleep(lifetime)),
            _slot: slot,
        }
    }

    fn moved(&mut self) {
        self.timer.as_mut().reset(Instant::now() + self.idle);
    }

    /// While the inner stream waits, the idle timer and the lifetime run.
    fn waiting<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        if self.end_of_life.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "connection lived too long",
            )));
        }
        match self.timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "connection idle too long",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for IdleStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.end_of_life.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "connection lived too long",
            )));
        }
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    self.moved();
                }
                Poll::Ready(result)
            }
            Poll::Pending => self.waiting(cx),
        }
    }
}

impl AsyncWrite for IdleStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, data) {
            Poll::Ready(result) => {
                if matches!(result, Ok(n) if n > 0) {
                    self.moved();
                }
                Poll::Ready(result)
            }
            Poll::Pending => self.waiting(cx),
        }
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// How many connections may be open at once, and for how long.
#[derive(Clone, Debug)]
pub struct ConnectionLimits {
    /// In all.
    pub total: usize,
    /// From one client address.
    pub per_address: usize,
    /// Reverse proxies: every client comes through them, so they have no cap of their own.
    pub proxies: Vec<IpAddr>,
    /// Without a byte either way.
    pub idle: Duration,
    /// From accept to close, whatever it does.
    pub lifetime: Duration,
}

impl ConnectionLimits {
    /// min(4096, the open-file soft limit − 100): room is left for the database, logs and
    /// backups.
    pub fn default_total() -> usize {
        open_files_soft_limit()
            .map_or(924, |n| n.saturating_sub(100))
            .clamp(16, 4096)
    }
}

/// The soft limit on open files (Linux: `/proc/self/limits`), if known.
fn open_files_soft_limit() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line
        .trim_start_matches("Max open files")
        .split_whitespace()
        .next()?;
    if soft == "unlimited" {
        return Some(usize::MAX);
    }
    soft.parse().ok()
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_address: HashMap<IpAddr, usize>,
}

/// A place among the open connections, given back when the connection is dropped.
pub struct Slot {
    counts: Arc<Mutex<Counts>>,
    address: Option<IpAddr>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        counts.total = counts.total.saturating_sub(1);
        if let Some(address) = self.address {
            if let Some(n) = counts.per_address.get_mut(&address) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    counts.per_address.remove(&address);
                }
            }
        }
    }
}

/// Admits a connection only within [`ConnectionLimits`]; one past a cap is accepted and closed
/// at once (and logged, at most once a second). Admitted ones are [`IdleStream`]s.
#[derive(Clone)]
pub struct Guard {
    limits: ConnectionLimits,
    counts: Arc<Mutex<Counts>>,
    last_refusal_log: Arc<Mutex<Option<std::time::Instant>>>,
}

impl Guard {
    pub fn new(limits: ConnectionLimits) -> Self {
        Self {
            limits,
            counts: Arc::default(),
            last_refusal_log: Arc::default(),
        }
    }

    /// Open connections now (in all).
    pub fn open(&self) -> usize {
        self.counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .total
    }

    fn admit(&self, address: Option<IpAddr>) -> Result<Slot, &'static str> {
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if counts.total >= self.limits.total {
            return Err("too many connections");
        }
        if let Some(a) = address.filter(|a| !self.limits.proxies.contains(a)) {
            let n = counts.per_address.entry(a).or_insert(0);
            if *n >= self.limits.per_address {
                return Err("too many connections from this address");
            }
            *n += 1;
        }
        counts.total += 1;
        Ok(Slot {
            counts: self.counts.clone(),
            address,
        })
    }

    fn log_refusal(&self, address: Option<IpAddr>, why: &str) {
        let mut last = self
            .last_refusal_log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = std::time::Instant::now();
        if last.is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1)) {
            *last = Some(now);
            let client = address.map_or_else(|| "-".to_owned(), |a| a.to_string());
            tracing::warn!(%client, reason = why, "connection refused");
        }
    }
}

impl<S> axum_server::accept::Accept<TcpStream, S> for Guard {
    type Stream = IdleStream;
    type Service = S;
    type Future = Ready<io::Result<(IdleStream, S)>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let address = stream.peer_addr().ok().map(|a| a.ip());
        match self.admit(address) {
            Ok(slot) => ready(Ok((
                IdleStream::limited(stream, self.limits.idle, self.limits.lifetime, slot),
                service,
            ))),
            Err(why) => {
                self.log_refusal(address, why);
                // Dropping the stream closes it at once.
                ready(Err(io::Error::other(why)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_counted_in_all_and_per_address() {
        let guard = Guard::new(ConnectionLimits {
            total: 3,
            per_address: 2,
            proxies: Vec::new(),
            idle: Duration::from_secs(1),
            lifetime: Duration::from_secs(1),
        });
        let a: IpAddr = [127, 0, 0, 1].into();
        let b: IpAddr = [127, 0, 0, 2].into();
        let first = guard.admit(Some(a)).expect("first");
        let _second = guard.admit(Some(a)).expect("second");
        assert!(guard.admit(Some(a)).is_err(), "per address");
        let _third = guard.admit(Some(b)).expect("another address");
        assert!(guard.admit(Some([127, 0, 0, 3].into())).is_err(), "in all");
        drop(first);
        assert_eq!(guard.open(), 2);
        assert!(guard.admit(Some(a)).is_ok(), "a place given back");
        assert!(ConnectionLimits::default_total() >= 16);
    }
}
