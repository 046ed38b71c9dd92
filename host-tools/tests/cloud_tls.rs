//! TLS between the agent's OIP v2 client (reqwest + rustls) and the reference endpoint
//! served over HTTPS (`msao_host::cloud::TlsListener`, `msao-host cloud --tls-cert/--tls-key`),
//! also behind a bearer token (`--token-env`).
//!
//! Certificates are made per test run with rcgen: a CA, and a server certificate it signs
//! for `localhost` only, so a client that connects to `127.0.0.1` must refuse it. Also:
//! a client reuses its connections across calls, over HTTP and HTTPS.
//! Needs `libonnxruntime.so` and the models (`scripts/setup.sh`).

use msao_agent::host::oip::{
    CloudClient, CloudConfig, CloudError, CloudFaultKind, InferTensor, TensorFormat,
};
use msao_host::cloud::{CloudState, TlsListener, load_server_config, serve};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tempfile::TempDir;

const DEADLINE: Duration = Duration::from_secs(30);

fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models")
}

/// PEM files in a temporary folder: the CA, the server's chain and key, and a second,
/// unrelated key.
struct Certs {
    dir: TempDir,
}

impl Certs {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn certs() -> &'static Certs {
    static CERTS: OnceLock<Certs> = OnceLock::new();
    CERTS.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "MSAO Edge test CA");
        let ca_key = KeyPair::generate().unwrap();
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);

        let mut leaf_params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        leaf_params.use_authority_key_identifier_extension = true;
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();

        let write = |name: &str, text: String| std::fs::write(dir.path().join(name), text).unwrap();
        write("ca.pem", ca_cert.pem());
        write("server.pem", leaf.pem());
        write("server.key", leaf_key.serialize_pem());
        write("other.key", KeyPair::generate().unwrap().serialize_pem());
        write("empty.pem", String::new());
        Certs { dir }
    })
}

/// The served models, loaded once for every server of these tests.
fn cloud_state() -> Arc<CloudState> {
    static STATE: OnceLock<Arc<CloudState>> = OnceLock::new();
    Arc::clone(STATE.get_or_init(|| {
        Arc::new(CloudState::load(&models_dir()).unwrap_or_else(|e| {
            panic!("{e:#}\n(run scripts/setup.sh for ONNX Runtime and the models)")
        }))
    }))
}

/// One HTTPS endpoint for the in-process tests, on its own runtime thread.
struct Server {
    port: u16,
    handshake_failures: Arc<AtomicU64>,
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let state = cloud_state();
        let c = certs();
        let config = load_server_config(&c.path("server.pem"), &c.path("server.key")).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let port = tcp.local_addr().unwrap().port();
                let listener = TlsListener::new(tcp, config);
                tx.send((port, listener.failures())).unwrap();
                serve(listener, state, std::future::pending())
                    .await
                    .unwrap();
            });
        });
        let (port, handshake_failures) = rx.recv().unwrap();
        Server {
            port,
            handshake_failures,
        }
    })
}

fn config(url: String, ca: Option<PathBuf>) -> CloudConfig {
    CloudConfig {
        url,
        model: "vqa-cloud-dense".into(),
        tensor_format: TensorFormat::Auto,
        deadline_ms: 30_000,
        ca_file: ca,
        ..CloudConfig::default()
    }
}

