//! `msao-host profile --agent URL`: waits for an agent's `Hello` on URL, sends it a
//! `ProfileRequest` on the same link, signed with the control key and naming the agent run
//! it is for (`spec/wire-format.md` §3.6), and collects the reply: `total` results, then a
//! `Capability`, or a `Fault` naming the request.
//!
//! With a key, only frames the agent signed with it count (its `Hello` included), and only
//! from the agent run asked, whatever address they come from: a forged result cannot reach
//! the capability document, and a replayed `Hello` from another address cannot make the
//! host ignore the real agent. Each UDP datagram is decoded on its own.

use super::Cmd;
use crate::{capability::CapabilityDoc, capture::to_unix_us, env::Env};
use anyhow::{Context as _, bail};
use msao::{
    Decoder, DropCause, Event, FrameHeader, frame,
    message::{Capability, Message, ProfileResult},
    sign::{Auth, ControlKey},
    transport::{self, Endpoint},
};
use msao_agent::{
    clock::random_boot_id,
    config::{KEY_ENV, read_key},
};
use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

/// The control key: `--key-file`, else $MSAO_CONTROL_KEY, else none.
fn control_key(cmd: &Cmd) -> anyhow::Result<Option<ControlKey>> {
    if let Some(path) = &cmd.key_file {
        return read_key(path)
            .map(Some)
            .map_err(|e| anyhow::anyhow!("--key-file: {e}"));
    }
    match std::env::var(KEY_ENV) {
        Ok(text) => ControlKey::from_hex(&text)
            .map(Some)
            .map_err(|e| anyhow::anyhow!("${KEY_ENV}: {e}")),
        Err(_) => Ok(None),
    }
}

/// Frames that count: from the agent run asked and, with a key, signed with it.
struct Trust {
    key: Option<ControlKey>,
    ignored: u64,
}

impl Trust {
    fn decoder(&self) -> Decoder {
        self.key
            .clone()
            .map_or_else(Decoder::new, Decoder::with_key)
    }

    /// Counts a frame dropped for a signature that does not match the key.
    fn count_forged(&mut self, event: &Event) {
        if let Event::Dropped {
            cause: DropCause::Signature,
            ..
        } = event
        {
            self.ignored += 1;
        }
    }

    fn signed_enough(&mut self, auth: Auth) -> bool {
        let ok = self.key.is_none() || matches!(auth, Auth::Verified { .. });
        if !ok {
            self.ignored += 1;
        }
        ok
    }
}

/// Waits for an agent on `url`, asks it, collects the reply.
pub fn profile(cmd: &Cmd, url: &Endpoint, env: &mut Env) -> anyhow::Result<CapabilityDoc> {
    let key = control_key(cmd)?;
    if key.is_none() && !matches!(url, Endpoint::Serial { .. }) {
        bail!(
            "no control key: agents refuse unsigned requests on network links; pass \
             --key-file FILE or set ${KEY_ENV} to the agent's [control] key"
        );
    }
    let mut trust = Trust { key, ignored: 0 };
    let mut rx =
        transport::open_receiver(url).with_context(|| format!("cannot listen on {url}"))?;
    env.listening(std::slice::from_ref(rx.endpoint()));
    let mut decoders: HashMap<String, Decoder> = HashMap::new();
    let wanted = cmd.device.as_deref();
    let spinner = env.spinner();
    spinner.set_message(format!(
        "waiting for {} on {}",
        wanted.unwrap_or("an agent"),
        rx.endpoint()
    ));
    // 1. An agent's Hello tells us where to send the request, and which run it is.
    let hello_deadline = Instant::now() + cmd.wait;
    let (source, build, boot_id) = loop {
        if env.shutdown.requested() {
            bail!("interrupted");
        }
        if Instant::now() > hello_deadline {
            bail!(
                "no {}Hello from {} on {} within {:?}: is the agent streaming there (msao-agent --telemetry …){}?",
                if trust.key.is_some() { "signed " } else { "" },
                wanted.unwrap_or("any agent"),
                rx.endpoint(),
                cmd.wait,
                if trust.ignored > 0 {
                    format!(
                        "; {} frames were not signed with this key (is it the agent's?)",
                        trust.ignored
                    )
                } else {
                    String::new()
                }
            );
        }
        let Some(chunk) = rx.recv(Duration::from_millis(100))? else {
            continue;
        };
        let dec = decoders
            .entry(chunk.source.clone())
            .or_insert_with(|| trust.decoder());
        let mut input = chunk.bytes.as_slice();
        let mut found = None;
        while let Some(event) = dec.push(&mut input) {
            trust.count_forged(&event);
            if let Event::Frame(f) = event
                && let Message::Hello(h) = &f.message
                && wanted.is_none_or(|w| h.device_id.as_str() == w)
                && trust.signed_enough(f.auth)
            {
                found = Some((h.build.clone(), f.header.boot_id));
            }
        }
        if chunk.is_datagram() {
            dec.end_datagram();
        }
        if let Some((build, boot)) = found {
            break (chunk.source, build, boot);
        }
    };
    // 2. The request, on the same link, signed under a boot id of this host run.
    let request_id = u32::from_le_bytes(random_boot_id());
    let request = Message::ProfileRequest(cmd.request(request_id, boot_id));
    // Unix-epoch µs: newer than any earlier request of this host, as the agent's replay
    // guard requires of a sender run it has not seen (spec §3.6).
    let now = to_unix_us(std::time::SystemTime::now());
    let header = FrameHeader::new(random_boot_id(), 0, now);
    let mut buf = [0u8; frame::MAX_FRAME];
    let wire = match &trust.key {
        Some(k) => frame::encode_signed(&header, &request, k, &mut buf)?,
        None => frame::encode(&header, &request, &mut buf)?,
    };
    rx.reply(&source, wire)
        .with_context(|| format!("cannot send the request to {source}"))?;
    spinner.set_message(format!(
        "request {request_id} sent to {source} (agent run {:08x}); profiling…",
        u32::from_be_bytes(boot_id)
    ));
    // 3. The reply: `total` results, then a Capability (or a Fault naming the request).
    let asked = Asked {
        source: &source,
        boot_id,
        request_id,
    };
    let (capability, results) = collect(
        rx.as_mut(),
        &mut decoders,
        &mut trust,
        &asked,
        cmd.timeout,
        env,
    )?;
    Ok(CapabilityDoc::from_wire(
        &capability,
        &results,
        Some(&build),
        &source,
    ))
}

