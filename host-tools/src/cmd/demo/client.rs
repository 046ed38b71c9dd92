//! The demo's application: it sends the workload's requests to the agent's request API as
//! an application would — each frame as a JPEG data URL (quality 90) in an OpenAI chat
//! completion — with a few requests in flight, and reads each answer back with its `msao`
//! object. Evaluation (expected answer, region IoU) happens here, on the application's
//! side; the agent never sees the expected answers.

use crate::agent::Answer;
use anyhow::Context as _;
use base64::Engine as _;
use msao_agent::host::workload::{Workload, WorkloadRequest};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// JPEG quality of the frames the demo application sends.
pub const JPEG_QUALITY: u8 = 90;
/// Requests the application keeps in flight (a camera app with a small pipeline of its
/// own); below the agent's queue, so none is refused.
pub const IN_FLIGHT: usize = 4;

/// What the application saw.
#[derive(Debug, Default)]
pub struct Run {
    /// One record per answered request, in answer order.
    pub answers: Vec<Answer>,
    /// Requests the API refused or failed (status and message), in order.
    pub refused: Vec<String>,
    /// First request sent → last answer received.
    pub wall_s: f64,
    /// Region step IoU against the workload's boxes (mean), when boxes are known.
    pub region_iou: Option<f64>,
}

/// Waits for `GET /health` to answer 200 (the agent loads its models first).
pub async fn wait_ready(
    client: &reqwest::Client,
    base: &str,
    bound: Duration,
) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let r = client.get(format!("{base}/health")).send().await;
        if r.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        if started.elapsed() > bound {
            anyhow::bail!("the agent's API at {base} was not ready within {bound:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Sends every request of `workload` to `base` (`http://HOST:PORT`), `fps` per second or
/// as fast as answers come back, and collects the answers.
pub async fn run(base: &str, workload: &Workload, fps: Option<f64>) -> anyhow::Result<Run> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .context("cannot build the HTTP client")?;
    wait_ready(&client, base, Duration::from_secs(120)).await?;
    let model = served_model(&client, base).await?;
    let url = format!("{base}/v1/chat/completions");
    let slots = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, request) in workload.requests.iter().enumerate() {
        if let Some(fps) = fps.filter(|f| *f > 0.0) {
            let due = started + Duration::from_secs_f64(i as f64 / fps);
            tokio::time::sleep_until(due.into()).await;
        }
        let permit = Arc::clone(&slots).acquire_owned().await?;
        // The application encodes its frame before the request leaves (not the agent's time).
        let body = body(workload, request, &model)?;
        let (client, url, request) = (client.clone(), url.clone(), request.clone());
        let truth = workload.frame(&request).and_then(|f| f.bbox);
        tasks.spawn(async move {
            let result = ask(&client, &url, body).await;
            drop(permit);
            (request, truth, result)
        });
    }
    let mut run = Run::default();
    let mut iou = (0.0, 0usize);
    while let Some(done) = tasks.join_next().await {
        let (request, truth, result) = done.context("a request task failed")?;
        match result {
            Ok(v) => {
                if let (Some(t), Some(r)) = (truth, region(&v)) {
                    iou.0 += box_iou(t, r);
                    iou.1 += 1;
                }
                run.answers.push(record(&request, &v));
            }
            Err(e) => run
                .refused
                .push(format!("request {}: {e}", request.request_id)),
        }
    }
    run.wall_s = started.elapsed().as_secs_f64();
    run.region_iou = (iou.1 > 0).then(|| iou.0 / iou.1 as f64);
    Ok(run)
}