/// Dense features of 16 patches × 32 and a question embedding: the dense cloud model's
/// inputs, with values that are not all equal so the logits carry information.
fn dense_inputs() -> Vec<InferTensor> {
    let features: Vec<f32> = (0..16 * 32)
        .map(|i| ((i * 37) % 23) as f32 / 23.0)
        .collect();
    let question: Vec<f32> = (0..384)
        .map(|i| ((i * 11) % 17) as f32 / 17.0 - 0.5)
        .collect();
    vec![
        InferTensor::f32("features", vec![1, 16, 32], features),
        InferTensor::f32("question", vec![1, 384], question),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_the_ca_file_negotiates_and_infers() {
    let port = server().port;
    let ca = Some(certs().path("ca.pem"));
    let c = CloudClient::new(&config(format!("https://localhost:{port}"), ca)).unwrap();
    let n = c.connect().await.unwrap();
    assert_eq!(n.metadata.inputs[0].shape, [1, 16, 32]);
    assert_eq!(n.format, TensorFormat::Binary, "the endpoint offers binary");
    let reply = c.infer(dense_inputs(), DEADLINE).await.unwrap();
    let logits = reply.f32("logits").unwrap();
    assert_eq!(reply.outputs[0].shape, [1, 13]);
    assert!(logits.iter().all(|v| v.is_finite()), "{logits:?}");

    // The same request in plain HTTP on the same models gives the same logits: TLS changes
    // the transport only.
    let state = cloud_state();
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let plain = format!("http://{}", tcp.local_addr().unwrap());
    tokio::spawn(serve(tcp, state, std::future::pending()));
    let p = CloudClient::new(&config(plain, None)).unwrap();
    let again = p.infer(dense_inputs(), DEADLINE).await.unwrap();
    assert_eq!(again.f32("logits").unwrap(), logits);
}

#[tokio::test]
async fn a_certificate_from_an_unknown_ca_is_refused() {
    let port = server().port;
    let c = CloudClient::new(&config(format!("https://localhost:{port}"), None)).unwrap();
    let e = c.connect().await.unwrap_err();
    assert!(matches!(&e, CloudError::Tls { .. }), "{e}");
    assert_eq!(e.kind(), CloudFaultKind::Unreachable);
    let text = e.to_string().to_lowercase();
    assert!(
        text.contains("unknownissuer") || text.contains("unknown issuer"),
        "{e}"
    );
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused() {
    // The certificate names `localhost`; the client asked for `127.0.0.1`.
    let port = server().port;
    let ca = Some(certs().path("ca.pem"));
    let c = CloudClient::new(&config(format!("https://127.0.0.1:{port}"), ca)).unwrap();
    let e = c.connect().await.unwrap_err();
    assert!(matches!(&e, CloudError::Tls { .. }), "{e}");
    assert!(e.to_string().contains("not valid for name"), "{e}");
}

#[tokio::test]
async fn plain_http_on_the_tls_port_fails_and_the_server_keeps_serving() {
    let s = server();
    let before = s.handshake_failures.load(Ordering::Relaxed);
    let plain = CloudClient::new(&config(format!("http://127.0.0.1:{}", s.port), None)).unwrap();
    let e = plain.connect().await.unwrap_err();
    assert_eq!(e.kind(), CloudFaultKind::Unreachable, "{e}");
    // The failed handshake is counted (its task may finish just after the client gave up).
    for _ in 0..100 {
        if s.handshake_failures.load(Ordering::Relaxed) > before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(s.handshake_failures.load(Ordering::Relaxed) > before);

    let ca = Some(certs().path("ca.pem"));
    let good = CloudClient::new(&config(format!("https://localhost:{}", s.port), ca)).unwrap();
    good.connect().await.unwrap();
}

/// Serves `state` on `listener`, counting the connections it accepts.
fn counted<L>(listener: L, state: Arc<CloudState>) -> Arc<AtomicU64>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    use axum::serve::ListenerExt as _;
    let accepted = Arc::new(AtomicU64::new(0));
    let n = Arc::clone(&accepted);
    let listener = listener.tap_io(move |_| {
        n.fetch_add(1, Ordering::Relaxed);
    });
    tokio::spawn(serve(listener, state, std::future::pending()));
    accepted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_reuses_its_connections_over_http_and_https() {
    let state = cloud_state();
    let c = certs();
    let tls = load_server_config(&c.path("server.pem"), &c.path("server.key")).unwrap();

    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http_port = tcp.local_addr().unwrap().port();
    let http_accepted = counted(tcp, Arc::clone(&state));
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let https_port = tcp.local_addr().unwrap().port();
    let https_accepted = counted(TlsListener::new(tcp, tls), state);

    let cases = [
        (
            format!("http://127.0.0.1:{http_port}"),
            None,
            &http_accepted,
        ),
        (
            format!("https://localhost:{https_port}"),
            Some(c.path("ca.pem")),
            &https_accepted,
        ),
    ];
    for (url, ca, accepted) in cases {
        let client = CloudClient::new(&config(url.clone(), ca)).unwrap();
        // connect() makes four control calls back to back, then one infer. hyper may open
        // a new connection while the previous one is still being handed back to the pool,
        // so the counts allow a little slack; without reuse every call would open one.
        client.connect().await.unwrap();
        client.infer(dense_inputs(), DEADLINE).await.unwrap();
        let opened = accepted.load(Ordering::Relaxed);
        assert!(
            (1..=3).contains(&opened),
            "{url}: {opened} connections for 5 calls"
        );
        // Every other call through a clone: clones share the pool.
        let clone = client.clone();
        for i in 0..8 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let c = if i % 2 == 0 { &client } else { &clone };
            c.infer(dense_inputs(), DEADLINE).await.unwrap();
        }
        let more = accepted.load(Ordering::Relaxed) - opened;
        assert!(more <= 2, "{url}: {more} new connections for 8 more calls");
    }
}

#[tokio::test]
async fn a_stopped_server_frees_its_port() {
    let c = certs();
    let config = load_server_config(&c.path("server.pem"), &c.path("server.key")).unwrap();
    let state = cloud_state();
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    // Shut down at once: `serve` returns and drops the listener.
    serve(TlsListener::new(tcp, config), state, async {})
        .await
        .unwrap();
    let mut rebound = None;
    for _ in 0..100 {
        match std::net::TcpListener::bind(addr) {
            Ok(l) => {
                rebound = Some(l);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    assert!(
        rebound.is_some(),
        "{addr} still bound after the server stopped"
    );
}

#[test]
fn a_missing_or_empty_ca_file_is_a_config_error_before_any_traffic() {
    let url = "https://localhost:1".to_owned();
    let missing = CloudClient::new(&config(url.clone(), Some(certs().path("nope.pem"))));
    assert!(missing.is_err());
    let e = CloudClient::new(&config(url, Some(certs().path("empty.pem")))).unwrap_err();
    assert!(e.to_string().contains("empty.pem"), "{e}");
}

fn host() -> Command {
    Command::new(env!("CARGO_BIN_EXE_msao-host"))
}

#[test]
fn cloud_command_refuses_bad_tls_files_by_name() {
    let c = certs();
    let cases: [(&str, &str, &str); 3] = [
        ("nope.pem", "server.key", "nope.pem"),
        ("empty.pem", "server.key", "no PEM certificate"),
        ("server.pem", "other.key", "does not fit"),
    ];
    for (cert, key, expect) in cases {
        let out = host()
            .args(["cloud", "--listen", "127.0.0.1:0", "--tls-cert"])
            .arg(c.path(cert))
            .arg("--tls-key")
            .arg(c.path(key))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{cert} {key}: {stderr}");
        assert!(stderr.contains(expect), "{cert} {key}: {stderr}");
        assert!(out.stdout.is_empty(), "nothing served: {:?}", out.stdout);
    }
    // One without the other is a usage error.
    let out = host()
        .args(["cloud", "--tls-cert"])
        .arg(c.path("server.pem"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tls-key"));
}

/// The variable `cloud_command_serves_https_behind_a_bearer_token` passes the token in.
const TOKEN_VAR: &str = "MSAO_TEST_CLOUD_TOKEN";

#[test]
fn cloud_command_serves_https_behind_a_bearer_token() {
    let c = certs();
    let mut child = host()
        .args(["cloud", "--listen", "127.0.0.1:0", "--models"])
        .arg(models_dir())
        .arg("--tls-cert")
        .arg(c.path("server.pem"))
        .arg("--tls-key")
        .arg(c.path("server.key"))
        .args(["--token-env", TOKEN_VAR])
        .env(TOKEN_VAR, "t0k3n-over-tls")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{first}"));
    let port = url
        .strip_prefix("https://127.0.0.1:")
        .unwrap_or_else(|| panic!("{url}"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut cfg = config(format!("https://localhost:{port}"), Some(c.path("ca.pem")));
    let (refused, result) = rt.block_on(async {
        let anonymous = CloudClient::new(&cfg).unwrap().connect().await;
        cfg.bearer_token = Some("t0k3n-over-tls".into());
        let client = CloudClient::new(&cfg).unwrap();
        (anonymous, client.infer(dense_inputs(), DEADLINE).await)
    });
    let stopped = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    let status = child.wait().unwrap();
    let rest: Vec<String> = lines.map(Result::unwrap).collect();

    let e = refused.unwrap_err();
    assert!(matches!(&e, CloudError::Status { code: 401, .. }), "{e}");
    assert_eq!(e.kind(), CloudFaultKind::Rejected);
    assert!(e.to_string().contains("no Authorization header"), "{e}");
    let reply = result.unwrap();
    assert_eq!(reply.outputs[0].shape, [1, 13]);
    assert!(status.success(), "{status}: {rest:?}");
    assert!(
        rest.iter()
            .any(|l| l.starts_with("vqa-cloud-dense") && l.contains("1 requests, 1 served")),
        "{rest:?}"
    );
    for line in [
        "TLS handshakes failed: 0",
        "requests without the bearer token: 1",
    ] {
        assert!(rest.iter().any(|l| l == line), "{line}: {rest:?}");
    }
}

#[test]
fn cloud_command_refuses_an_unset_or_empty_token_variable() {
    for (value, expect) in [(None, "is not set"), (Some(""), "is empty")] {
        let mut cmd = host();
        cmd.args(["cloud", "--listen", "127.0.0.1:0", "--token-env", TOKEN_VAR]);
        match value {
            None => cmd.env_remove(TOKEN_VAR),
            Some(v) => cmd.env(TOKEN_VAR, v),
        };
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(&format!("--token-env {TOKEN_VAR}: the variable {expect}")),
            "{stderr}"
        );
        assert!(out.stdout.is_empty());
    }
}
