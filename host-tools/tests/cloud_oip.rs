//! The OIP v2 cloud client (`msao_agent::host::oip`) against the reference endpoint
//! (`msao_host::cloud`, served in-process on 127.0.0.1:0) and against small fake servers
//! (timeouts, 5xx, malformed bodies, wrong output shapes, bearer tokens).
//!
//! Needs `libonnxruntime.so` and the models (`scripts/setup.sh`). TLS: `cloud_tls.rs`.

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use image::ImageEncoder as _;
use msao::compact;
use msao::message::ExecProvider;
use msao_agent::host::inference::CloudHead;
use msao_agent::host::models::{ModelCatalog, OrtRuntime, RuntimeOptions};
use msao_agent::host::oip::{
    CloudClient, CloudConfig, CloudError, CloudFaultKind, DataType, InferTensor, TensorData,
    TensorFormat, codec,
};
use msao_host::cloud::{CloudState, serve};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(30);

fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models")
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware-agent/tests/fixtures/golden")
}

fn golden() -> Value {
    let text = std::fs::read_to_string(golden_dir().join("golden.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The shared reference server: loaded once, served on its own runtime thread.
struct Server {
    url: String,
    state: Arc<CloudState>,
}

static SERVER: OnceLock<Server> = OnceLock::new();
/// Held by every test that infers on the shared server, so counter checks see only their
/// own requests.
static INFER_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn server() -> &'static Server {
    SERVER.get_or_init(|| {
        let state = Arc::new(CloudState::load(&models_dir()).unwrap_or_else(|e| {
            panic!("{e:#}\n(run scripts/setup.sh for ONNX Runtime and the models)")
        }));
        let (tx, rx) = std::sync::mpsc::channel();
        let st = Arc::clone(&state);
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                serve(listener, st, std::future::pending()).await.unwrap();
            });
        });
        let addr = rx.recv().unwrap();
        Server {
            url: format!("http://{addr}"),
            state,
        }
    })
}

fn config(url: &str, model: &str, format: TensorFormat) -> CloudConfig {
    CloudConfig {
        url: url.into(),
        model: model.into(),
        tensor_format: format,
        deadline_ms: 30_000,
        ..CloudConfig::default()
    }
}

fn client(model: &str, format: TensorFormat) -> CloudClient {
    CloudClient::new(&config(&server().url, model, format)).unwrap()
}

/// The golden question embedding and MAS-kept INT8 compact tensor of fixture image `i`.
fn golden_compact(i: usize) -> (Vec<u8>, Vec<f32>, Vec<f32>) {
    let g = golden();
    let image = &g["images"][i];
    let features: Vec<f32> =
        serde_json::from_value(image["edge_int8_features_patch_major"].clone()).unwrap();
    let keep: Vec<bool> = serde_json::from_value(image["edge_int8"]["mas_keep"].clone()).unwrap();
    let question = image["question"].as_str().unwrap();
    let embedding: Vec<f32> =
        serde_json::from_value(g["question_embeddings"][question].clone()).unwrap();
    let kept = keep.iter().filter(|k| **k).count();
    let mut buf = vec![0u8; compact::encoded_len(keep.len(), 32, kept)];
    let n = compact::encode_features(&mut buf, &features, 32, &keep).unwrap();
    buf.truncate(n);
    (buf, embedding, features)
}

fn compact_inputs(bytes: &[u8], question: &[f32]) -> Vec<InferTensor> {
    vec![
        InferTensor::u8("compact", vec![1, bytes.len() as i64], bytes.to_vec()),
        InferTensor::f32("question", vec![1, 384], question.to_vec()),
    ]
}

fn pipeline() -> msao_agent::host::models::PipelineSpec {
    msao_agent::host::models::PipelineSpec::load_default(&models_dir()).unwrap()
}

fn answer_index(answer: &str) -> usize {
    pipeline().head.labels.class_of(answer).unwrap()
}