/// Whom the request went to.
struct Asked<'a> {
    source: &'a str,
    boot_id: [u8; 4],
    request_id: u32,
}

fn collect(
    rx: &mut dyn transport::Receiver,
    decoders: &mut HashMap<String, Decoder>,
    trust: &mut Trust,
    asked: &Asked<'_>,
    timeout: Duration,
    env: &mut Env,
) -> anyhow::Result<(Capability, Vec<ProfileResult>)> {
    let deadline = Instant::now() + timeout;
    let mut results: Vec<Option<ProfileResult>> = Vec::new();
    let mut bar = None;
    let prefix = format!("profile {}:", asked.request_id);
    loop {
        if env.shutdown.requested() {
            bail!("interrupted");
        }
        if Instant::now() > deadline {
            bail!(
                "the agent at {} did not finish within {timeout:?} ({} of {} results; {} frames not signed with the key ignored)",
                asked.source,
                results.iter().flatten().count(),
                results.len(),
                trust.ignored
            );
        }
        let Some(chunk) = rx.recv(Duration::from_millis(100))? else {
            continue;
        };
        // With a key the signature and the boot id say who sent a frame; without one (a
        // serial line) only the link does.
        if trust.key.is_none() && chunk.source != asked.source {
            continue;
        }
        let dec = decoders
            .entry(chunk.source.clone())
            .or_insert_with(|| trust.decoder());
        let mut input = chunk.bytes.as_slice();
        while let Some(event) = dec.push(&mut input) {
            trust.count_forged(&event);
            let Event::Frame(f) = event else { continue };
            if f.header.boot_id != asked.boot_id || !trust.signed_enough(f.auth) {
                continue;
            }
            match f.message {
                Message::ProfileResult(r) if r.request_id == Some(asked.request_id) => {
                    let total = usize::from(r.total);
                    if results.len() != total {
                        results.resize(total, None);
                        bar = Some(env.count_bar(total as u64));
                    }
                    let i = usize::from(r.index);
                    if let Some(b) = &bar {
                        b.set_message(format!("{} {:?} {:?}", r.model, r.provider, r.precision));
                        b.inc(1);
                    }
                    if let Some(slot) = results.get_mut(i) {
                        *slot = Some(r);
                    }
                }
                Message::Fault(f) if f.message.starts_with(&prefix) => {
                    bail!(
                        "the agent could not profile: {}",
                        f.message[prefix.len()..].trim()
                    );
                }
                Message::Capability(c)
                    if !results.is_empty() && results.iter().all(Option::is_some) =>
                {
                    return Ok((c, results.into_iter().flatten().collect()));
                }
                _ => {}
            }
        }
        if chunk.is_datagram() {
            dec.end_datagram();
        }
    }
}
