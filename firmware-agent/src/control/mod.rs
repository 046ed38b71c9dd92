//! The control thread: serves host requests (profiling) without stopping telemetry.
//!
//! Sink threads decode requests on their links ([`crate::telemetry::Inbox`]) and send them
//! here. A request is answered on the telemetry bus: one `ProfileResult` per measurement,
//! numbered `index`/`total` and tagged with the request id, then a `Capability`. A request
//! that cannot be served gets a `Fault` (code `model`) whose message starts
//! `profile <id>:`, so the host stops waiting. Requests are served one at a time, in order,
//! at background priority (Linux `SCHED_IDLE`: only on CPU time the request path leaves
//! idle; every result says so), and each must stay within [`ProfileLimits`]. A host's
//! `ProfileCancel` ([`Cancels`]) stops a request before its next inference, or before it
//! starts if it is still queued; the reply is then the results so far and a `Fault`
//! `profile <id>: cancelled …`.

mod auth;
mod cancel;
mod profiler;

pub use auth::{ControlAuth, LinkKind, Refusal};
pub use cancel::{Cancels, REMEMBERED};
pub use profiler::DeviceProfiler;

use crate::{
    clock::Clock,
    config::ProfileLimits,
    telemetry::{Bus, Requests},
};
use log::{info, warn};
use msao::message::{Capability, Fault, FaultCode, Message, ProfileRequest, ProfileResult};
use std::{
    io,
    thread::{self, JoinHandle},
};

/// What the control thread needs from the profiling side.
pub trait ProfileService: Send {
    /// Measures what `request` selects, handing each result to `emit` as soon as it is
    /// measured (fields `request_id`, `index`, `total` are set by the caller), and
    /// asking `cancelled` before every inference: once it is true the profile ends.
    /// Returns the number of results, or why not all could be measured.
    fn profile(
        &mut self,
        request: &ProfileRequest,
        emit: &mut dyn FnMut(ProfileResult, u16),
        cancelled: &dyn Fn() -> bool,
    ) -> Result<u16, String>;

    /// What this device is and runs.
    fn capability(&mut self) -> Capability;

    /// How many results `request` will produce (so each can carry `total`).
    fn plan(&mut self, request: &ProfileRequest) -> Result<u16, String>;
}

/// Starts the control thread; it ends when every request sender is gone (the sink
/// threads stopped).
pub fn spawn(
    requests: Requests,
    mut service: Box<dyn ProfileService>,
    bus: Bus,
    clock: Clock,
    limits: ProfileLimits,
) -> io::Result<JoinHandle<()>> {
    thread::Builder::new()
        .name("control".into())
        .spawn(move || {
            let background = lower_priority();
            let cancels = requests.cancels;
            for incoming in requests.rx {
                let id = incoming.request.request_id;
                let cancelled = || cancels.is_cancelled(id);
                let context = Context {
                    bus: &bus,
                    clock,
                    limits: &limits,
                    background,
                    cancelled: &cancelled,
                };
                serve(&incoming.request, service.as_mut(), &context);
                cancels.forget(id);
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

/// What serving one request needs besides the request and the service.
pub struct Context<'a> {
    /// Where results and faults go.
    pub bus: &'a Bus,
    /// The agent's clock.
    pub clock: Clock,
    /// What the request must stay within.
    pub limits: &'a ProfileLimits,
    /// The thread runs at background priority (recorded in every result).
    pub background: bool,
    /// Whether the host has cancelled this request (asked before every inference).
    pub cancelled: &'a dyn Fn() -> bool,
}

/// Answers one request on `context.bus`.
pub fn serve(request: &ProfileRequest, service: &mut dyn ProfileService, context: &Context<'_>) {
    let Context {
        bus,
        clock,
        limits,
        background,
        cancelled,
    } = *context;
    let id = request.request_id;
    if cancelled() {
        info!("profile request {id}: cancelled by the host before it started");
        let fault = Fault::new(
            FaultCode::Model as u16,
            &format!("profile {id}: cancelled by the host before it started"),
        );
        bus.publish(clock.now_us(), &Message::Fault(fault));
        return;
    }
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
        service.profile(request, &mut emit, cancelled)
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
