//! Frames from a peer of another schema or wire version: dropped (never mis-decoded),
//! counted per cause, and warned about once per device (source + boot id), naming both
//! fingerprints and both wire versions.
mod common;

use common::*;
use msao::transport::{Endpoint, FrameSink, UdpSink};
use msao_host::{env::Env, monitor::Monitor};

const OTHER_BOOT: [u8; 4] = [0xb0, 0x07, 0x00, 0x02];

fn ours() -> String {
    format!("{:016x}", u64::from_le_bytes(msao::SCHEMA_FINGERPRINT))
}

#[test]
fn monitor_warns_once_per_source_and_boot() {
    let mut m = Monitor::new();
    let mut warnings = Vec::new();
    let mut feed = |source: &str, bytes: Vec<u8>| {
        let got = m.ingest(source, &bytes, None, None);
        for item in &got.items {
            assert!(
                matches!(item.event, msao::Event::Dropped { .. }),
                "never decoded: {item:?}"
            );
        }
        warnings.extend(got.warnings);
    };
    for seq in 0..3 {
        feed("udp://10.0.0.1:1", foreign_schema_frame(BOOT, seq));
        feed("udp://10.0.0.1:1", foreign_schema_frame(OTHER_BOOT, seq));
        feed("udp://10.0.0.2:1", foreign_schema_frame(BOOT, seq));
    }
    assert_eq!(warnings.len(), 3, "{warnings:#?}");
    assert_eq!(m.totals().drops[msao::DropCause::UnknownSchema as usize], 9);
    assert_eq!(m.totals().frames, 0);
    let w = &warnings[0];
    assert!(
        w.contains("udp://10.0.0.1:1") && w.contains("1a2b3c4d"),
        "{w}"
    );
    assert!(
        w.contains(&format!(
            "schema 0123456789abcdef wire v{}",
            msao::WIRE_VERSION
        )),
        "theirs: {w}"
    );
    assert!(
        w.contains(&format!("schema {} wire v{}", ours(), msao::WIRE_VERSION)),
        "ours: {w}"
    );
    assert!(warnings[1].contains("b0070002"), "{}", warnings[1]);
}

#[test]
fn incompatible_version_warning_names_both_versions() {
    let mut h = header(BOOT, 0);
    h.version = 9;
    let mut m = Monitor::new();
    let got = m.ingest("tcp://x", &encode(&h, &fault()), None, None);
    assert_eq!(got.warnings.len(), 1);
    assert!(got.warnings[0].contains("wire v9"), "{}", got.warnings[0]);
    assert!(got.warnings[0].contains(&format!("wire v{}", msao::WIRE_VERSION)));
    assert!(got.warnings[0].contains("incompatible_version"));
}

#[test]
fn listen_warns_once_on_stderr_and_keeps_good_frames() {
    let (mut env, err) = Env::captured();
    env.on_listening = Some(Box::new(|eps: &[Endpoint]| {
        let mut sink = UdpSink::open(eps[0].clone()).unwrap();
        for seq in 0..4 {
            sink.send_frame(&foreign_schema_frame(BOOT, seq)).unwrap();
        }
        sink.send_frame(&encode(&header(OTHER_BOOT, 0), &hello("good")))
            .unwrap();
    }));
    let (r, out) = run_with(
        &["listen", "udp://127.0.0.1:0", "--json", "--count", "5"],
        &mut env,
    );
    r.unwrap();
    let err = err.contents();
    assert_eq!(err.matches("warning:").count(), 1, "{err}");
    assert!(
        err.contains("0123456789abcdef") && err.contains(&ours()),
        "{err}"
    );
    let lines = json_lines(&out);
    let types: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["drop", "drop", "drop", "drop", "hello", "summary"]);
    assert_eq!(lines[5]["drops"]["unknown_schema"], 4);
    assert_eq!(lines[5]["frames"], 1);
}
