//! What each client may do: request limits, and the token buckets that enforce the rate.

use super::*;

/// What a server lets each client do.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Requests per second per token, sustained.
    pub per_second: f64,
    /// Requests a token may make at once before the rate applies.
    pub burst: f64,
    /// How long a client may take to send a request's headers.
    pub header_read: std::time::Duration,
    /// How long a connection may sit without a byte moving either way.
    pub idle: std::time::Duration,
    /// How long a new connection may take to send its first complete request.
    pub first_request: std::time::Duration,
    /// How long a connection may live, whatever it does (a keep-alive connection that asks
    /// something every 25 s included).
    pub lifetime: std::time::Duration,
    /// Open connections at most, in all (one more is accepted and closed at once).
    pub max_connections: usize,
    /// Open connections at most from one client address.
    pub max_connections_per_address: usize,
    /// The bearer token `/metrics` asks for, if any.
    pub metrics_token: Option<String>,
    /// Whether `/metrics` may answer without a token: only on a loopback listener.
    pub metrics_open: bool,
    /// Reverse proxies whose `X-Forwarded-For` names the client (its last hop); any other
    /// peer is the client itself.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Whether the server speaks TLS itself (set by [`serve_tls`]).
    pub tls: bool,
    /// Scheduled backups while serving, if any.
    pub backups: Option<crate::backups::BackupPlan>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            per_second: 20.0,
            burst: 100.0,
            header_read: std::time::Duration::from_secs(30),
            idle: std::time::Duration::from_secs(60),
            first_request: std::time::Duration::from_secs(10),
            lifetime: std::time::Duration::from_secs(600),
            max_connections: crate::net::ConnectionLimits::default_total(),
            max_connections_per_address: 256,
            metrics_token: None,
            metrics_open: true,
            trusted_proxies: Vec::new(),
            tls: false,
            backups: None,
        }
    }
}

impl Limits {
    pub(super) fn connections(&self) -> crate::net::ConnectionLimits {
        crate::net::ConnectionLimits {
            total: self.max_connections,
            per_address: self.max_connections_per_address,
            proxies: self.trusted_proxies.clone(),
            idle: self.idle,
            lifetime: self.lifetime,
        }
    }

    /// Header limits for HTTP/1 and HTTP/2 alike: a request's headers within the header
    /// timeout (HTTP/1) and at most 100 headers (HTTP/1) or 16 KiB of them (HTTP/2), at most
    /// 64 requests at once on one HTTP/2 connection.
    pub(super) fn apply(
        &self,
        builder: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
    ) {
        builder
            .http1()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(self.header_read)
            .max_headers(100);
        builder
            .http2()
            .timer(hyper_util::rt::TokioTimer::new())
            .max_header_list_size(16 * 1024)
            .max_concurrent_streams(64)
            .keep_alive_interval(None);
    }
}

/// Token buckets: one per verified token (by its public id part, never the secret), charged
/// only once the token checked out; one per client address for requests that fail to
/// authenticate, so nobody can empty another's bucket by sending its id with a wrong secret,
/// and a stream of failures from one address, however it varies the id, is answered 429 and
/// logged. (Each request still costs one token look-up: a valid token is never refused because
/// of its address; tokens carry 100+ random bits, so guessing is not the danger.)
pub struct RateLimiter {
    pub(super) limits: Limits,
    pub(super) buckets: Mutex<std::collections::HashMap<String, (f64, std::time::Instant)>>,
}

impl RateLimiter {
    pub(super) fn new(limits: Limits) -> Self {
        Self {
            limits,
            buckets: Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// A request that failed to authenticate: logged with its client address and why (never
    /// the token), charged to that address's bucket, and answered 401, or 429 once the
    /// address has failed too often.
    pub(super) fn refuse(
        &self,
        client: Option<std::net::IpAddr>,
        reason: &'static str,
    ) -> Response {
        let address = client.map_or_else(|| "-".to_owned(), |a| a.to_string());
        tracing::warn!(client = %address, %reason, "authentication failed");
        match self.take(&format!("failures:{address}")) {
            Ok(()) => ApiError::from(ServerError::Unauthorized).into_response(),
            Err(wait) => too_many(wait),
        }
    }

    /// `Ok` to go ahead, or how many seconds to wait before the next try.
    pub(super) fn take(&self, key: &str) -> Result<(), u64> {
        let now = std::time::Instant::now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Forget quiet clients now and then, so the map stays small.
        if buckets.len() > 10_000 {
            let burst = self.limits.burst;
            let rate = self.limits.per_second;
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate < burst
            });
        }
        let (tokens, at) = buckets
            .entry(key.to_owned())
            .or_insert((self.limits.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.limits.per_second)
            .min(self.limits.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - *tokens) / self.limits.per_second.max(f64::MIN_POSITIVE);
            Err(wait.ceil().max(1.0) as u64)
        }
    }
}
