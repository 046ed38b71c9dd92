//! `msao-host profile --agent URL`: waits for an agent's `Hello` on URL, sends it a
//! `ProfileRequest` on the same link, signed with the control key and naming the agent run
//! it is for (`spec/wire-format.md` §3.6), and collects the reply: `total` results, then a
//! `Capability`, or a `Fault` naming the request.
//!
//! With a key, only frames the agent signed with it count (its `Hello` included), and only
//! from the agent run asked, whatever address they come from: a forged result cannot reach
//! the capability document, and a replayed `Hello` from another address cannot make the
//! host ignore the real agent: the request goes to every address a signed `Hello` of that
//! agent run comes from (the agent serves one copy; the rest are replays it refuses).
//! Each UDP datagram is decoded on its own.
//!
//! Interrupted (Ctrl-C) or out of `--timeout`, the host sends a signed `ProfileCancel` for
//! its request, so the agent stops before its next inference instead of profiling on for
//! nobody, and waits briefly for the agent to confirm.

use super::Cmd;
use crate::{capability::CapabilityDoc, capture::to_unix_us, env::Env};
use anyhow::{Context as _, bail};
use msao::{
    Decoder, DropCause, Event, FrameHeader, frame,
    message::{Capability, Message, ProfileCancel, ProfileResult},
    sign::{Auth, ControlKey},
    transport::{self, Endpoint},
};
use msao_agent::host::device::{KEY_ENV, random_boot_id, read_key};
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
    let mut link = Link::new(trust.key.clone(), &source);
    link.send(
        rx.as_mut(),
        &Message::ProfileRequest(cmd.request(request_id, boot_id)),
    )
    .context("cannot send the request")?;
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
    let mut reader = Reader {
        rx: rx.as_mut(),
        decoders: &mut decoders,
        trust: &mut trust,
        asked: &asked,
    };
    let (capability, results) = match collect(&mut reader, &mut link, cmd.timeout, env)? {
        Ended::Reply(capability, results) => (capability, results),
        Ended::Stopped(why) => {
            let cancel = Message::ProfileCancel(ProfileCancel {
                request_id,
                target_boot_id: boot_id,
            });
            let sent = link.send(&mut *reader.rx, &cancel);
            let confirmed = sent.is_ok() && confirm_cancel(&mut reader, CANCEL_WAIT);
            bail!(
                "{why}; {}",
                match (sent, confirmed) {
                    (Err(e), _) => format!("the cancel could not be sent: {e:#}"),
                    (Ok(()), true) => format!("the agent cancelled request {request_id}"),
                    (Ok(()), false) =>
                        format!("cancel sent; the agent did not confirm within {CANCEL_WAIT:?}"),
                }
            )
        }
    };
    Ok(CapabilityDoc::from_wire(
        capability.as_ref(),
        &results,
        Some(&build),
        &source,
    ))
}

/// How long an interrupted host waits for the agent to confirm a cancel.
const CANCEL_WAIT: Duration = Duration::from_secs(3);

/// This host run's side of the link: a boot id of its own, its key, and the addresses the
/// agent run was heard from.
struct Link {
    key: Option<ControlKey>,
    boot_id: [u8; 4],
    seq: u32,
    last_us: u64,
    /// Where the request went, first the address it was first heard from.
    reached: Vec<String>,
    /// The request as sent, for addresses heard later.
    request: Vec<u8>,
}

/// Most addresses one request is sent to (each a signed `Hello` of the agent run asked).
const MAX_ADDRESSES: usize = 8;

impl Link {
    fn new(key: Option<ControlKey>, to: &str) -> Self {
        Self {
            key,
            boot_id: random_boot_id(),
            seq: 0,
            last_us: 0,
            reached: vec![to.to_string()],
            request: Vec::new(),
        }
    }

    /// Sends `message` to every address reached, signed when there is a key. Timestamps
    /// are Unix-epoch µs, strictly increasing: newer than any earlier request of this
    /// host, as the agent's replay guard requires (spec §3.6).
    fn send(&mut self, rx: &mut dyn transport::Receiver, message: &Message) -> anyhow::Result<()> {
        let now = to_unix_us(std::time::SystemTime::now()).max(self.last_us + 1);
        self.last_us = now;
        let header = FrameHeader::new(self.boot_id, self.seq, now);
        self.seq = self.seq.wrapping_add(1);
        let mut buf = [0u8; frame::MAX_FRAME];
        let wire = match &self.key {
            Some(k) => frame::encode_signed(&header, message, k, &mut buf)?,
            None => frame::encode(&header, message, &mut buf)?,
        };
        if matches!(message, Message::ProfileRequest(_)) {
            self.request = wire.to_vec();
        }
        let mut sent = Ok(());
        for to in &self.reached {
            let result = rx
                .reply(to, wire)
                .with_context(|| format!("cannot send to {to}"));
            // One address that went away must not hide the others.
            sent = sent.and(result);
        }
        sent
    }

