//! The `--json` line schema for every message kind and for drops.
mod common;

use common::*;
use msao::message::Message;
use serde_json::Value;
use std::io::Write;

fn decode_json_from(bytes: &[u8]) -> (Vec<Value>, String) {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(bytes).unwrap();
    let path = f.path().to_str().unwrap().to_string();
    let (r, out, _) = run(&["decode", &path, "--json"]);
    r.unwrap();
    (json_lines(&out), path)
}

fn decode_json(bytes: &[u8]) -> Vec<Value> {
    decode_json_from(bytes).0
}

#[test]
fn every_kind_has_the_common_fields() {
    let (lines, path) = decode_json_from(&stream(BOOT, &every_kind("jetson-07")));
    assert_eq!(lines.len(), Message::KINDS.len() + 1);
    for (i, (line, kind)) in lines.iter().zip(Message::KINDS).enumerate() {
        let keys: Vec<&str> = line
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "type",
                "device",
                "source",
                "boot_id",
                "seq",
                "timestamp_us",
                "rx_time",
                "data"
            ],
            "{line}"
        );
        assert_eq!(line["type"], kind);
        assert_eq!(line["device"], "jetson-07", "the hello came first: {line}");
        assert_eq!(line["boot_id"], "1a2b3c4d");
        assert_eq!(line["seq"], i);
        assert_eq!(line["timestamp_us"], i as u64 * 100_000);
        assert_eq!(
            line["source"],
            path.as_str(),
            "a raw file's source is its path"
        );
        assert!(line["data"].is_object(), "{line}");
    }
    assert_eq!(lines.last().unwrap()["type"], "summary");
}

#[test]
fn data_carries_the_message_and_friendly_units() {
    let lines = decode_json(&stream(BOOT, &every_kind("jetson-07")));
    let hello = &lines[0]["data"];
    assert_eq!(hello["device_id"], "jetson-07");
    assert_eq!(hello["hardware"]["thermal_zones"][0], "cpu-thermal");
    assert_eq!(hello["hardware"]["gpu"], Value::Null);
    assert_eq!(
        hello["schema_hex"],
        format!("{:016x}", u64::from_le_bytes(msao::SCHEMA_FINGERPRINT))
    );

    let sample = &lines[1]["data"];
    assert_eq!(sample["cpu_load_pm"], 123);
    assert_eq!(sample["cpu_load_pct"], 12.3);
    assert_eq!(sample["gpu_load_pm"], Value::Null, "unsupported stays null");
    assert_eq!(sample["gpu_load_pct"], Value::Null);
    assert_eq!(sample["temps_cdeg"], serde_json::json!([4550, null]));
    assert_eq!(
        sample["temps_c"],
        serde_json::json!({ "cpu-thermal": 45.5, "gpu-thermal": null })
    );
    assert_eq!(sample["rails_w"], serde_json::json!({ "VDD_IN": 5.1 }));
    assert_eq!(sample["total_power_w"], 5.1);

    let request = &lines[2]["data"];
    assert_eq!(request["request_id"], 7);
    assert_eq!(request["decision"], "Local");
    assert_eq!(request["timings"]["total_us"], 12_000);

    let fault = &lines[3]["data"];
    assert_eq!(fault["code"], 2);
    assert_eq!(fault["code_name"], "transport");
    assert_eq!(fault["message"], "udp send failed");

    let profile = &lines[4]["data"];
    assert_eq!(profile["model"], "mobilevit-xs");
    assert_eq!(profile["throughput_per_s"], 243.0);
}

#[test]
fn device_is_null_until_the_hello_and_names_need_it() {
    let lines = decode_json(&stream(BOOT, &[sample(), hello("late"), sample()]));
    assert_eq!(lines[0]["device"], Value::Null);
    assert!(
        lines[0]["data"].get("temps_c").is_none(),
        "no names without a hello"
    );
    assert_eq!(lines[0]["data"]["cpu_load_pct"], 12.3);
    assert_eq!(lines[1]["device"], "late");
    assert_eq!(lines[2]["device"], "late");
    assert_eq!(lines[2]["data"]["temps_c"]["cpu-thermal"], 45.5);
}

#[test]
fn drops_have_type_drop_and_a_cause() {
    let mut bytes = stream(BOOT, &[hello("x")]);
    bytes.extend([0x03, 0xAA, 0xBB, 0x00]);
    let lines = decode_json(&bytes);
    let drop = &lines[1];
    assert_eq!(drop["type"], "drop");
    assert_eq!(
        drop["data"],
        serde_json::json!({ "cause": "crc", "len": 3 })
    );
    assert_eq!(drop["boot_id"], Value::Null);
    assert_eq!(drop["seq"], Value::Null);
    // Charged to the last boot id heard from that source.
    assert_eq!(lines[2]["devices"][0]["drops"], 1);
}
