//! `msao-host cloud`: serve the cloud models over the Open Inference Protocol v2 until
//! Ctrl-C / SIGTERM. The first stdout line is `listening on http://ADDR` (with `--json`, a
//! JSON object whose `url` is that address): tests and the bench read it to find the port.

use crate::cloud::{CloudState, serve};
use crate::env::Env;
use anyhow::Context as _;
use msao_agent::runtime::RuntimeOptions;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

/// Serve the cloud models over OIP v2 (REST, binary and JSON tensors).
#[derive(Debug, Clone, clap::Args)]
pub struct Cmd {
    /// Address to listen on; port 0 picks a free port (printed on the first line).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8000")]
    pub listen: String,
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
        let models_dir = self.model_args.models_dir()?;
        let options = RuntimeOptions {
            models_dir: Some(models_dir.clone()),
            ..self.model_args.runtime_options()
        };
        let state = Arc::new(CloudState::load_with(&models_dir, &options)?);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        let listener = rt
            .block_on(tokio::net::TcpListener::bind(&self.listen))
            .with_context(|| format!("cannot listen on {}", self.listen))?;
        let addr = listener.local_addr().context("bound address")?;
        let url = format!("http://{addr}");
        if self.json {
            let models: Vec<serde_json::Value> = state
                .models()
                .iter()
                .map(|m| {
                    let t = |specs: &[msao_agent::cloud::TensorSpec]| -> Vec<serde_json::Value> {
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
                serde_json::json!({ "event": "listening", "url": url, "models": models })
            )?;
        } else {
            writeln!(out, "listening on {url}")?;
            if !self.quiet {
                for m in state.models() {
                    let t = |specs: &[msao_agent::cloud::TensorSpec]| -> String {
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
            }
        }
        out.flush()?;

        let flag = env.shutdown.clone();
        let shutdown = async move {
            while !flag.requested() {
                tokio::time::sleep(SHUTDOWN_POLL).await;
            }
        };
        rt.block_on(serve(listener, Arc::clone(&state), shutdown))?;

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
                serde_json::json!({ "event": "stopped", "models": stats })
            )?;
        } else if !self.quiet {
            for m in state.models() {
                let s = m.counters.stats();
                writeln!(
                    out,
                    "{:<16} {} requests, {} served, {} errors",
                    m.metadata.name, s.requests, s.served, s.errors
                )?;
            }
        }
        Ok(())
    }
}
