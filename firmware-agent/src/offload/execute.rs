//! One request's decision carried out: commit the local answer, offload and await the
//! cloud's, or speculate (the upload spawned, called off when the local answer is
//! confident) — and the [`Answer`] built from whatever happened, with its trace.

use super::deadline;
use super::policy::BanditContext;
use super::queue::ReplyFn;
use super::request::{Answer, AnsweredFrame};
use crate::brain::{Region, softmax};
use crate::cloud::{CloudClient, CloudError, CloudFaultKind, InferTensor, TensorData};
use crate::pipelines::{Labels, PipelineSpec};
use msao::message::{
    Decision, ExecProvider, Modality, ModalitySet, Outcome, RequestTrace, StageTimings, TraceAnswer,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One request after its edge work and the policy's decision, ready to be carried out.
pub(super) struct Job {
    pub(super) context: Option<BanditContext>,
    pub(super) request_id: u32,
    pub(super) decision: Decision,
    pub(super) local: Option<Local>,
    pub(super) upload: Option<Upload>,
    pub(super) region: Option<Region>,
    pub(super) frame: Option<AnsweredFrame>,
    pub(super) trace: RequestTrace,
    pub(super) start: Instant,
    /// Arrival + deadline: the whole offload (encode, upload, wait) ends by then.
    pub(super) due: Instant,
    /// How answers are read and named.
    pub(super) readout: Arc<Readout>,
}

/// How the pipeline's answers are read: the local head's labels, the cloud models' logits
/// output and labels (from the pipeline file).
#[derive(Debug)]
pub(super) struct Readout {
    head: Labels,
    cloud: Labels,
    cloud_logits: String,
}

impl Readout {
    pub(super) fn of(pipeline: &PipelineSpec) -> Self {
        Self {
            head: pipeline.head.labels.clone(),
            cloud: pipeline.cloud.labels.clone(),
            cloud_logits: pipeline.cloud.logits.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
/// The local head's answer.
pub(super) struct Local {
    pub(super) answer: usize,
    pub(super) confidence: f32,
}

/// What an offload sends, and to which client.
pub(super) struct Upload {
    pub(super) client: CloudClient,
    pub(super) inputs: Vec<InferTensor>,
}

/// A request carried out: its answer and what the pipeline learns from it.
pub(super) struct Done {
    pub(super) context: Option<BanditContext>,
    pub(super) answer: Answer,
    pub(super) fault: Option<(CloudFaultKind, String)>,
    pub(super) observed: Option<(usize, f64)>,
    /// Payload bytes of a call that timed out (fed to the link estimator pessimistically).
    pub(super) timed_out: Option<usize>,
    /// Came back from a runtime worker (counted in `in_flight`).
    pub(super) spawned: bool,
    pub(super) reply: ReplyFn,
}

/// A request that failed before a decision.
pub(super) struct Failed {
    pub(super) message: String,
    pub(super) start: Instant,
    pub(super) limit: Option<&'static str>,
}

/// Payload bytes of a set of input tensors (what is counted when a call is cancelled).
pub(super) fn payload_bytes(inputs: &[InferTensor]) -> usize {
    inputs
        .iter()
        .map(|t| match &t.data {
            TensorData::Bytes(v) => v.iter().map(|b| b.len() + 4).sum(),
            d => d.len() * d.datatype().element_size().unwrap_or(1),
        })
        .sum()
}

/// Runs a decision: local commit, offload, or speculation.
pub(super) async fn execute(job: Job, deadline: Duration, threshold: f32, reply: ReplyFn) -> Done {
    let Job {
        context,
        request_id,
        decision,
        local,
        upload,
        region,
        frame,
        mut trace,
        start,
        due,
        readout,
    } = job;
    let mut out = Outcome::LocalCommitted;
    let mut answer: Option<(usize, f32)> = local.map(|l| (l.answer, l.confidence));
    let (mut up, mut down, mut wasted) = (0u64, 0u64, 0u64);
    let mut fault = None;
    let mut observed = None;
    let payload = upload.as_ref().map_or(0, |u| payload_bytes(&u.inputs));
    let result = match (decision, upload) {
        (Decision::Local, _) | (_, None) => None,
        (Decision::Speculate, Some(u)) => {
            let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
            let counter = Some(sent.clone());
            let call = tokio::spawn(async move {
                deadline::within(
                    due,
                    deadline,
                    u.client.infer_counted(u.inputs, deadline, counter),
                )
                .await
            });
            // The local head's answer is known (fused graph): commit it if it is confident.
            if local.is_some_and(|l| l.confidence >= threshold) {
                call.abort();
                // Only what was handed to the connection before the abort was wasted.
                let _ = call.await;
                wasted = sent.load(std::sync::atomic::Ordering::Relaxed);
                None
            } else {
                Some(match call.await {
                    Ok(r) => r,
                    Err(e) => Err(CloudError::Malformed {
                        detail: format!("cloud task failed: {e}"),
                    }),
                })
            }
        }
        (_, Some(u)) => {
            Some(deadline::within(due, deadline, u.client.infer(u.inputs, deadline)).await)
        }
    };
    if let Some(result) = result {
        match settle(result, &readout) {
            Ok(s) => {
                answer = Some((s.class, s.confidence));
                out = Outcome::CloudAnswer;
                (up, down) = (s.up, s.down);
                trace.timings.cloud_us = Some(micros(s.elapsed));
                observed = Some(((s.up + s.down) as usize, s.elapsed.as_secs_f64()));
            }
            Err(e) => {
                out = Outcome::Fallback;
                fault = Some((e.kind(), format!("{}: {e}", e.kind().name())));
            }
        }
    }
    let timed_out = fault
        .as_ref()
        .is_some_and(|(k, _)| *k == CloudFaultKind::Timeout)
        .then_some(payload);
    if answer.is_none() {
        out = Outcome::Error;
    }
    let latency = start.elapsed();
    trace.outcome = out;
    trace.answer = answer
        .and_then(|(a, _)| u16::try_from(a).ok())
        .map(TraceAnswer::Class);
    trace.bytes_up = sat32(up);
    trace.bytes_down = sat32(down);
    trace.bytes_wasted = sat32(wasted);
    trace.timings.total_us = Some(micros(latency));
    let label = |labels: &Labels, class: usize| labels.get(class).map(str::to_string);
    Done {
        context,
        answer: Answer {
            request_id,
            class: answer.map(|(a, _)| a),
            answer: answer.and_then(|(a, _)| match out {
                Outcome::CloudAnswer => label(&readout.cloud, a),
                _ => label(&readout.head, a),
            }),
            source: source_name(out),
            decision: decision_name(decision),
            confidence: answer.map(|(_, c)| c),
            local_confidence: local.map(|l| l.confidence),
            local_answer: local.and_then(|l| label(&readout.head, l.answer)),
            latency_us: latency.as_micros() as u64,
            bytes_up: up,
            bytes_down: down,
            bytes_wasted: wasted,
            fault: fault.as_ref().map(|(_, m)| m.clone()),
            cloud_fault: fault.as_ref().map(|(k, _)| k.name()),
            input_limit: None,
            region,
            frame,
            trace,
        },
        fault,
        observed,
        timed_out,
        spawned: false,
        reply,
    }
}

/// A cloud answer, read.
struct Settled {
    class: usize,
    confidence: f32,
    up: u64,
    down: u64,
    elapsed: Duration,
}

/// Reads a cloud result: the best class of its logits and its softmax probability; logits
/// must have one value per cloud label.
fn settle(
    result: Result<crate::cloud::InferReply, CloudError>,
    readout: &Readout,
) -> Result<Settled, CloudError> {
    let reply = result?;
    let name = &readout.cloud_logits;
    let logits = reply.f32(name)?;
    if logits.len() != readout.cloud.len() {
        return Err(CloudError::Malformed {
            detail: format!(
                "{name} has {} values, expected {} (one per label)",
                logits.len(),
                readout.cloud.len()
            ),
        });
    }
    let p = softmax(logits);
    let class = crate::brain::argmax(&p);
    Ok(Settled {
        class,
        confidence: p.get(class).copied().unwrap_or(0.0),
        up: reply.bytes_up as u64,
        down: reply.bytes_down as u64,
        elapsed: reply.elapsed,
    })
}

pub(super) fn error_answer(request_id: u32, failed: &Failed) -> Answer {
    let mut trace = bare_trace(request_id);
    trace.outcome = Outcome::Error;
    Answer {
        request_id,
        class: None,
        answer: None,
        source: "error",
        decision: "local",
        confidence: None,
        local_confidence: None,
        local_answer: None,
        latency_us: failed.start.elapsed().as_micros() as u64,
        bytes_up: 0,
        bytes_down: 0,
        bytes_wasted: 0,
        fault: Some(failed.message.clone()),
        cloud_fault: None,
        input_limit: failed.limit,
        region: None,
        frame: None,
        trace,
    }
}

pub(super) fn bare_trace(request_id: u32) -> RequestTrace {
    RequestTrace {
        request_id,
        modalities: ModalitySet::default()
            .with(Modality::Image)
            .with(Modality::Text),
        mas: heapless::Vec::new(),
        decision: Decision::Local,
        local_confidence_pm: None,
        answer: None,
        bytes_up: 0,
        bytes_down: 0,
        bytes_wasted: 0,
        timings: StageTimings {
            encode_us: None,
            mas_us: None,
            policy_us: None,
            local_us: None,
            upload_us: None,
            cloud_us: None,
            total_us: None,
        },
        outcome: Outcome::Error,
        provider: ExecProvider::Cpu,
    }
}

/// Wire name of an outcome as an answer source.
pub fn source_name(o: Outcome) -> &'static str {
    match o {
        Outcome::LocalCommitted => "local",
        Outcome::CloudAnswer => "cloud",
        Outcome::Fallback => "fallback",
        Outcome::Error => "error",
    }
}

/// Name of a decision.
pub fn decision_name(d: Decision) -> &'static str {
    match d {
        Decision::Local => "local",
        Decision::Offload => "offload",
        Decision::Speculate => "speculate",
    }
}

pub(super) fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

fn sat32(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}
