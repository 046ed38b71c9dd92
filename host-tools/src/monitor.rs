//! Turning received chunks into observations: one [`Decoder`] per source, the device table
//! (one row per source and boot id), counters per kind and per drop cause, and the
//! once-per-device warning for frames of an unknown schema or wire version.
//!
//! Device ids are learnt from `Hello` and keyed by boot id, so every later frame of that
//! boot is named. Drops whose header could not be read are charged to the last boot id
//! seen from the same source (a peer's decoder only ever sees that peer).
//!
//! A UDP source (`udp://…`) is decoded one datagram at a time: bytes after a datagram's
//! last `0x00` are one `unterminated` drop and never reach the next datagram.
//!
//! Bounded: at most [`MAX_PEERS`] decoders and [`MAX_ROWS`] rows; the least recently heard
//! is forgotten first (its counts stay in the totals).
use msao::{
    DropCause, Event, Message,
    decoder::Decoder,
    header::FrameHeader,
    message::{Hello, Sample},
    transport::is_datagram_source,
};
use std::{
    collections::HashMap,
    sync::Arc,
    time::{Instant, SystemTime},
};

/// Most sources with a live decoder.
pub const MAX_PEERS: usize = 256;
/// Most rows in the device table.
pub const MAX_ROWS: usize = 256;
/// Most remembered `Hello`s (one per boot id).
pub const MAX_HELLOS: usize = 1024;

/// One terminated frame, decoded or dropped, with what is known about its sender.
#[derive(Debug, Clone)]
pub struct Observed {
    /// Where it came from.
    pub source: Arc<str>,
    /// Receive time; `None` for raw byte streams read from a file.
    pub at: Option<SystemTime>,
    /// The frame or the drop.
    pub event: Event,
    /// Device id from this boot id's `Hello`, if one has arrived.
    pub device: Option<Arc<str>>,
    /// That `Hello` (names the sample's temperature and rail indexes).
    pub hello: Option<Arc<Hello>>,
}

impl Observed {
    /// The frame header, when known (always for frames; for some drops).
    pub fn header(&self) -> Option<&FrameHeader> {
        match &self.event {
            Event::Frame(f) => Some(&f.header),
            Event::Dropped { header, .. } => header.as_ref(),
        }
    }
}

/// Counters over everything observed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    /// Frames decoded.
    pub frames: u64,
    /// Frames decoded per kind, indexed like [`Message::KINDS`].
    pub kinds: [u64; Message::KINDS.len()],
    /// Frames dropped per cause, indexed like [`DropCause::ALL`].
    pub drops: [u64; DropCause::ALL.len()],
    /// Bytes received.
    pub bytes: u64,
    /// Bytes of unterminated frames left when a stream ended.
    pub truncated_bytes: u64,
    /// Streams that ended inside a frame.
    pub truncated_tails: u64,
    /// Receive time of the first and last `Sample` (for rates).
    pub sample_span: Option<(SystemTime, SystemTime)>,
}

impl Totals {
    /// All drops.
    pub fn dropped(&self) -> u64 {
        self.drops.iter().sum()
    }
    /// Frames decoded of one kind (`"sample"`).
    pub fn kind(&self, kind: &str) -> u64 {
        Message::KINDS
            .iter()
            .position(|k| *k == kind)
            .map_or(0, |i| self.kinds[i])
    }
    /// Decoded plus dropped.
    pub fn events(&self) -> u64 {
        self.frames + self.dropped()
    }
}

/// One row of the device table: one boot of one agent as heard from one source.
#[derive(Debug, Clone)]
pub struct DeviceRow {
    /// The source.
    pub source: Arc<str>,
    /// Boot id; `None` for drops from a source that never sent a readable header.
    pub boot_id: Option<u32>,
    /// Device id, once its `Hello` arrived.
    pub device: Option<Arc<str>>,
    /// That `Hello`.
    pub hello: Option<Arc<Hello>>,
    /// Frames decoded.
    pub frames: u64,
    /// Frames dropped.
    pub drops: u64,
    /// The latest `Sample`.
    pub last_sample: Option<Sample>,
    /// When this process last heard from it.
    pub last_seen: Instant,
    /// The unknown-schema warning was printed.
    warned: bool,
}

