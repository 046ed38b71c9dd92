//! The capability document: built from wire messages, valid against
//! `spec/capability.schema.json`, read back strictly; compared side by side; and the
//! remote profile round trip through the agent's real telemetry path on loopback UDP.

mod common;

use msao::message::*;
use msao_host::capability::{CapabilityDoc, compare, doc};
use serde_json::Value;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A small JSON Schema checker for the keywords `spec/capability.schema.json` uses:
/// type, const, enum, required, properties, additionalProperties: false, items, minimum.
fn validate(v: &Value, s: &Value, path: &str, errors: &mut Vec<String>) {
    if let Some(c) = s.get("const")
        && v != c
    {
        errors.push(format!("{path}: {v} is not {c}"));
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array)
        && !e.contains(v)
    {
        errors.push(format!("{path}: {v} not in {e:?}"));
    }
    if let Some(t) = s.get("type") {
        let types: Vec<&str> = match t {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let ok = types.iter().any(|t| match *t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "null" => v.is_null(),
            "boolean" => v.is_boolean(),
            _ => false,
        });
        if !ok {
            errors.push(format!("{path}: {v} is not {types:?}"));
            return;
        }
    }
    if let (Some(min), Some(n)) = (s.get("minimum").and_then(Value::as_f64), v.as_f64())
        && n < min
    {
        errors.push(format!("{path}: {n} < {min}"));
    }
    if let Value::Object(obj) = v {
        let props = s.get("properties").and_then(Value::as_object);
        for req in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let key = req.as_str().unwrap_or_default();
            if !obj.contains_key(key) {
                errors.push(format!("{path}: missing `{key}`"));
            }
        }
        for (k, child) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(cs) => validate(child, cs, &format!("{path}.{k}"), errors),
                None if s.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    errors.push(format!("{path}: unexpected `{k}`"))
                }
                None => {}
            }
        }
    }
    if let (Value::Array(items), Some(is)) = (v, s.get("items")) {
        for (i, item) in items.iter().enumerate() {
            validate(item, is, &format!("{path}[{i}]"), errors);
        }
    }
}

fn schema() -> Value {
    let text = std::fs::read_to_string(root().join("spec/capability.schema.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn vector(name: &str) -> Message {
    let text = std::fs::read_to_string(root().join(format!("spec/vectors/{name}.json"))).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    serde_json::from_value(v["message"].clone()).unwrap()
}

fn jetson_doc() -> CapabilityDoc {
    let Message::Capability(cap) = vector("capability") else {
        panic!()
    };
    let Message::ProfileResult(r) = vector("profile_result") else {
        panic!()
    };
    CapabilityDoc::from_wire(
        &cap,
        &[r],
        Some(&WireBuild::current()),
        "udp://10.0.0.7:40112",
    )
}

#[test]
fn documents_match_the_schema() {
    let schema = schema();
    let doc = serde_json::to_value(jetson_doc()).unwrap();
    let mut errors = Vec::new();
    validate(&doc, &schema, "$", &mut errors);
    assert!(errors.is_empty(), "{errors:#?}");
    // The checker is not vacuous: a zero-for-unknown or a stray field is caught.
    let mut bad = doc.clone();
    bad["hardware"]["cpu_max_mhz"] = Value::String("fast".into());
    bad["extra"] = Value::Bool(true);
    let mut errors = Vec::new();
    validate(&bad, &schema, "$", &mut errors);
    assert_eq!(errors.len(), 2, "{errors:#?}");
}

#[test]
fn units_are_converted_and_unknowns_stay_null() {
    let d = jetson_doc();
    let p = &d.performance[0];
    assert_eq!(p.latency_ms.p50, 1.18);
    assert_eq!(p.throughput_per_s, 826.446);
    assert_eq!(p.energy_mj_per_inference, Some(6.1));
    assert_eq!(p.conditions.temp_start_c, Some(47.12));
    assert_eq!(
        d.hardware
            .gpu
            .as_ref()
            .and_then(|g| g.compute_capability.clone())
            .as_deref(),
        Some("8.7")
    );
    assert_eq!(d.hardware.power_modes[2].name, "MAXN_SUPER");
    assert_eq!(d.providers, ["cpu", "cuda", "tensorrt"]);
    // A result without rails: energy is null, not zero.
    let Message::ProfileResult(mut r) = vector("profile_result") else {
        panic!()
    };
    r.energy_uj = None;
    assert_eq!(doc::PerfEntry::from_wire(&r).energy_mj_per_inference, None);
}

#[test]
fn documents_read_back_strictly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.json");
    let d = jetson_doc();
    std::fs::write(&path, serde_json::to_string_pretty(&d).unwrap()).unwrap();
    assert_eq!(CapabilityDoc::read(&path).unwrap(), d);
    let mut v = serde_json::to_value(&d).unwrap();
    v["version"] = 2.into();
    std::fs::write(&path, v.to_string()).unwrap();
    let err = CapabilityDoc::read(&path).unwrap_err().to_string();
    assert!(err.contains("version 2 is not supported"), "{err}");
    let mut v = serde_json::to_value(&d).unwrap();
    v["device"]["serial"] = "x".into();
    std::fs::write(&path, v.to_string()).unwrap();
    let err = CapabilityDoc::read(&path).unwrap_err().to_string();
    assert!(err.contains("unknown field `serial`"), "{err}");
}

#[test]
fn compare_matches_measurements_and_draws_them() {
    let a = jetson_doc();
    let mut b = jetson_doc();
    b.device.device_id = "agx-orin-01".into();
    b.performance[0].throughput_per_s *= 2.0;
    b.performance[0].latency_ms.p50 /= 2.0;
    let mut only_b = b.performance[0].clone();
    only_b.precision = "fp16".into();
    b.performance.push(only_b);
    let rows = compare::rows(&a, &b);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].speedup(), Some(2.0));
    assert_eq!(rows[1].a_p50, None);
    let text = compare::lines(&a, &b).join("\n");
    assert!(text.contains("×2.00"), "{text}");
    assert!(text.contains("agx-orin-01"), "{text}");
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("cmp.svg");
    compare::plot(&a, &b, &svg).unwrap();
    let drawn = std::fs::read_to_string(&svg).unwrap();
    assert!(
        drawn.starts_with("<svg") && drawn.contains("<rect"),
        "{}",
        &drawn[..200.min(drawn.len())]
    );
}

#[test]
fn compare_command_reads_files_and_reports_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
    std::fs::write(&a, serde_json::to_string(&jetson_doc()).unwrap()).unwrap();
    std::fs::write(&b, serde_json::to_string(&jetson_doc()).unwrap()).unwrap();
    let (result, out, _err) = common::run(&[
        "profile",
        "--compare",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--json",
    ]);
    result.unwrap();
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["type"], "compare");
    assert_eq!(v["rows"][0]["speedup_b_over_a"], 1.0);
    std::fs::write(&b, "{ not json").unwrap();
    let (result, _out, _err) = common::run(&[
        "profile",
        "--compare",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    let err = format!("{:#}", result.unwrap_err());
    assert!(err.contains("b.json is not a capability document"), "{err}");
}
