//! [`TlsListener`]: HTTPS for the reference endpoint (rustls, ring), as an axum listener.
//!
//! ```no_run
//! # async fn f(state: std::sync::Arc<msao_host::cloud::CloudState>) -> anyhow::Result<()> {
//! use msao_host::cloud::{TlsListener, load_server_config, serve};
//! let config = load_server_config("cloud.crt".as_ref(), "cloud.key".as_ref())?;
//! let tcp = tokio::net::TcpListener::bind("127.0.0.1:8443").await?;
//! serve(TlsListener::new(tcp, config), state, std::future::pending()).await
//! # }
//! ```
//!
//! Handshakes run on their own tasks, each under [`HANDSHAKE_TIMEOUT`], so a slow or
//! broken client never holds up the accept loop. A failed handshake (plain HTTP on the TLS
//! port, an untrusted client, a timeout) closes that connection only; it is counted
//! ([`TlsListener::failures`]) and the first [`LOGGED_FAILURES`] are written to stderr.
//! At most [`MAX_PENDING`] finished handshakes wait for the server to take them (back
//! pressure on the accept loop, not a drop).

use anyhow::Context as _;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::server::TlsStream;

/// Longest a client may take to finish its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Finished handshakes queued for the server.
pub const MAX_PENDING: usize = 64;

/// Handshake failures written to stderr before the rest are only counted.
pub const LOGGED_FAILURES: u64 = 10;

/// Pause after a failed `accept` (out of file descriptors, …) before the next one.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// A rustls server config from a PEM certificate chain (leaf first) and a PEM private key
/// (PKCS#8, PKCS#1 or SEC1), with ALPN `http/1.1` (the endpoint speaks HTTP/1.1).
pub fn load_server_config(cert: &Path, key: &Path) -> anyhow::Result<Arc<ServerConfig>> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("--tls-cert {}: cannot read it", cert.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("--tls-cert {}: not a PEM certificate chain", cert.display()))?;
    if chain.is_empty() {
        anyhow::bail!("--tls-cert {}: no PEM certificate in it", cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("--tls-key {}: no PEM private key in it", key.display()))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .with_context(|| {
            format!(
                "--tls-cert {} and --tls-key: the key does not fit the certificate, or is unsupported",
                cert.display()
            )
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A TCP listener that hands the server TLS streams whose handshake has finished.
pub struct TlsListener {
    local: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    failures: Arc<AtomicU64>,
}

impl TlsListener {
    /// Starts the accept loop on the current tokio runtime.
    ///
    /// # Panics
    /// Outside a tokio runtime (it spawns the accept loop).
    pub fn new(tcp: TcpListener, config: Arc<ServerConfig>) -> Self {
        // The address of a bound listener; `0.0.0.0:0` only if the OS will not say.
        let local = tcp
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let (tx, ready) = mpsc::channel(MAX_PENDING);
        let failures = Arc::new(AtomicU64::new(0));
        tokio::spawn(accept_loop(
            tcp,
            TlsAcceptor::from(config),
            tx,
            Arc::clone(&failures),
        ));
        Self {
            local,
            ready,
            failures,
        }
    }

    /// A counter of failed handshakes that outlives the listener (the server owns it).
    pub fn failures(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.failures)
    }
}

async fn accept_loop(
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    tx: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
    failures: Arc<AtomicU64>,
) {
    loop {
        let accepted = tokio::select! {
            // The server dropped its listener: stop, and free the port.
            () = tx.closed() => return,
            a = tcp.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(c) => c,
            Err(e) => {
                eprintln!("msao-host cloud: accept failed: {e}");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        // Small requests and replies: do not wait for Nagle.
        let _ = stream.set_nodelay(true);
        let acceptor = acceptor.clone();
        let tx = tx.clone();
        let failures = Arc::clone(&failures);
        tokio::spawn(async move {
            let why = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    // A closed channel means the server is shutting down: drop the stream.
                    let _ = tx.send((tls, peer)).await;
                    return;
                }
                Ok(Err(e)) => e.to_string(),
                Err(_) => format!("no handshake within {HANDSHAKE_TIMEOUT:?}"),
            };
            let n = failures.fetch_add(1, Ordering::Relaxed) + 1;
            if n <= LOGGED_FAILURES {
                eprintln!("msao-host cloud: TLS handshake with {peer} failed: {why}");
                if n == LOGGED_FAILURES {
                    eprintln!("msao-host cloud: further handshake failures are only counted");
                }
            }
        });
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // The accept loop holds a sender while this receiver lives, so this does not
            // happen; if it did, wait rather than spin (shutdown still ends the server).
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