struct Peer {
    decoder: Box<Decoder>,
    last_boot: Option<u32>,
    last_seen: Instant,
}

/// What one chunk produced.
#[derive(Debug, Default)]
pub struct Ingested {
    /// Terminated frames, in order.
    pub items: Vec<Observed>,
    /// Warnings to print once (unknown schema or version per device).
    pub warnings: Vec<String>,
}

/// The decoding state of a session.
#[derive(Default)]
pub struct Monitor {
    peers: HashMap<Arc<str>, Peer>,
    hellos: HashMap<u32, Arc<Hello>>,
    rows: Vec<DeviceRow>,
    totals: Totals,
}

impl Monitor {
    /// An empty monitor.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counters so far.
    pub fn totals(&self) -> &Totals {
        &self.totals
    }

    /// Device rows, in order of first appearance.
    pub fn rows(&self) -> &[DeviceRow] {
        &self.rows
    }

    /// Feeds a chunk from `source`, stopping after `budget` terminated frames (the rest of
    /// the chunk is discarded uncounted: used by `--count`).
    pub fn ingest(
        &mut self,
        source: &str,
        bytes: &[u8],
        at: Option<SystemTime>,
        budget: Option<u64>,
    ) -> Ingested {
        let mut out = Ingested::default();
        let now = Instant::now();
        let source = self.intern_peer(source, now);
        let mut input = bytes;
        let mut before = input.len();
        let room = |out: &Ingested| budget.is_none_or(|b| (out.items.len() as u64) < b);
        while room(&out) {
            let Some(peer) = self.peers.get_mut(&source) else {
                break;
            };
            let event = peer.decoder.push(&mut input);
            self.totals.bytes += (before - input.len()) as u64;
            before = input.len();
            let Some(event) = event else { break };
            let item = self.observe(&source, event, at, now, &mut out.warnings);
            out.items.push(item);
        }
        if is_datagram_source(&source)
            && let Some(peer) = self.peers.get_mut(&source)
        {
            // One frame per datagram: its unterminated rest is one drop, never glued to
            // the next datagram (spec/wire-format.md §6).
            let ended = if input.is_empty() && room(&out) {
                peer.decoder.end_datagram()
            } else {
                peer.decoder.reset();
                None
            };
            if let Some(event) = ended {
                let item = self.observe(&source, event, at, now, &mut out.warnings);
                out.items.push(item);
            }
        }
        out
    }

    /// The source closed its stream: its unterminated bytes count as a truncated tail and
    /// its decoder starts afresh next time.
    pub fn close(&mut self, source: &str) {
        if let Some(peer) = self.peers.remove(source) {
            self.count_tail(&peer);
        }
    }

    /// The input ended: every source's unterminated bytes count as truncated tails.
    pub fn finish(&mut self) {
        for (_, peer) in std::mem::take(&mut self.peers) {
            self.count_tail(&peer);
        }
    }

    fn count_tail(&mut self, peer: &Peer) {
        let pending = peer.decoder.pending() as u64;
        if pending > 0 {
            self.totals.truncated_bytes += pending;
            self.totals.truncated_tails += 1;
        }
    }

