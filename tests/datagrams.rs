//! Datagram semantics of the decoder: `end_datagram` makes each datagram stand alone, so an
//! unterminated or oversize datagram costs one drop and never the next datagram's frame.

use msao::{Decoder, DropCause, Event, FrameHeader, Message, frame, message::Fault};

fn frame_bytes(seq: u32) -> Vec<u8> {
    let mut buf = [0u8; frame::MAX_FRAME];
    let msg = Message::Fault(Fault::new(7, "datagram"));
    match frame::encode(&FrameHeader::new([1, 2, 3, 4], seq, 0), &msg, &mut buf) {
        Ok(f) => f.to_vec(),
        Err(e) => panic!("encode: {e:?}"),
    }
}

/// Decodes each datagram on its own, as a host does for `udp://` sources.
fn decode(datagrams: &[Vec<u8>]) -> (Vec<Event>, Decoder) {
    let mut dec = Decoder::new();
    let mut out = Vec::new();
    for d in datagrams {
        let mut input = &d[..];
        while let Some(e) = dec.push(&mut input) {
            out.push(e);
        }
        out.extend(dec.end_datagram());
    }
    (out, dec)
}

fn cause(e: &Event) -> Option<DropCause> {
    match e {
        Event::Dropped { cause, .. } => Some(*cause),
        Event::Frame(_) => None,
    }
}

#[test]
fn an_unterminated_datagram_is_one_drop_and_the_next_frame_decodes() {
    let f = frame_bytes(1);
    let cut = f[..f.len() - 3].to_vec();
    let (events, dec) = decode(&[cut.clone(), f.clone(), vec![0x42; 9], f.clone()]);
    let causes: Vec<_> = events.iter().map(cause).collect();
    assert_eq!(
        causes,
        [
            Some(DropCause::Unterminated),
            None,
            Some(DropCause::Unterminated),
            None
        ]
    );
    assert!(matches!(events[0], Event::Dropped { len, .. } if len == cut.len()));
    assert_eq!(dec.stats().frames, 2);
    assert_eq!(dec.pending(), 0);
}

#[test]
fn an_oversize_datagram_is_one_oversize_drop() {
    let f = frame_bytes(2);
    let (events, dec) = decode(&[vec![0x11; frame::MAX_FRAME * 3], f]);
    assert_eq!(events.len(), 2);
    assert_eq!(cause(&events[0]), Some(DropCause::Oversize));
    assert!(matches!(events[1], Event::Frame(_)));
    assert_eq!(dec.stats().dropped_total(), 1);
}

#[test]
fn a_terminated_datagram_ends_with_no_extra_event() {
    let f = frame_bytes(3);
    let two = [f.clone(), f.clone()].concat();
    let (events, dec) = decode(&[two, vec![0]]);
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| matches!(e, Event::Frame(_))));
    assert_eq!(dec.stats().dropped_total(), 0);
}

#[test]
fn without_end_datagram_the_cut_bytes_spoil_the_next_frame() {
    // The failure end_datagram exists to prevent: a stream decoder glues datagrams.
    let f = frame_bytes(4);
    let mut dec = Decoder::new();
    let mut input = &f[..5];
    assert!(dec.push(&mut input).is_none());
    let mut input = &f[..];
    assert!(matches!(dec.push(&mut input), Some(Event::Dropped { .. })));
}
