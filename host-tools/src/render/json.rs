//! The `--json` line schema: one object per terminated frame.
//!
//! ```text
//! {"type":"sample","device":"jetson-07","source":"udp://10.0.0.7:40001","boot_id":"1a2b3c4d",
//!  "seq":42,"timestamp_us":4200000,"rx_time":"2025-01-01T12:00:00.123456Z","data":{…}}
//! ```
//! `type` is the message kind (`hello`, `sample`, `request`, `fault`, `profile`) or `drop`;
//! `device` is null until the boot id's `Hello` arrives; `boot_id`, `seq` and `timestamp_us`
//! are null for drops whose header was unreadable; `rx_time` is null for raw byte streams.
//! `data` is the message's fields (or `{cause, len}` for a drop) plus derived fields in
//! friendly units: `cpu_load_pct`, `gpu_load_pct`, `total_power_w`, and, once the `Hello`
//! is known, `temps_c` and `rails_w` keyed by zone and rail name.
use crate::monitor::Observed;
use msao::{
    Event, Message,
    message::{FaultCode, Hello, Sample},
};
use serde_json::{Map, Value, json};

/// The JSON object of one observed frame.
pub fn frame(o: &Observed) -> Value {
    let h = o.header();
    let (kind, data) = match &o.event {
        Event::Frame(f) => (
            f.message.kind(),
            message_data(&f.message, o.hello.as_deref()),
        ),
        Event::Dropped { cause, len, header } => {
            let mut d = json!({ "cause": cause.name(), "len": len });
            if let (Some(h), Value::Object(map)) = (header, &mut d) {
                map.insert("schema".into(), format!("{:016x}", h.schema_u64()).into());
                map.insert("wire_version".into(), h.version.into());
                map.insert("flags".into(), h.flags.into());
            }
            ("drop", d)
        }
    };
    json!({
        "type": kind,
        "device": o.device.as_deref(),
        "source": &*o.source,
        "boot_id": h.map(|h| format!("{:08x}", h.boot_id_u32())),
        "seq": h.map(|h| h.seq),
        "timestamp_us": h.map(|h| h.timestamp_us),
        "rx_time": o.at.map(|t| humantime::format_rfc3339_micros(t).to_string()),
        "data": data,
    })
}

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or_else(|e| json!({ "error": e.to_string() }))
}

/// A message's fields plus derived, unit-friendly fields.
pub fn message_data(msg: &Message, hello: Option<&Hello>) -> Value {
    let mut v = match msg {
        Message::Hello(m) => to_value(m),
        Message::Sample(m) => to_value(m),
        Message::RequestTrace(m) => to_value(m),
        Message::Fault(m) => to_value(m),
        Message::ProfileResult(m) => to_value(m),
        Message::Capability(m) => to_value(m),
        Message::ProfileRequest(m) => to_value(m),
        Message::ProfileCancel(m) => to_value(m),
        Message::CameraStats(m) => to_value(m),
    };
    let Value::Object(map) = &mut v else { return v };
    match msg {
        Message::Hello(h) => {
            map.insert(
                "schema_hex".into(),
                format!("{:016x}", u64::from_le_bytes(h.schema)).into(),
            );
        }
        Message::Sample(s) => sample_extras(map, s, hello),
        Message::Fault(f) => {
            map.insert("code_name".into(), FaultCode::name(f.code).into());
        }
        Message::ProfileResult(p) => {
            map.insert(
                "throughput_per_s".into(),
                (f64::from(p.throughput_milli) / 1000.0).into(),
            );
        }
        Message::CameraStats(c) => {
            // Share of the captured frames never answered about (latest-frame semantics).
            let stale = (c.captured > 0).then(|| c.dropped_stale as f64 / c.captured as f64);
            map.insert("stale_ratio".into(), stale.into());
        }
        Message::RequestTrace(_)
        | Message::Capability(_)
        | Message::ProfileRequest(_)
        | Message::ProfileCancel(_) => {}
    }
    v
}

fn sample_extras(map: &mut Map<String, Value>, s: &Sample, hello: Option<&Hello>) {
    let pct = |pm: Option<u16>| pm.map(|v| f64::from(v) / 10.0);
    map.insert("cpu_load_pct".into(), pct(s.cpu_load_pm).into());
    map.insert("gpu_load_pct".into(), pct(s.gpu_load_pm).into());
    map.insert(
        "total_power_w".into(),
        s.total_power_mw.map(|mw| f64::from(mw) / 1000.0).into(),
    );
    if let Some(h) = hello {
        let temps = s.temps_cdeg.iter().map(|t| t.map(|c| f64::from(c) / 100.0));
        map.insert("temps_c".into(), named(&h.hardware.thermal_zones, temps));
        let rails = s
            .rails_mw
            .iter()
            .map(|r| r.map(|mw| f64::from(mw) / 1000.0));
        map.insert("rails_w".into(), named(&h.hardware.rails, rails));
    }
}

/// `{name: value}` by index; unnamed indexes become `#i`, repeated names `name#i`.
fn named<S: std::ops::Deref<Target = str>>(
    names: &[S],
    values: impl Iterator<Item = Option<f64>>,
) -> Value {
    let mut out = Map::new();
    for (i, v) in values.enumerate() {
        let name = names
            .get(i)
            .map(|n| n.to_string())
            .unwrap_or_else(|| format!("#{i}"));
        let key = if out.contains_key(&name) {
            format!("{name}#{i}")
        } else {
            name
        };
        out.insert(key, v.into());
    }
    Value::Object(out)
}
