//! The emulated link of `msao-host bench`: a network namespace holding the cloud, a veth
//! pair rate-limited with `tc tbf` in both directions, and a user-space delay proxy
//! (`netem` does not exist on these kernels) that adds half the round trip each way.

use anyhow::{Context as _, bail};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Addresses on the veth pair (a /30 unlikely to collide with real networks).
pub const HOST_ADDR: &str = "10.213.77.1";
/// The cloud's address inside the namespace.
pub const CLOUD_ADDR: &str = "10.213.77.2";

/// A namespace with a veth pair; removed on drop.
pub struct Netns {
    name: String,
    host_if: String,
    ns_if: String,
}

fn ip(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run `ip {}`", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn tc(ns: Option<&str>, args: &[&str]) -> anyhow::Result<()> {
    let mut cmd = match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, "tc"]);
            c
        }
        None => Command::new("tc"),
    };
    let out = cmd
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run `tc {}`", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "`tc {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

impl Netns {
    /// Creates the namespace and the veth pair (needs CAP_NET_ADMIN).
    pub fn create() -> anyhow::Result<Self> {
        let id = std::process::id() % 100_000;
        let n = Self {
            name: format!("msao-bench-{id}"),
            host_if: format!("mb{id}a"),
            ns_if: format!("mb{id}b"),
        };
        ip(&["netns", "add", &n.name]).context(
            "cannot create a network namespace (run as root or with CAP_NET_ADMIN, or pass --no-netns)",
        )?;
        let setup = || -> anyhow::Result<()> {
            ip(&[
                "link", "add", &n.host_if, "type", "veth", "peer", "name", &n.ns_if,
            ])?;
            ip(&["link", "set", &n.ns_if, "netns", &n.name])?;
            ip(&["addr", "add", &format!("{HOST_ADDR}/30"), "dev", &n.host_if])?;
            ip(&["link", "set", &n.host_if, "up"])?;
            let inside = |args: &[&str]| {
                let mut a = vec!["netns", "exec", &n.name, "ip"];
                a.extend_from_slice(args);
                ip(&a)
            };
            inside(&["addr", "add", &format!("{CLOUD_ADDR}/30"), "dev", &n.ns_if])?;
            inside(&["link", "set", &n.ns_if, "up"])?;
            inside(&["link", "set", "lo", "up"])?;
            // Keep segments small so tbf's burst is not dominated by offload super-packets
            // (best effort: older kernels lack the attribute).
            let _ = ip(&["link", "set", "dev", &n.host_if, "gso_max_size", "16384"]);
            let _ = inside(&["link", "set", "dev", &n.ns_if, "gso_max_size", "16384"]);
            Ok(())
        };
        setup()?;
        Ok(n)
    }

    /// The namespace's name (for `ip netns exec`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sets the rate of both directions with `tc tbf`.
    pub fn set_rate(&self, mbps: f64) -> anyhow::Result<()> {
        let rate = format!("{}kbit", (mbps * 1000.0).round() as u64);
        // Burst: at least one 16 KiB segment plus headroom, else ~1 ms of traffic.
        let burst = format!("{}", ((mbps * 1e6 / 8.0 / 1000.0) as u64).max(32 * 1024));
        let args = |dev: &str| -> Vec<String> {
            [
                "qdisc", "replace", "dev", dev, "root", "tbf", "rate", &rate, "burst", &burst,
                "latency", "100ms",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect()
        };
        let a = args(&self.host_if);
        tc(None, &a.iter().map(String::as_str).collect::<Vec<_>>())?;
        let b = args(&self.ns_if);
        tc(
            Some(&self.name),
            &b.iter().map(String::as_str).collect::<Vec<_>>(),
        )?;
        Ok(())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = ip(&["link", "del", &self.host_if]);
        let _ = ip(&["netns", "del", &self.name]);
    }
}

/// Starts a TCP proxy on 127.0.0.1 that forwards to `upstream`, holding every chunk for
/// `one_way` in each direction (so a request/response pays 2 × `one_way` more), and — when
/// `rate_mbps` is set (no netns) — pacing each direction to that rate. Returns its address.
pub async fn start_delay_proxy(
    upstream: SocketAddr,
    one_way: Duration,
    rate_mbps: Option<f64>,
) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot bind the delay proxy")?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                tokio::spawn(pump(cr, sw, one_way, rate_mbps));
                tokio::spawn(pump(sr, cw, one_way, rate_mbps));
            });
        }
    });
    Ok(addr)
}

/// Copies `from` → `to`, each chunk released `delay` after it was read (and paced to
/// `rate_mbps` when set). Chunks keep their order; reading never waits for writing.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
    rate_mbps: Option<f64>,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let writer = tokio::spawn(async move {
        let mut link_free = Instant::now();
        while let Some((due, chunk)) = rx.recv().await {
            let mut release = due;
            if let Some(r) = rate_mbps {
                let tx_time = Duration::from_secs_f64(chunk.len() as f64 * 8.0 / (r * 1e6));
                link_free = link_free.max(Instant::now()) + tx_time;
                release = release.max(link_free);
            }
            tokio::time::sleep_until(release).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    });
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if tx
                    .send((Instant::now() + delay, buf[..n].to_vec()))
                    .is_err()
                {
                    break;
                }
            }
        }
    }
    drop(tx);
    let _ = writer.await;
}
