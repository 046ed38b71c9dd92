//! `msao-host cloud`: serve the cloud models over the Open Inference Protocol v2 until
//! Ctrl-C / SIGTERM. The first stdout line is `listening on http://ADDR` (with `--json`, a
//! JSON object whose `url` is that address): tests and the bench read it to find the port.
//! With `--tls-cert` and `--tls-key` it serves HTTPS and the address is `https://ADDR`;
//! with `--token-env VAR` every request needs `Authorization: Bearer $VAR`. `--workers N`
//! loads N sessions of each model, so N requests run at once; `--queue Q` lets Q more wait
//! for a session and answers the rest `429` with `Retry-After`. Every connection runs under
//! the timeouts and cap of [`Limits`] (flags below); Ctrl-C / SIGTERM stops accepting,
//! gives requests in flight `--shutdown-grace`, closes every connection and exits 0.

use crate::cloud::{
    BearerAuth, CloudState, Limits, MAX_CONNECTIONS, QUEUE_PER_WORKER, TlsListener,
    default_workers, load_server_config, router, serve_with,
};
use crate::env::Env;
use anyhow::Context as _;
use msao_agent::host::models::RuntimeOptions;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Serve the cloud models over OIP v2 (REST, binary and JSON tensors).
#[derive(Debug, Clone, clap::Args)]
pub struct Cmd {
    /// Address to listen on; port 0 picks a free port (printed on the first line).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8000")]
    pub listen: String,
    /// Serve HTTPS with this PEM certificate chain (leaf first); needs `--tls-key`.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key (PKCS#8, PKCS#1 or SEC1) of `--tls-cert`.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Require `Authorization: Bearer <token>` on every request, the token read from this
    /// environment variable (never from the command line, where `ps` would show it).
    #[arg(long, value_name = "VAR")]
    pub token_env: Option<String>,
    /// Sessions per model, so requests served at once; each runs ONNX Runtime with one
    /// intra-op thread when there are several. Default: the CPUs this process may use.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub workers: Option<u16>,
    /// Requests that may wait for a busy session before more are answered `429` with
    /// `Retry-After`. Default: 4 per worker.
    #[arg(long, value_name = "Q", value_parser = clap::value_parser!(u16))]
    pub queue: Option<u16>,
    /// Longest a client may take to send a request's headers; slower ones are closed.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = crate::args::positive_duration)]
    pub header_timeout: Duration,
    /// A connection with no bytes moving for this long is closed.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = crate::args::positive_duration)]
    pub idle_timeout: Duration,
    /// Longest one request may take (body upload and model run); later ones get `503`.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = crate::args::positive_duration)]
    pub request_timeout: Duration,
    /// Connections served at once; more are closed on accept (and logged, rate-limited).
    #[arg(long, value_name = "N", default_value_t = MAX_CONNECTIONS as u32, value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub max_connections: u32,
    /// After Ctrl-C / SIGTERM, how long requests in flight may take before every
    /// connection is closed.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = crate::args::positive_duration)]
    pub shutdown_grace: Duration,
    #[command(flatten)]
    pub model_args: super::ModelArgs,
    /// Print only the `listening on` line.
    #[arg(long)]
    pub quiet: bool,
    /// Print startup and shutdown as JSON lines.
    #[arg(long)]
    pub json: bool,
}

/// How often the shutdown flag is polled.
const SHUTDOWN_POLL: Duration = Duration::from_millis(100);

