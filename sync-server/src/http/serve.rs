//! Listening: plain HTTP (loopback) and TLS, with connection caps and graceful shutdown.

use super::*;

/// A connection that could not be accepted (the system out of files, one past the caps):
/// logged with the client's address, never fatal.
pub(super) fn log_accept_error(client: Option<&std::net::SocketAddr>, error: &std::io::Error) {
    let client = client.map_or_else(|| "-".to_owned(), |a| a.ip().to_string());
    tracing::debug!(%client, %error, "connection not accepted");
}

/// Serves until `shutdown` resolves, with the default limits. Tests bind port 0 and pass the
/// listener in.
pub async fn serve(
    db: impl Into<Backend>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(db, listener, Limits::default(), shutdown).await
}

/// Serves plain HTTP: headers within `limits.header_read`, idle connections dropped after
/// `limits.idle`, each token rate-limited.
pub async fn serve_with(
    db: impl Into<Backend>,
    listener: tokio::net::TcpListener,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut server = axum_server::from_tcp(listener.into_std()?)?
        .acceptor(crate::net::Guard::new(limits.connections()))
        .first_request_timeout(limits.first_request)
        .accept_error_handler(log_accept_error);
    limits.apply(server.http_builder());
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopper.graceful_shutdown(Some(std::time::Duration::from_secs(5)));
    });
    server
        .handle(handle)
        .serve(
            app(AppState::with_limits(db, limits))
                .into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
}

/// Serves HTTPS with the given PEM certificate chain and key until `shutdown` resolves;
/// `on_listening` is told the bound address (useful with port 0). Same limits as plain HTTP.
pub async fn serve_tls(
    db: impl Into<Backend>,
    addr: std::net::SocketAddr,
    (cert, key): (&std::path::Path, &std::path::Path),
    limits: Limits,
    on_listening: impl FnOnce(std::net::SocketAddr) + Send + 'static,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key).await?;
    let handle = axum_server::Handle::new();
    let watcher = handle.clone();
    tokio::spawn(async move {
        if let Some(bound) = watcher.listening().await {
            on_listening(bound);
        }
    });
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopper.graceful_shutdown(Some(std::time::Duration::from_secs(5)));
    });
    let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(config)
        .acceptor(crate::net::Guard::new(limits.connections()));
    let mut server = axum_server::bind(addr)
        .acceptor(acceptor)
        .first_request_timeout(limits.first_request)
        .accept_error_handler(log_accept_error);
    limits.apply(server.http_builder());
    server
        .handle(handle)
        .serve(
            app(AppState::with_limits(
                db,
                Limits {
                    tls: true,
                    ..limits
                },
            ))
            .into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
}