fn argmax(v: &[f32]) -> usize {
    (0..v.len()).fold(0, |b, i| if v[i] > v[b] { i } else { b })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_reads_metadata_and_detects_binary() {
    let c = client("vqa-cloud", TensorFormat::Auto);
    c.server_ready().await.unwrap();
    c.model_ready().await.unwrap();
    let n = c.connect().await.unwrap();
    assert_eq!(
        n.format,
        TensorFormat::Binary,
        "our server advertises binary_tensor_data"
    );
    assert!(n.server.starts_with("msao-cloud "), "{}", n.server);
    assert_eq!(n.metadata.name, "vqa-cloud");
    assert_eq!(n.metadata.versions, ["1"]);
    let inputs: Vec<(&str, DataType, &[i64])> = n
        .metadata
        .inputs
        .iter()
        .map(|s| (s.name.as_str(), s.datatype, s.shape.as_slice()))
        .collect();
    assert_eq!(
        inputs,
        [
            ("compact", DataType::U8, &[1, -1][..]),
            ("question", DataType::F32, &[1, 384][..])
        ]
    );
    assert_eq!(n.metadata.outputs[0].name, "logits");
    assert_eq!(n.metadata.outputs[0].shape, [1, 13]);
    assert_eq!(c.metadata().await.unwrap(), n.metadata);
    // Versioned paths answer too; an unknown version or model is a 404.
    let mut cfg = config(&server().url, "vqa-full", TensorFormat::Json);
    cfg.model_version = Some("1".into());
    let n = CloudClient::new(&cfg).unwrap().connect().await.unwrap();
    assert_eq!(n.format, TensorFormat::Json, "an explicit format wins");
    let inputs: Vec<_> = n
        .metadata
        .inputs
        .iter()
        .map(|t| (t.name.as_str(), t.datatype, t.shape.as_slice()))
        .collect();
    assert_eq!(
        inputs,
        [
            ("image", DataType::Bytes, &[1][..]),
            ("question", DataType::Bytes, &[1][..])
        ],
        "vqa-full takes an encoded image and the question text"
    );
    cfg.model_version = Some("2".into());
    let e = CloudClient::new(&cfg).unwrap().connect().await.unwrap_err();
    assert!(matches!(e, CloudError::Status { code: 404, .. }), "{e}");
    assert_eq!(e.kind(), CloudFaultKind::Rejected);
    let e = client("no-such-model", TensorFormat::Auto)
        .connect()
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("unknown model `no-such-model`"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vqa_cloud_binary_and_json_match_the_cloud_head() {
    let _g = INFER_LOCK.lock().await;
    let (bytes, question, _) = golden_compact(0);
    let binary = client("vqa-cloud", TensorFormat::Binary)
        .infer(compact_inputs(&bytes, &question), DEADLINE)
        .await
        .unwrap();
    let json = client("vqa-cloud", TensorFormat::Json)
        .infer(compact_inputs(&bytes, &question), DEADLINE)
        .await
        .unwrap();
    assert_eq!(binary.format, TensorFormat::Binary);
    assert_eq!(json.format, TensorFormat::Json);
    assert_eq!(binary.f32("logits").unwrap(), json.f32("logits").unwrap());
    assert_eq!(binary.outputs[0].shape, [1, 13]);
    assert!(
        json.bytes_up > binary.bytes_up,
        "JSON numbers are bigger than raw bytes"
    );
    // Binary up: JSON header + compact bytes + 384 × 4; down: header + 13 × 4.
    assert!(binary.bytes_up > bytes.len() + 384 * 4);
    assert!(binary.bytes_down > 13 * 4);

    let runtime = OrtRuntime::new(&RuntimeOptions::default()).unwrap();
    let catalog = ModelCatalog::load_dir(&models_dir()).unwrap();
    let mut head =
        CloudHead::from_catalog(&runtime, &catalog, &pipeline(), ExecProvider::Cpu).unwrap();
    let direct = head.run(&bytes, &question).unwrap();
    let served = binary.f32("logits").unwrap();
    assert_eq!(direct.logits.len(), served.len());
    for (a, b) in direct.logits.iter().zip(served) {
        assert!((a - b).abs() <= 1e-4 * a.abs().max(1.0), "{a} vs {b}");
    }
    let g = golden();
    assert_eq!(
        argmax(served),
        answer_index(g["images"][0]["easy_vqa_answer"].as_str().unwrap())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vqa_cloud_dense_answers_from_dense_features() {
    let _g = INFER_LOCK.lock().await;
    let g = golden();
    for i in 0..2 {
        let (_, question, features) = golden_compact(i);
        for format in [TensorFormat::Binary, TensorFormat::Json] {
            let reply = client("vqa-cloud-dense", format)
                .infer(
                    vec![
                        InferTensor::f32("features", vec![1, 16, 32], features.clone()),
                        InferTensor::f32("question", vec![1, 384], question.clone()),
                    ],
                    DEADLINE,
                )
                .await
                .unwrap();
            let want = answer_index(g["images"][i]["easy_vqa_answer"].as_str().unwrap());
            assert_eq!(
                argmax(reply.f32("logits").unwrap()),
                want,
                "image {i} {format:?}"
            );
        }
    }
}

/// `vqa-full`'s inputs: an encoded image file and the question text.
fn full_inputs(image: &[u8], question: &[u8]) -> Vec<InferTensor> {
    vec![
        InferTensor::bytes("image", vec![1], vec![image.to_vec()]),
        InferTensor::bytes("question", vec![1], vec![question.to_vec()]),
    ]
}

/// `png` re-encoded as a quality-90 JPEG, as applications send frames.
fn jpeg_of(png: &[u8]) -> Vec<u8> {
    let rgb = image::load_from_memory(png).unwrap().to_rgb8();
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(&rgb)
        .unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vqa_full_answers_the_golden_frames_as_png_and_jpeg() {
    let _g = INFER_LOCK.lock().await;
    let g = golden();
    let c = client("vqa-full", TensorFormat::Binary);
    for (i, image) in g["images"].as_array().unwrap().iter().enumerate() {
        let png = std::fs::read(golden_dir().join(image["file"].as_str().unwrap())).unwrap();
        let jpeg = jpeg_of(&png);
        assert_eq!(&jpeg[..2], [0xff, 0xd8], "a JPEG file");
        let question = image["question"].as_str().unwrap().as_bytes();
        let want = answer_index(image["easy_vqa_answer"].as_str().unwrap());
        let from_png = c
            .infer(full_inputs(&png, question), DEADLINE)
            .await
            .unwrap();
        assert_eq!(
            argmax(from_png.f32("logits").unwrap()),
            want,
            "image {i} PNG"
        );
        assert!(from_png.bytes_up > png.len(), "the file itself is sent");
        let from_jpeg = c
            .infer(full_inputs(&jpeg, question), DEADLINE)
            .await
            .unwrap();
        assert_eq!(
            argmax(from_jpeg.f32("logits").unwrap()),
            want,
            "image {i}: the JPEG gets the PNG's answer"
        );
        assert!(from_jpeg.bytes_up > jpeg.len());
    }
    // JSON carries BYTES as UTF-8 strings only: an image file needs the binary format.
    let png = std::fs::read(golden_dir().join("easyvqa-test-0.png")).unwrap();
    let e = client("vqa-full", TensorFormat::Json)
        .infer(full_inputs(&png, b"what is the red shape?"), DEADLINE)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), CloudFaultKind::Config, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vqa_full_refuses_bad_images_with_400_naming_the_tensor() {
    let _g = INFER_LOCK.lock().await;
    let before = server().state.stats("vqa-full");
    let png = std::fs::read(golden_dir().join("easyvqa-test-0.png")).unwrap();
    let mut wide = Vec::new();
    image::codecs::png::PngEncoder::new(&mut wide)
        .write_image(
            &vec![0u8; 4097 * 3],
            4097,
            1,
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (png[..png.len() / 2].to_vec(), "corrupt image"),
        (b"GIF89a not a frame".to_vec(), "not a JPEG or PNG file"),
        (vec![0xff, 0xd8, 0xff, 0xe0, 0, 0], "corrupt image"),
        (wide, "4097×1 image, larger than the 4096×4096 accepted"),
        (
            vec![0; msao_host::cloud::MAX_IMAGE_BYTES + 1],
            "more than the 16777216 accepted",
        ),
    ];
    let n = cases.len() as u64;
    let c = client("vqa-full", TensorFormat::Binary);
    for (bytes, why) in cases {
        let e = c
            .infer(full_inputs(&bytes, b"what shape is it?"), DEADLINE)
            .await
            .unwrap_err();
        match &e {
            CloudError::Status { code: 400, body } => {
                assert!(body.contains("tensor `image`"), "{body}");
                assert!(body.contains(why), "{body}");
            }
            other => panic!("expected a 400 for {why}, got {other}"),
        }
        assert_eq!(e.kind(), CloudFaultKind::BadRequest);
    }
    let after = server().state.stats("vqa-full");
    assert_eq!(after.bad_requests, before.bad_requests + n);
    assert_eq!(after.served, before.served, "none was answered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inputs_are_refused_before_anything_is_sent() {
    let _g = INFER_LOCK.lock().await;
    let c = client("vqa-cloud", TensorFormat::Auto);
    c.connect().await.unwrap();
    let before: Vec<_> = server()
        .state
        .models()
        .iter()
        .map(|m| m.counters.stats())
        .collect();
    let (bytes, question, _) = golden_compact(0);
    let compact = InferTensor::u8("compact", vec![1, bytes.len() as i64], bytes.clone());
    let cases: Vec<(&str, Vec<InferTensor>)> = vec![
        (
            "question",
            vec![
                compact.clone(),
                InferTensor::u8("question", vec![1, 384], vec![0; 384]),
            ],
        ),
        (
            "question",
            vec![
                compact.clone(),
                InferTensor::f32("question", vec![1, 383], vec![0.0; 383]),
            ],
        ),
        (
            "question",
            vec![
                compact.clone(),
                InferTensor::f32("question", vec![384], vec![0.0; 384]),
            ],
        ),
        (
            "question",
            vec![
                compact.clone(),
                InferTensor::f32("question", vec![1, 384], vec![0.0; 10]),
            ],
        ),
        ("question", vec![compact.clone()]),
        (
            "extra",
            vec![
                compact.clone(),
                InferTensor::f32("question", vec![1, 384], question.clone()),
                InferTensor::f32("extra", vec![1], vec![0.0]),
            ],
        ),
        (
            "compact",
            vec![
                InferTensor::u8("compact", vec![2, bytes.len() as i64], bytes.clone()),
                InferTensor::f32("question", vec![1, 384], question.clone()),
            ],
        ),
    ];
    for (tensor, inputs) in cases {
        let e = c.infer(inputs, DEADLINE).await.unwrap_err();
        assert_eq!(e.kind(), CloudFaultKind::WrongShape, "{e}");
        match &e {
            CloudError::Shape { tensor: t, .. } => assert_eq!(t, tensor, "{e}"),
            other => panic!("expected Shape, got {other}"),
        }
    }
    let after: Vec<_> = server()
        .state
        .models()
        .iter()
        .map(|m| m.counters.stats())
        .collect();
    assert_eq!(before, after, "no infer request reached the server");

    // A valid request does move the counter: the check above can fail.
    c.infer(compact_inputs(&bytes, &question), DEADLINE)
        .await
        .unwrap();
    let s = server().state.stats("vqa-cloud");
    assert_eq!(s.requests, before[0].requests + 1);
    assert_eq!(s.served, before[0].served + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_rejects_a_malformed_compact_tensor_with_400() {
    let _g = INFER_LOCK.lock().await;
    let errors = server().state.stats("vqa-cloud").errors;
    let (_, question, _) = golden_compact(0);
    for format in [TensorFormat::Binary, TensorFormat::Json] {
        let e = client("vqa-cloud", format)
            .infer(compact_inputs(&[0x4d, 0x43, 9, 9, 9], &question), DEADLINE)
            .await
            .unwrap_err();
        match &e {
            CloudError::Status { code: 400, body } => {
                assert!(body.contains("tensor `compact`"), "{body}")
            }
            other => panic!("expected a 400, got {other}"),
        }
        // The request was at fault: a bad request, not a malformed answer.
        assert_eq!(e.kind(), CloudFaultKind::BadRequest);
        assert!(!e.to_string().contains("malformed"), "{e}");
    }
    assert_eq!(server().state.stats("vqa-cloud").errors, errors + 2);
    // Non-UTF-8 question text for vqa-full: binary carries it, the server refuses it (before
    // it looks at the image, here not one).
    let e = client("vqa-full", TensorFormat::Binary)
        .infer(full_inputs(b"not an image", &[0xff, 0xfe]), DEADLINE)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("tensor `question`"), "{e}");
    // JSON cannot carry it: a config error before sending.
    let e = client("vqa-full", TensorFormat::Json)
        .infer(full_inputs(b"not an image", &[0xff, 0xfe]), DEADLINE)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), CloudFaultKind::Config, "{e}");
}

/// One raw HTTP/1.1 exchange: (head, body).
async fn raw_post(path: &str, headers: &str, body: &[u8]) -> (String, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = server().url.trim_start_matches("http://").to_owned();
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).await.unwrap();
    let split = reply.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    (
        String::from_utf8_lossy(&reply[..split]).to_lowercase(),
        reply[split + 4..].to_vec(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_answers_in_the_form_asked_for() {
    let _g = INFER_LOCK.lock().await;
    let (bytes, question, _) = golden_compact(0);
    let inputs = compact_inputs(&bytes, &question);
    let path = "/v2/models/vqa-cloud/versions/1/infer";
    // JSON in, nothing asked: JSON out.
    let body = codec::encode_request(&inputs, &[], false).unwrap();
    let (head, reply) = raw_post(path, "Content-Type: application/json\r\n", &body.bytes).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(!head.contains("inference-header-content-length"), "{head}");
    let json: Value = serde_json::from_slice(&reply).unwrap();
    assert_eq!(json["model_name"], "vqa-cloud");
    assert_eq!(json["model_version"], "1");
    assert_eq!(json["outputs"][0]["data"].as_array().unwrap().len(), 13);
    // JSON in, binary_data_output: binary out.
    let mut req: Value = serde_json::from_slice(&body.bytes).unwrap();
    req["parameters"] = json!({"binary_data_output": true});
    req["id"] = json!("r-7");
    let (head, reply) = raw_post(path, "", &serde_json::to_vec(&req).unwrap()).await;
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("inference-header-content-length: "))
        .unwrap_or_else(|| panic!("{head}"))
        .trim()
        .parse()
        .unwrap();
    let (header, outputs) = codec::decode_response(&reply, Some(len)).unwrap();
    assert_eq!(header.id.as_deref(), Some("r-7"));
    assert_eq!(reply.len() - len, 13 * 4);
    assert_eq!(outputs[0].name, "logits");
    // Binary header length past the body: 400 naming it.
    let (head, reply) = raw_post(path, "Inference-Header-Content-Length: 99999\r\n", b"{}").await;
    assert!(head.starts_with("http/1.1 400"), "{head}");
    assert!(String::from_utf8_lossy(&reply).contains("inference-header-content-length"));
    // A body that is not JSON: the server says the request is invalid, not "malformed cloud
    // answer" (it is no answer at all), and counts it as a bad request.
    let bad_before = server().state.stats("vqa-cloud").bad_requests;
    let (head, reply) = raw_post(path, "", b"{not json").await;
    assert!(head.starts_with("http/1.1 400"), "{head}");
    let text = String::from_utf8_lossy(&reply);
    assert!(
        text.contains("invalid infer request: request JSON"),
        "{text}"
    );
    assert!(!text.contains("malformed cloud answer"), "{text}");
    assert_eq!(
        server().state.stats("vqa-cloud").bad_requests,
        bad_before + 1
    );
    // An output the model does not have.
    req["outputs"] = json!([{"name": "probabilities"}]);
    let (head, reply) = raw_post(path, "", &serde_json::to_vec(&req).unwrap()).await;
    assert!(head.starts_with("http/1.1 400"), "{head}");
    assert!(String::from_utf8_lossy(&reply).contains("probabilities"));
}

#[test]
fn config_validation_and_fault_kinds() {
    // The model has no default (the agent takes it from its pipeline): without one only
    // the endpoint validates.
    let e = CloudConfig::default().validate().unwrap_err();
    assert!(e.to_string().contains("model is empty"), "{e}");
    CloudConfig::default().validate_endpoint().unwrap();
    let named = || CloudConfig {
        model: "vqa-cloud".into(),
        ..CloudConfig::default()
    };
    assert!(named().validate().is_ok());
    let bad = [
        CloudConfig {
            url: "ftp://x".into(),
            ..named()
        },
        CloudConfig {
            url: "not a url".into(),
            ..named()
        },
        CloudConfig {
            model: String::new(),
            ..named()
        },
        CloudConfig {
            model: "a/b".into(),
            ..named()
        },
        CloudConfig {
            deadline_ms: 0,
            ..named()
        },
        CloudConfig {
            ca_file: Some("/no/such/ca.pem".into()),
            ..named()
        },
        CloudConfig {
            bearer_token_env: Some("MSAO_TEST_TOKEN_VARIABLE_THAT_IS_NOT_SET".into()),
            ..named()
        },
    ];
    for c in bad {
        let e = CloudClient::new(&c).unwrap_err();
        assert_eq!(e.kind(), CloudFaultKind::Config, "{c:?}: {e}");
    }
    let cfg: CloudConfig =
        toml_like(r#"{"url":"https://cloud.example:8443","tensor_format":"binary"}"#);
    assert_eq!(cfg.tensor_format, TensorFormat::Binary);
    assert_eq!(cfg.model, "", "no model unless given");
    assert_eq!(cfg.deadline_ms, 250);
    assert!(serde_json::from_str::<CloudConfig>(r#"{"urll":"x"}"#).is_err());
    let names: Vec<&str> = CloudFaultKind::ALL.iter().map(|k| k.name()).collect();
    assert_eq!(
        names,
        [
            "unreachable",
            "timeout",
            "server-error",
            "rejected",
            "busy",
            "bad-request",
            "malformed",
            "wrong-shape",
            "config"
        ]
    );
    assert_eq!(
        CloudError::status(503, br#"{"error":"busy"}"#).to_string(),
        "cloud answered HTTP 503: busy"
    );
    assert!(matches!(
        DataType::from_wire("FP8"),
        Err(CloudError::Malformed { detail }) if detail.contains("FP8")
    ));
}

fn toml_like(json: &str) -> CloudConfig {
    serde_json::from_str(json).unwrap()
}

// ---------------------------------------------------------------------------------------
// Fake servers: one model `fake`, input `x` FP32 [1, 2], output `y` FP32 [1, 2].
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy)]
enum Fake {
    Echo,
    Sleep,
    Status500,
    NotJson,
    WrongShape,
}

async fn fake(mode: Fake, seen_auth: Arc<Mutex<Vec<String>>>) -> String {
    let meta = json!({
        "name": "fake", "versions": ["1"], "platform": "test",
        "inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 2]}],
        "outputs": [{"name": "y", "datatype": "FP32", "shape": [1, -1]}],
    });
    let app = Router::new()
        .route(
            "/v2",
            get(|| async { axum::Json(json!({"name": "fake", "version": "0", "extensions": []})) }),
        )
        .route("/v2/health/ready", get(|| async { StatusCode::OK }))
        .route("/v2/models/fake/ready", get(|| async { StatusCode::OK }))
        .route("/v2/models/fake", get(move || async move { axum::Json(meta) }))
        .route(
            "/v2/models/fake/infer",
            post(move |headers: HeaderMap, body: axum::body::Bytes| async move {
                if let Some(a) = headers.get("authorization") {
                    seen_auth.lock().unwrap().push(a.to_str().unwrap().to_owned());
                }
                let req: Value = serde_json::from_slice(&body).unwrap();
                let x = req["inputs"][0]["data"].clone();
                match mode {
                    Fake::Echo => axum::Json(json!({
                        "model_name": "fake",
                        "outputs": [{"name": "y", "datatype": "FP32", "shape": [1, 2], "data": x}]
                    }))
                    .into_response(),
                    Fake::Sleep => {
                        tokio::time::sleep(Duration::from_secs(60)).await;
                        StatusCode::OK.into_response()
                    }
                    Fake::Status500 => (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        axum::Json(json!({"error": "model crashed"})),
                    )
                        .into_response(),
                    Fake::NotJson => "{\"model_name\": \"fake\", \"outputs\": [".into_response(),
                    Fake::WrongShape => axum::Json(json!({
                        "model_name": "fake",
                        "outputs": [{"name": "y", "datatype": "FP32", "shape": [2, 2], "data": [1, 2, 3, 4]}]
                    }))
                    .into_response(),
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn x() -> Vec<InferTensor> {
    vec![InferTensor::f32("x", vec![1, 2], vec![0.5, -1.25])]
}

async fn fake_client(mode: Fake, token: Option<&str>) -> (CloudClient, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let url = fake(mode, Arc::clone(&seen)).await;
    let mut cfg = config(&url, "fake", TensorFormat::Auto);
    cfg.bearer_token = token.map(str::to_owned);
    (CloudClient::new(&cfg).unwrap(), seen)
}

#[tokio::test]
async fn fake_echo_uses_json_and_sends_the_bearer_token() {
    let (c, seen) = fake_client(Fake::Echo, Some("s3cret")).await;
    let reply = c.infer(x(), DEADLINE).await.unwrap();
    assert_eq!(
        reply.format,
        TensorFormat::Json,
        "no binary_tensor_data extension"
    );
    assert_eq!(reply.f32("y").unwrap(), [0.5, -1.25]);
    assert!(matches!(reply.outputs[0].data, TensorData::F32(_)));
    assert_eq!(*seen.lock().unwrap(), ["Bearer s3cret"]);

    // The token from an environment variable (cargo sets CARGO_PKG_NAME for tests).
    let seen = Arc::new(Mutex::new(Vec::new()));
    let url = fake(Fake::Echo, Arc::clone(&seen)).await;
    let mut cfg = config(&url, "fake", TensorFormat::Json);
    cfg.bearer_token_env = Some("CARGO_PKG_NAME".into());
    CloudClient::new(&cfg)
        .unwrap()
        .infer(x(), DEADLINE)
        .await
        .unwrap();
    assert_eq!(*seen.lock().unwrap(), ["Bearer msao-host"]);
}

#[tokio::test]
async fn fake_sleep_is_a_timeout() {
    let (c, _) = fake_client(Fake::Sleep, None).await;
    c.connect().await.unwrap();
    let e = c.infer(x(), Duration::from_millis(200)).await.unwrap_err();
    assert!(matches!(e, CloudError::Timeout { after_ms: 200 }), "{e}");
    assert_eq!(e.kind(), CloudFaultKind::Timeout);
}

#[tokio::test]
async fn fake_500_is_a_server_error_with_its_text() {
    let (c, _) = fake_client(Fake::Status500, None).await;
    let e = c.infer(x(), DEADLINE).await.unwrap_err();
    assert_eq!(e.kind(), CloudFaultKind::ServerError);
    assert!(
        matches!(&e, CloudError::Status { code: 500, body } if body == "model crashed"),
        "{e}"
    );
}

#[tokio::test]
async fn fake_truncated_json_is_malformed() {
    let (c, _) = fake_client(Fake::NotJson, None).await;
    let e = c.infer(x(), DEADLINE).await.unwrap_err();
    assert_eq!(e.kind(), CloudFaultKind::Malformed, "{e}");
}

#[tokio::test]
async fn fake_wrong_output_shape_is_wrong_shape() {
    let (c, _) = fake_client(Fake::WrongShape, None).await;
    let e = c.infer(x(), DEADLINE).await.unwrap_err();
    assert_eq!(e.kind(), CloudFaultKind::WrongShape, "{e}");
    assert!(
        matches!(&e, CloudError::Shape { tensor, .. } if tensor == "y"),
        "{e}"
    );
}

#[tokio::test]
async fn closed_port_is_unreachable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let c = CloudClient::new(&config(&url, "fake", TensorFormat::Auto)).unwrap();
    let e = c.infer(x(), DEADLINE).await.unwrap_err();
    assert_eq!(e.kind(), CloudFaultKind::Unreachable, "{e}");
    assert!(
        matches!(&e, CloudError::Unreachable { url: u, .. } if u.starts_with(&url)),
        "{e}"
    );
}

/// The `cloud` command: first stdout line `listening on http://ADDR`, serves, stops on the
/// shutdown flag and prints the per-model counts.
#[test]
fn cloud_command_prints_its_address_first_and_stops_cleanly() {
    use clap::Parser;
    use msao_host::cmd::{Cli, Command};
    use msao_host::env::Env;

    struct Lines(std::sync::mpsc::Sender<Vec<u8>>);
    impl std::io::Write for Lines {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            let _ = self.0.send(b.to_vec());
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    let models = models_dir();
    let cli = Cli::try_parse_from([
        "msao-host",
        "cloud",
        "--listen",
        "127.0.0.1:0",
        "--models",
        models.to_str().unwrap(),
    ])
    .unwrap();
    assert!(matches!(cli.command, Command::Cloud(_)));
    let (mut env, _err) = Env::captured();
    let stop = env.shutdown.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || cli.command.run(&mut Lines(tx), &mut env));
    let mut text = String::new();
    while !text.contains('\n') {
        text.push_str(&String::from_utf8(rx.recv().unwrap()).unwrap());
    }
    let first = text.lines().next().unwrap().to_owned();
    let url = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{first}"));
    assert!(
        url.starts_with("http://127.0.0.1:") && !url.ends_with(":0"),
        "{url}"
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let n = rt
        .block_on(
            CloudClient::new(&config(url, "vqa-cloud-dense", TensorFormat::Auto))
                .unwrap()
                .connect(),
        )
        .unwrap();
    assert_eq!(n.metadata.inputs[0].shape, [1, 16, 32]);
    stop.request();
    handle.join().unwrap().unwrap();
    let rest: String = rx.iter().map(|b| String::from_utf8(b).unwrap()).collect();
    let all = text + &rest;
    for model in ["vqa-cloud", "vqa-cloud-dense", "vqa-full"] {
        assert!(all.contains(&format!("model {model} ")), "{all}");
    }
    assert!(all.contains("0 requests"), "{all}");
}