impl Cmd {
    /// Loads the models, binds, prints the address and serves until asked to stop.
    pub fn run(self, out: &mut impl Write, env: &mut Env) -> anyhow::Result<()> {
        // TLS files first: a bad one fails before the models load.
        let tls = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(load_server_config(cert, key)?),
            _ => None,
        };
        let auth = match &self.token_env {
            None => None,
            Some(var) => match std::env::var(var) {
                Ok(t) if !t.is_empty() => Some(BearerAuth::new(t, crate::cloud::error)),
                Ok(_) => anyhow::bail!("--token-env {var}: the variable is empty"),
                Err(_) => {
                    anyhow::bail!("--token-env {var}: the variable is not set (or not UTF-8)")
                }
            },
        };
        let models_dir = self.model_args.models_dir()?;
        let options = RuntimeOptions {
            models_dir: Some(models_dir.clone()),
            ..self.model_args.runtime_options()
        };
        let workers = self.workers.map_or_else(default_workers, usize::from);
        let queue = self
            .queue
            .map_or(workers.saturating_mul(QUEUE_PER_WORKER), usize::from);
        let pipeline = self.model_args.pipeline(&models_dir)?;
        let state = Arc::new(
            CloudState::load_workers(&models_dir, &pipeline, &options, workers)?.with_queue(queue),
        );
        let limits = Limits {
            header_read_timeout: self.header_timeout,
            idle_timeout: self.idle_timeout,
            request_timeout: self.request_timeout,
            max_connections: self.max_connections as usize,
            shutdown_grace: self.shutdown_grace,
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        let listener = rt
            .block_on(tokio::net::TcpListener::bind(&self.listen))
            .with_context(|| format!("cannot listen on {}", self.listen))?;
        let addr = listener.local_addr().context("bound address")?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://{addr}");
        if self.json {
            let models: Vec<serde_json::Value> = state
                .models()
                .iter()
                .map(|m| {
                    let t = |specs: &[msao_agent::host::oip::TensorSpec]| -> Vec<serde_json::Value> {
                        specs
                            .iter()
                            .map(|s| {
                                serde_json::json!({
                                    "name": s.name, "datatype": s.datatype.wire_name(), "shape": s.shape
                                })
                            })
                            .collect()
                    };
                    serde_json::json!({
                        "name": m.metadata.name,
                        "inputs": t(&m.metadata.inputs),
                        "outputs": t(&m.metadata.outputs),
                    })
                })
                .collect();
            writeln!(
                out,
                "{}",
                serde_json::json!({
                    "event": "listening",
                    "url": url,
                    "workers": state.workers(),
                    "models": models,
                })
            )?;
        } else {
            writeln!(out, "listening on {url}")?;
            if !self.quiet {
                for m in state.models() {
                    let t = |specs: &[msao_agent::host::oip::TensorSpec]| -> String {
                        specs
                            .iter()
                            .map(|s| format!("{} {} {:?}", s.name, s.datatype, s.shape))
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                    writeln!(
                        out,
                        "model {:<16} in: {}  out: {}",
                        m.metadata.name,
                        t(&m.metadata.inputs),
                        t(&m.metadata.outputs)
                    )?;
                }
                writeln!(out, "workers {} (sessions per model)", state.workers())?;
            }
        }
        out.flush()?;

        let flag = env.shutdown.clone();
        let shutdown = async move {
            while !flag.requested() {
                tokio::time::sleep(SHUTDOWN_POLL).await;
            }
        };
        let app = match &auth {
            None => router(Arc::clone(&state)),
            Some(a) => a.protect(router(Arc::clone(&state))),
        };
        let handshake_failures = match tls {
            None => {
                rt.block_on(serve_with(listener, app, limits, shutdown))?;
                None
            }
            Some(config) => {
                let _in_runtime = rt.enter();
                let listener = TlsListener::new(listener, config);
                let failures = listener.failures();
                rt.block_on(serve_with(listener, app, limits, shutdown))?;
                Some(failures.load(Ordering::Relaxed))
            }
        };
        // Model runs still going (their clients were cut off) get the grace period too.
        rt.shutdown_timeout(self.shutdown_grace);
        let unauthorized = auth.as_ref().map(BearerAuth::rejected);

        if self.json {
            let stats: serde_json::Map<String, serde_json::Value> = state
                .models()
                .iter()
                .map(|m| {
                    (
                        m.metadata.name.clone(),
                        serde_json::to_value(m.counters.stats()).unwrap_or_default(),
                    )
                })
                .collect();
            writeln!(
                out,
                "{}",
                serde_json::json!({
                    "event": "stopped",
                    "workers": state.workers(),
                    "models": stats,
                    "tls_handshake_failures": handshake_failures,
                    "unauthorized": unauthorized,
                })
            )?;
        } else if !self.quiet {
            for m in state.models() {
                let s = m.counters.stats();
                writeln!(
                    out,
                    "{:<16} {} requests, {} served, {} errors ({} invalid requests, {} busy), at most {} at once",
                    m.metadata.name,
                    s.requests,
                    s.served,
                    s.errors,
                    s.bad_requests,
                    s.busy,
                    s.max_concurrent
                )?;
            }
            if let Some(n) = handshake_failures {
                writeln!(out, "TLS handshakes failed: {n}")?;
            }
            if let Some(n) = unauthorized {
                writeln!(out, "requests without the bearer token: {n}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::{HEADER_READ_TIMEOUT, IDLE_TIMEOUT, REQUEST_TIMEOUT, SHUTDOWN_GRACE};
    use clap::Parser as _;

    #[derive(clap::Parser)]
    struct Wrap {
        #[command(flatten)]
        cmd: Cmd,
    }

    #[test]
    fn the_flag_defaults_are_the_documented_limits() {
        let c = Wrap::try_parse_from(["cloud"]).unwrap().cmd;
        assert_eq!(c.header_timeout, HEADER_READ_TIMEOUT);
        assert_eq!(c.idle_timeout, IDLE_TIMEOUT);
        assert_eq!(c.request_timeout, REQUEST_TIMEOUT);
        assert_eq!(c.shutdown_grace, SHUTDOWN_GRACE);
        assert_eq!(c.max_connections as usize, MAX_CONNECTIONS);
        assert!(Wrap::try_parse_from(["cloud", "--header-timeout", "0s"]).is_err());
        assert!(Wrap::try_parse_from(["cloud", "--max-connections", "0"]).is_err());
    }
}
