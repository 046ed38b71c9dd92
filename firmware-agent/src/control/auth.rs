//! [`ControlAuth`]: which host requests the agent acts on (`spec/wire-format.md` §3.6).
//!
//! On a network link (UDP, TCP) a request must be signed with the agent's key, newer than
//! the last one accepted from the same host run, and name this agent run's boot id. With
//! no key set, network requests are refused: anyone who can reach the port could ask for
//! work otherwise. A serial line is physical access; without a key it accepts unsigned
//! requests unless `[control] serial_unsigned = false`, and with a key it needs signatures
//! like any other link. Every refusal is counted by reason.

use msao::decoder::Frame;
use msao::sign::{Auth, ControlKey, ReplayGuard};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Why a request was not acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A network link and no key set on the agent.
    NoKey,
    /// The agent has a key and the request is unsigned (or signed, but the agent could
    /// not check it).
    Unsigned,
    /// Signed correctly, but not newer than the last request from that host run.
    Replayed,
    /// Signed correctly, but for another agent run (another device, or before a restart).
    OtherAgent,
}

impl Refusal {
    /// Every reason, in counter order.
    pub const ALL: [Refusal; 4] = [
        Self::NoKey,
        Self::Unsigned,
        Self::Replayed,
        Self::OtherAgent,
    ];

    /// snake_case name (logs, counters).
    pub const fn name(self) -> &'static str {
        match self {
            Self::NoKey => "no_key",
            Self::Unsigned => "unsigned",
            Self::Replayed => "replayed",
            Self::OtherAgent => "other_agent",
        }
    }

    /// What a log line says about it.
    pub const fn explain(self) -> &'static str {
        match self {
            Self::NoKey => {
                "no control key is set ([control] key_file or $MSAO_CONTROL_KEY), so network links accept no requests"
            }
            Self::Unsigned => "the request is not signed with the agent's key",
            Self::Replayed => "the request is a replay (not newer than the last one accepted)",
            Self::OtherAgent => "the request names another agent run (boot id)",
        }
    }
}

/// What kind of link a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    /// UDP or TCP: anyone who can reach it.
    Network,
    /// A serial line: physical access.
    Serial,
}

impl LinkKind {
    /// The kind of `endpoint`.
    pub fn of(endpoint: &msao::transport::Endpoint) -> Self {
        match endpoint {
            msao::transport::Endpoint::Serial { .. } => Self::Serial,
            _ => Self::Network,
        }
    }
}

/// The agent's rules for host requests, shared by every sink thread.
#[derive(Debug)]
pub struct ControlAuth {
    key: Option<ControlKey>,
    boot_id: [u8; 4],
    serial_unsigned: bool,
    guard: Mutex<ReplayGuard>,
    refused: [AtomicU64; Refusal::ALL.len()],
}

impl ControlAuth {
    /// Rules for the agent run `boot_id`.
    pub fn new(key: Option<ControlKey>, boot_id: [u8; 4], serial_unsigned: bool) -> Self {
        Self {
            key,
            boot_id,
            serial_unsigned,
            guard: Mutex::new(ReplayGuard::new()),
            refused: Default::default(),
        }
    }

    /// The key frames are signed and checked with.
    pub fn key(&self) -> Option<&ControlKey> {
        self.key.as_ref()
    }

    /// This agent run's boot id.
    pub fn boot_id(&self) -> [u8; 4] {
        self.boot_id
    }

    /// Whether to act on a decoded request frame that named `target` and came in on a
    /// `link`. A refusal is counted.
    pub fn admit(&self, frame: &Frame, target: [u8; 4], link: LinkKind) -> Result<(), Refusal> {
        let verdict = self.judge(frame, target, link);
        if let Err(r) = verdict {
            self.refused[r as usize].fetch_add(1, Ordering::Relaxed);
        }
        verdict
    }

    fn judge(&self, frame: &Frame, target: [u8; 4], link: LinkKind) -> Result<(), Refusal> {
        match (&self.key, frame.auth) {
            (None, _) if link == LinkKind::Serial && self.serial_unsigned => {
                return match target == self.boot_id {
                    true => Ok(()),
                    false => Err(Refusal::OtherAgent),
                };
            }
            (None, _) => return Err(Refusal::NoKey),
            (Some(_), Auth::Verified { .. }) => {}
            (Some(_), _) => return Err(Refusal::Unsigned),
        }
        if target != self.boot_id {
            return Err(Refusal::OtherAgent);
        }
        let mut guard = self.guard.lock().unwrap_or_else(|p| p.into_inner());
        guard
            .check(frame.header.boot_id, frame.header.timestamp_us)
            .map_err(|_| Refusal::Replayed)
    }

    /// Refusals so far, by reason.
    pub fn refused(&self, reason: Refusal) -> u64 {
        self.refused[reason as usize].load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use msao::{Decoder, Event, FrameHeader, Message, frame, message::Fault};

    fn frame_of(key: Option<&ControlKey>, host_boot: [u8; 4], ts: u64) -> Frame {
        let msg = Message::Fault(Fault::new(1, "x"));
        let mut buf = [0u8; frame::MAX_FRAME];
        let header = FrameHeader::new(host_boot, 0, ts);
        let wire = match key {
            Some(k) => frame::encode_signed(&header, &msg, k, &mut buf).unwrap(),
            None => frame::encode(&header, &msg, &mut buf).unwrap(),
        };
        let mut dec = match key {
            Some(k) => Decoder::with_key(k.clone()),
            None => Decoder::new(),
        };
        let mut input = wire;
        match dec.push(&mut input) {
            Some(Event::Frame(f)) => f,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn network_links_need_a_key_a_signature_a_fresh_timestamp_and_this_run() {
        let me = [9, 9, 9, 9];
        let key = ControlKey::new(&[3; 32]).unwrap();
        let open = ControlAuth::new(None, me, true);
        let f = frame_of(None, [1; 4], 1);
        assert_eq!(open.admit(&f, me, LinkKind::Network), Err(Refusal::NoKey));
        assert_eq!(open.admit(&f, me, LinkKind::Serial), Ok(()));
        assert_eq!(
            open.admit(&f, [0; 4], LinkKind::Serial),
            Err(Refusal::OtherAgent)
        );
        let closed = ControlAuth::new(None, me, false);
        assert_eq!(closed.admit(&f, me, LinkKind::Serial), Err(Refusal::NoKey));

        let auth = ControlAuth::new(Some(key.clone()), me, true);
        assert_eq!(auth.admit(&f, me, LinkKind::Serial), Err(Refusal::Unsigned));
        let signed = frame_of(Some(&key), [1; 4], 10);
        assert_eq!(
            auth.admit(&signed, [0; 4], LinkKind::Network),
            Err(Refusal::OtherAgent)
        );
        assert_eq!(auth.admit(&signed, me, LinkKind::Network), Ok(()));
        assert_eq!(
            auth.admit(&signed, me, LinkKind::Network),
            Err(Refusal::Replayed)
        );
        let later = frame_of(Some(&key), [1; 4], 11);
        assert_eq!(auth.admit(&later, me, LinkKind::Network), Ok(()));
        assert_eq!(auth.refused(Refusal::Replayed), 1);
        assert_eq!(auth.refused(Refusal::Unsigned), 1);
        assert_eq!(auth.refused(Refusal::OtherAgent), 1);
    }
}