    /// The agent run asked was heard from `source` too (a signed `Hello`): the request goes
    /// there as well, unless it already did or there is no key (one serial line).
    fn heard_from(&mut self, rx: &mut dyn transport::Receiver, source: &str) {
        if self.key.is_none()
            || self.request.is_empty()
            || self.reached.len() >= MAX_ADDRESSES
            || self.reached.iter().any(|s| s == source)
        {
            return;
        }
        self.reached.push(source.to_string());
        // A failed copy changes nothing: the request already went to the first address.
        let _ = rx.reply(source, &self.request);
    }
}

/// Whom the request went to.
struct Asked<'a> {
    source: &'a str,
    boot_id: [u8; 4],
    request_id: u32,
}

impl Asked<'_> {
    /// The start of every fault about this request.
    fn prefix(&self) -> String {
        format!("profile {}:", self.request_id)
    }
}

/// The receiving side: frames from the agent asked that the trust rules accept.
struct Reader<'r> {
    rx: &'r mut dyn transport::Receiver,
    decoders: &'r mut HashMap<String, Decoder>,
    trust: &'r mut Trust,
    asked: &'r Asked<'r>,
}

impl Reader<'_> {
    /// Messages that arrive within 100 ms from the agent asked, trusted, and the address
    /// they came from.
    fn next_messages(&mut self) -> anyhow::Result<(String, Vec<Message>)> {
        let Some(chunk) = self.rx.recv(Duration::from_millis(100))? else {
            return Ok((String::new(), Vec::new()));
        };
        // With a key the signature and the boot id say who sent a frame; without one (a
        // serial line) only the link does.
        if self.trust.key.is_none() && chunk.source != self.asked.source {
            return Ok((String::new(), Vec::new()));
        }
        let trust = &mut *self.trust;
        let dec = self
            .decoders
            .entry(chunk.source.clone())
            .or_insert_with(|| trust.decoder());
        let mut input = chunk.bytes.as_slice();
        let mut out = Vec::new();
        while let Some(event) = dec.push(&mut input) {
            trust.count_forged(&event);
            let Event::Frame(f) = event else { continue };
            if f.header.boot_id == self.asked.boot_id && trust.signed_enough(f.auth) {
                out.push(f.message);
            }
        }
        if chunk.is_datagram() {
            dec.end_datagram();
        }
        Ok((chunk.source, out))
    }
}

/// How collecting the reply ended.
enum Ended {
    /// Every result, then the capability.
    Reply(Box<Capability>, Vec<ProfileResult>),
    /// Interrupted or out of time (why); the request should be cancelled.
    Stopped(String),
}

/// Waits up to `wait` for the agent's fault about the cancelled request.
fn confirm_cancel(reader: &mut Reader<'_>, wait: Duration) -> bool {
    let prefix = reader.asked.prefix();
    let until = Instant::now() + wait;
    while Instant::now() < until {
        let Ok((_, messages)) = reader.next_messages() else {
            return false;
        };
        if messages
            .iter()
            .any(|m| matches!(m, Message::Fault(f) if f.message.starts_with(&prefix)))
        {
            return true;
        }
    }
    false
}

fn collect(
    reader: &mut Reader<'_>,
    link: &mut Link,
    timeout: Duration,
    env: &mut Env,
) -> anyhow::Result<Ended> {
    let deadline = Instant::now() + timeout;
    let mut results: Vec<Option<ProfileResult>> = Vec::new();
    let mut bar = None;
    let prefix = reader.asked.prefix();
    loop {
        if env.shutdown.requested() {
            return Ok(Ended::Stopped("interrupted".into()));
        }
        if Instant::now() > deadline {
            return Ok(Ended::Stopped(format!(
                "the agent at {} did not finish within {timeout:?} ({} of {} results; {} frames not signed with the key ignored)",
                reader.asked.source,
                results.iter().flatten().count(),
                results.len(),
                reader.trust.ignored
            )));
        }
        let (source, messages) = reader.next_messages()?;
        for message in messages {
            match message {
                Message::Hello(_) => link.heard_from(&mut *reader.rx, &source),
                Message::ProfileResult(r) if r.request_id == Some(reader.asked.request_id) => {
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
                    return Ok(Ended::Reply(
                        Box::new(c),
                        results.into_iter().flatten().collect(),
                    ));
                }
                _ => {}
            }
        }
    }
}