/// The model the agent serves (`GET /v1/models`), as an application finds it.
async fn served_model(client: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let url = format!("{base}/v1/models");
    let r = client
        .get(&url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .with_context(|| format!("GET {url}"))?;
    let v: Value = serde_json::from_slice(&r.bytes().await?)
        .with_context(|| format!("GET {url}: not JSON"))?;
    v["data"][0]["id"]
        .as_str()
        .map(str::to_string)
        .with_context(|| format!("GET {url}: no model in {v}"))
}

/// The chat completion for one request: its question and its frame as a JPEG data URL.
fn body(workload: &Workload, request: &WorkloadRequest, model: &str) -> anyhow::Result<Vec<u8>> {
    let path = workload
        .frame_path(request)
        .context("a request names no frame")?;
    let frame = image::open(&path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .to_rgb8();
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, JPEG_QUALITY)
        .encode_image(&frame)
        .context("JPEG encode")?;
    let data = base64::engine::general_purpose::STANDARD.encode(&jpeg);
    let mut content = vec![
        json!({"type": "text", "text": request.question}),
        json!({"type": "image_url", "image_url": {"url": format!("data:image/jpeg;base64,{data}")}}),
    ];
    if let Some(audio) = workload.audio_path(request) {
        let wav =
            std::fs::read(&audio).with_context(|| format!("cannot read {}", audio.display()))?;
        let data = base64::engine::general_purpose::STANDARD.encode(&wav);
        content
            .push(json!({"type": "input_audio", "input_audio": {"data": data, "format": "wav"}}));
    }
    let body = json!({"model": model, "messages": [{"role": "user", "content": content}]});
    Ok(serde_json::to_vec(&body)?)
}

async fn ask(client: &reqwest::Client, url: &str, body: Vec<u8>) -> anyhow::Result<Value> {
    let r = client
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await?;
    let status = r.status();
    let v: Value = serde_json::from_slice(&r.bytes().await?)
        .with_context(|| format!("{status}: the answer is not JSON"))?;
    if !status.is_success() {
        let message = v["error"]["message"].as_str().unwrap_or("no message");
        anyhow::bail!("{status}: {message}");
    }
    Ok(v)
}

fn region(v: &Value) -> Option<[u32; 4]> {
    let r = v["msao"]["region"].as_array()?;
    let n: Vec<u32> = r
        .iter()
        .filter_map(|x| x.as_u64())
        .map(|x| x as u32)
        .collect();
    n.try_into().ok()
}

/// Intersection over union of two `[x, y, w, h]` boxes.
fn box_iou(a: [u32; 4], b: [u32; 4]) -> f64 {
    let (ax1, ay1, bx1, by1) = (a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]);
    let w = ax1.min(bx1).saturating_sub(a[0].max(b[0]));
    let h = ay1.min(by1).saturating_sub(a[1].max(b[1]));
    let inter = f64::from(w) * f64::from(h);
    let union = f64::from(a[2]) * f64::from(a[3]) + f64::from(b[2]) * f64::from(b[3]) - inter;
    if union > 0.0 { inter / union } else { 0.0 }
}

/// The answer record of one request: what the API said, evaluated.
fn record(request: &WorkloadRequest, v: &Value) -> Answer {
    let m = &v["msao"];
    let answer = v["choices"][0]["message"]["content"]
        .as_str()
        .map(str::to_string);
    let correct = request
        .answer
        .as_ref()
        .map(|e| answer.as_deref() == Some(e.as_str()));
    let u = |k: &str| m[k].as_u64().unwrap_or(0);
    let mut other = serde_json::Map::new();
    other.insert("answer".into(), json!(answer));
    other.insert("expected".into(), json!(request.answer));
    for k in ["confidence", "local_confidence", "fault", "request_id"] {
        let key = if k == "request_id" {
            "agent_request_id"
        } else {
            k
        };
        other.insert(key.into(), m[k].clone());
    }
    Answer {
        request_id: Some(request.request_id),
        source: m["source"].as_str().unwrap_or("error").to_string(),
        decision: m["decision"].as_str().unwrap_or("local").to_string(),
        latency_us: (m["latency_ms"].as_f64().unwrap_or(0.0) * 1e3).round() as u64,
        bytes_up: u("bytes_up"),
        bytes_down: u("bytes_down"),
        bytes_wasted: u("bytes_wasted"),
        correct,
        other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_of_boxes() {
        assert_eq!(box_iou([0, 0, 10, 10], [0, 0, 10, 10]), 1.0);
        assert_eq!(box_iou([0, 0, 10, 10], [20, 20, 5, 5]), 0.0);
        assert!((box_iou([0, 0, 10, 10], [5, 0, 10, 10]) - 50.0 / 150.0).abs() < 1e-12);
    }

    #[test]
    fn a_completion_becomes_an_evaluated_record() {
        let request = WorkloadRequest {
            request_id: 7,
            frame: 0,
            question: "what shape?".into(),
            answer: Some("circle".into()),
            audio: None,
        };
        let v = json!({
            "choices": [{"message": {"content": "circle"}}],
            "msao": {"source": "cloud", "decision": "offload", "latency_ms": 1.5,
                     "bytes_up": 900, "bytes_down": 80, "bytes_wasted": 0,
                     "request_id": 2147483648u64, "confidence": 0.9, "region": [1, 2, 3, 4]},
        });
        let r = record(&request, &v);
        assert_eq!(
            (r.request_id, r.source.as_str(), r.latency_us),
            (Some(7), "cloud", 1500)
        );
        assert_eq!((r.bytes_up, r.correct), (900, Some(true)));
        assert_eq!(r.other["agent_request_id"], 2147483648u64);
        assert_eq!(region(&v), Some([1, 2, 3, 4]));
    }
}
