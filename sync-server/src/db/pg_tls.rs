//! TLS to PostgreSQL, for a database on another machine (`sslmode=require`). The server's
//! certificate is always verified, against the CA file given as `sslrootcert=PATH` or, without
//! one, against Mozilla's root certificates (webpki-roots): an encrypted connection to a server
//! nobody vouched for would protect the mentors' records from nobody. It runs on the rustls and
//! ring the HTTPS listener already uses, so the build needs no OpenSSL.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};
use postgres::Socket;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::ServerError;

/// The client side of TLS to one database: the roots its certificate must chain to.
#[derive(Clone)]
pub struct Verified(Arc<rustls::ClientConfig>);

impl Verified {
    /// Trusts the certificates in `ca_file` (PEM), or Mozilla's roots without one.
    pub fn new(ca_file: Option<&str>) -> Result<Self, ServerError> {
        let mut roots = rustls::RootCertStore::empty();
        match ca_file {
            Some(path) => {
                let unreadable =
                    |why: String| ServerError::Invalid(format!("sslrootcert {path}: {why}"));
                let certs = CertificateDer::pem_file_iter(path)
                    .map_err(|e| unreadable(e.to_string()))?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| unreadable(e.to_string()))?;
                if certs.is_empty() {
                    return Err(unreadable("no certificate in it".into()));
                }
                for cert in certs {
                    roots.add(cert).map_err(|e| unreadable(e.to_string()))?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| ServerError::Invalid(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Ok(Self(Arc::new(config)))
    }
}

impl MakeTlsConnect<Socket> for Verified {
    type Stream = Stream;
    type TlsConnect = Connector;
    type Error = rustls::pki_types::InvalidDnsNameError;

    fn make_tls_connect(&mut self, host: &str) -> Result<Connector, Self::Error> {
        Ok(Connector {
            config: self.0.clone(),
            name: ServerName::try_from(host.to_owned())?,
        })
    }
}

pub struct Connector {
    config: Arc<rustls::ClientConfig>,
    name: ServerName<'static>,
}

impl TlsConnect<Socket> for Connector {
    type Stream = Stream;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Stream>> + Send>>;

    fn connect(self, socket: Socket) -> Self::Future {
        Box::pin(async move {
            let stream = tokio_rustls::TlsConnector::from(self.config)
                .connect(self.name, socket)
                .await?;
            Ok(Stream(Box::new(stream)))
        })
    }
}

/// An encrypted connection to the database.
pub struct Stream(Box<tokio_rustls::client::TlsStream<Socket>>);

impl TlsStream for Stream {
    /// No channel binding: SCRAM authentication still works, without the `-PLUS` variant.
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }
}