    fn intern_peer(&mut self, source: &str, now: Instant) -> Arc<str> {
        if let Some((key, _)) = self.peers.get_key_value(source) {
            let key = key.clone();
            if let Some(peer) = self.peers.get_mut(source) {
                peer.last_seen = now;
            }
            return key;
        }
        if self.peers.len() >= MAX_PEERS {
            let oldest = self
                .peers
                .iter()
                .min_by_key(|(_, p)| p.last_seen)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.close(&k);
            }
        }
        let key: Arc<str> = Arc::from(source);
        let peer = Peer {
            decoder: Box::new(Decoder::new()),
            last_boot: None,
            last_seen: now,
        };
        self.peers.insert(key.clone(), peer);
        key
    }

    fn observe(
        &mut self,
        source: &Arc<str>,
        event: Event,
        at: Option<SystemTime>,
        now: Instant,
        warnings: &mut Vec<String>,
    ) -> Observed {
        let header = match &event {
            Event::Frame(f) => Some(f.header),
            Event::Dropped { header, .. } => *header,
        };
        let boot = match (header, self.peers.get_mut(source)) {
            (Some(h), Some(peer)) => {
                peer.last_boot = Some(h.boot_id_u32());
                Some(h.boot_id_u32())
            }
            (Some(h), None) => Some(h.boot_id_u32()),
            (None, peer) => peer.and_then(|p| p.last_boot),
        };
        if let Event::Frame(frame) = &event
            && let Message::Hello(hello) = &frame.message
            && let Some(b) = boot
        {
            if self.hellos.len() >= MAX_HELLOS && !self.hellos.contains_key(&b) {
                self.hellos.clear();
            }
            self.hellos.insert(b, Arc::new(hello.clone()));
        }
        let hello = boot.and_then(|b| self.hellos.get(&b).cloned());
        let device: Option<Arc<str>> = hello.as_ref().map(|h| Arc::from(h.device_id.as_str()));
        let row = row_for(&mut self.rows, source, boot, now);
        row.last_seen = now;
        if hello.is_some() {
            row.hello.clone_from(&hello);
            row.device.clone_from(&device);
        }
        match &event {
            Event::Frame(frame) => {
                row.frames += 1;
                self.totals.frames += 1;
                let kind = frame.message.kind();
                if let Some(i) = Message::KINDS.iter().position(|k| *k == kind) {
                    self.totals.kinds[i] += 1;
                }
                if let Message::Sample(s) = &frame.message {
                    row.last_sample = Some(s.clone());
                    if let Some(t) = at {
                        let first = self.totals.sample_span.map_or(t, |(f, _)| f);
                        self.totals.sample_span = Some((first, t));
                    }
                }
            }
            Event::Dropped { cause, header, .. } => {
                row.drops += 1;
                self.totals.drops[*cause as usize] += 1;
                let schema_problem = matches!(
                    cause,
                    DropCause::UnknownSchema | DropCause::IncompatibleVersion
                );
                if let (true, Some(h), false) = (schema_problem, header, row.warned) {
                    row.warned = true;
                    warnings.push(schema_warning(source, h, *cause));
                }
            }
        }
        Observed {
            source: source.clone(),
            at,
            event,
            device,
            hello,
        }
    }
}

/// The row of (source, boot id), created (evicting the stalest at [`MAX_ROWS`]) if new.
fn row_for<'a>(
    rows: &'a mut Vec<DeviceRow>,
    source: &Arc<str>,
    boot_id: Option<u32>,
    now: Instant,
) -> &'a mut DeviceRow {
    let found = rows
        .iter()
        .position(|r| r.boot_id == boot_id && *r.source == **source);
    let i = match found {
        Some(i) => i,
        None => {
            if rows.len() >= MAX_ROWS
                && let Some((oldest, _)) = rows.iter().enumerate().min_by_key(|(_, r)| r.last_seen)
            {
                rows.remove(oldest);
            }
            rows.push(DeviceRow {
                source: source.clone(),
                boot_id,
                device: None,
                hello: None,
                frames: 0,
                drops: 0,
                last_sample: None,
                last_seen: now,
                warned: false,
            });
            rows.len() - 1
        }
    };
    &mut rows[i]
}

