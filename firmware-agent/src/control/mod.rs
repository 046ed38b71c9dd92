//! The control thread: serves host requests (profiling) without stopping telemetry.
//!
//! Sink threads decode requests on their links ([`crate::telemetry::Inbox`]) and send them
//! here. A request is answered on the telemetry bus: one `ProfileResult` per measurement,
//! numbered `index`/`total` and tagged with the request id, then a `Capability`. A request
//! that cannot be served gets a `Fault` (code `model`) whose message starts
//! `profile <id>:`, so the host stops waiting. Requests are served one at a time, in order,
//! at background priority (Linux `SCHED_IDLE`: only on CPU time the request path leaves
//! idle; every result says so), and each must stay within [`ProfileLimits`].

mod auth;
mod profiler;

pub use auth::{ControlAuth, LinkKind, Refusal};
pub use profiler::DeviceProfiler;

use crate::{
    clock::Clock,
    config::ProfileLimits,
    telemetry::{Bus, Incoming},
};
use log::{info, warn};
use msao::message::{Capability, Fault, FaultCode, Message, ProfileRequest, ProfileResult};
use std::{
    io,
    sync::mpsc,
    thread::{self, JoinHandle},
};

/// What the control thread needs from the profiling side.
pub trait ProfileService: Send {
    /// Measures what `request` selects, handing each result to `emit` as soon as it is
    /// measured (fields `request_id`, `index`, `total` are set by the caller). Returns
    /// the number of results, or why nothing could be measured.
    fn profile(
        &mut self,
        request: &ProfileRequest,
        emit: &mut dyn FnMut(ProfileResult, u16),
    ) -> Result<u16, String>;

    /// What this device is and runs.
    fn capability(&mut self) -> Capability;

    /// How many results `request` will produce (so each can carry `total`).
    fn plan(&mut self, request: &ProfileRequest) -> Result<u16, String>;
}

/// Starts the control thread; it ends when every request sender is gone (the sink
/// threads stopped).
pub fn spawn(
    requests: mpsc::Receiver<Incoming>,
    mut service: Box<dyn ProfileService>,
    bus: Bus,
    clock: Clock,
    limits: ProfileLimits,
) -> io::Result<JoinHandle<()>> {
    thread::Builder::new()
        .name("control".into())
        .spawn(move || {
            let background = lower_priority();
            for incoming in requests {
                serve(
                    &incoming.request,
                    service.as_mut(),
                    &bus,
                    clock,
                    &limits,
                    background,
                );
            }
        })
}

/// Moves the calling thread (and the threads it starts later: ONNX Runtime's intra-op
/// pool of a session created here) to `SCHED_IDLE`. Returns whether it worked.
fn lower_priority() -> bool {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::unix::{
            NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy,
            thread_native_id,
        };
        let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
        match set_thread_priority_and_policy(
            thread_native_id(),
            thread_priority::ThreadPriority::Min,
            idle,
        ) {
            Ok(()) => {
                info!("profiling runs at background priority (SCHED_IDLE)");
                true
            }
            Err(e) => {
                warn!(
                    "cannot lower the profiling thread's priority ({e:?}); it competes with requests"
                );
                false
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

/// Why a request is beyond `limits`, naming the key that sets the limit.
pub fn check_limits(request: &ProfileRequest, limits: &ProfileLimits) -> Result<(), String> {
    let checks = [
        (
            "iterations",
            request.iterations,
            limits.max_iterations,
            "max_iterations",
        ),
        ("warm-up", request.warmup, limits.max_warmup, "max_warmup"),
        (
            "batch",
            request.batch.into(),
            limits.max_batch.into(),
            "max_batch",
        ),
    ];
    match checks.iter().find(|(_, got, max, _)| got > max) {
        Some((what, got, max, key)) => Err(format!(
            "{what} {got} is above this agent's limit {max} ([control] {key})"
        )),
        None => Ok(()),
    }
}

/// Answers one request on `bus`.
pub fn serve(
    request: &ProfileRequest,
    service: &mut dyn ProfileService,
    bus: &Bus,
    clock: Clock,
    limits: &ProfileLimits,
    background: bool,
) {
    let id = request.request_id;
    info!(
        "profile request {id}: model {}, batch {}, {} warm-up + {} timed iterations",
        request.model.as_deref().unwrap_or("all"),
        request.batch,
        request.warmup,
        request.iterations
    );
    let total = match check_limits(request, limits).and_then(|()| service.plan(request)) {
        Ok(0) => Err("nothing to profile matches the request".to_string()),
        Ok(n) => Ok(n),
        Err(e) => Err(e),
    };
    let outcome = total.and_then(|total| {
        let mut emit = |mut result: ProfileResult, index: u16| {
            result.request_id = Some(id);
            result.background = background;
            result.index = index;
            result.total = total;
            bus.publish(clock.now_us(), &Message::ProfileResult(result));
        };
        service.profile(request, &mut emit)
    });
    match outcome {
        Ok(n) => info!("profile request {id}: {n} results sent"),
        Err(e) => {
            warn!("profile request {id} failed: {e}");
            let fault = Fault::new(FaultCode::Model as u16, &format!("profile {id}: {e}"));
            bus.publish(clock.now_us(), &Message::Fault(fault));
        }
    }
    bus.publish(clock.now_us(), &Message::Capability(service.capability()));
}