/// The once-per-device warning: both fingerprints and both wire versions.
pub fn schema_warning(source: &str, h: &FrameHeader, cause: DropCause) -> String {
    let flags =
        h.flags & msao::header::FLAGS_INCOMPATIBLE_MASK & !msao::header::KNOWN_INCOMPATIBLE_FLAGS;
    let flags = if flags != 0 {
        format!(", unknown incompatible flags 0x{flags:02x}")
    } else {
        String::new()
    };
    format!(
        "warning: {source} boot {:08x} sends schema {:016x} wire v{}{flags}; this msao-host \
         understands schema {:016x} wire v{}. Its frames are dropped ({}), never decoded: \
         use tools built from the same msao revision.",
        h.boot_id_u32(),
        h.schema_u64(),
        h.version,
        crate::version::our_schema(),
        msao::WIRE_VERSION,
        cause.name(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use msao::{
        frame,
        message::{Fault, Message},
    };

    fn frame_bytes(boot: [u8; 4], seq: u32) -> Vec<u8> {
        let mut buf = [0u8; frame::MAX_FRAME];
        let msg = Message::Fault(Fault::new(1, "x"));
        frame::encode(&FrameHeader::new(boot, seq, 0), &msg, &mut buf)
            .unwrap()
            .to_vec()
    }

    #[test]
    fn closing_a_peer_counts_its_tail_and_resets_its_decoder() {
        let f = frame_bytes([1, 2, 3, 4], 0);
        let mut m = Monitor::new();
        assert!(m.ingest("tcp://a", &f[..5], None, None).items.is_empty());
        m.close("tcp://a");
        assert_eq!(
            (m.totals().truncated_bytes, m.totals().truncated_tails),
            (5, 1)
        );
        // A fresh decoder: the rest of the old frame is not glued to its start.
        let got = m.ingest("tcp://a", &f, None, None);
        assert_eq!(got.items.len(), 1);
        assert!(matches!(got.items[0].event, Event::Frame(_)));
    }

    #[test]
    fn peers_have_their_own_decoders() {
        let f = frame_bytes([1, 2, 3, 4], 0);
        let mut m = Monitor::new();
        m.ingest("tcp://a", &f[..4], None, None);
        m.ingest("tcp://b", &f[..6], None, None);
        let a = m.ingest("tcp://a", &f[4..], None, None);
        let b = m.ingest("tcp://b", &f[6..], None, None);
        assert!(matches!(
            a.items[..],
            [Observed {
                event: Event::Frame(_),
                ..
            }]
        ));
        assert!(matches!(
            b.items[..],
            [Observed {
                event: Event::Frame(_),
                ..
            }]
        ));
        assert_eq!(m.rows().len(), 2);
        m.finish();
        assert_eq!(m.totals().truncated_bytes, 0);
    }

    #[test]
    fn budget_stops_mid_chunk() {
        let bytes: Vec<u8> = (0..5).flat_map(|s| frame_bytes([9; 4], s)).collect();
        let mut m = Monitor::new();
        assert_eq!(m.ingest("x", &bytes, None, Some(2)).items.len(), 2);
        assert_eq!(m.totals().frames, 2);
    }

    #[test]
    fn an_unterminated_datagram_costs_one_drop_and_not_the_next_frame() {
        let f = frame_bytes([1, 2, 3, 4], 0);
        let mut m = Monitor::new();
        let cut = m.ingest("udp://a", &f[..5], None, None);
        assert!(matches!(
            cut.items[..],
            [Observed {
                event: Event::Dropped {
                    cause: DropCause::Unterminated,
                    len: 5,
                    ..
                },
                ..
            }]
        ));
        let next = m.ingest("udp://a", &f, None, None);
        assert!(matches!(
            next.items[..],
            [Observed {
                event: Event::Frame(_),
                ..
            }]
        ));
        m.finish();
        assert_eq!(m.totals().truncated_tails, 0);
        assert_eq!(m.totals().dropped(), 1);
    }

    #[test]
    fn rows_are_bounded() {
        let mut m = Monitor::new();
        for i in 0..(MAX_ROWS as u32 + 10) {
            m.ingest("udp://a", &frame_bytes(i.to_be_bytes(), 0), None, None);
        }
        assert_eq!(m.rows().len(), MAX_ROWS);
        assert_eq!(m.totals().frames, MAX_ROWS as u64 + 10);
    }
}
