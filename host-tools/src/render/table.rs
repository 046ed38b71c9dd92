//! The device table: one row per (source, boot id), columns padded to fit.
use super::text::{age, max_temp, mem, pct, watts};
use crate::monitor::DeviceRow;
use std::time::Instant;

/// Column titles.
pub const COLUMNS: [&str; 11] = [
    "DEVICE", "SOURCE", "BOOT", "FRAMES", "DROPS", "CPU", "MEM", "TEMP", "GPU", "POWER", "AGE",
];

/// The cells of one row; sample columns are `-` until a `Sample` arrives.
pub fn cells(r: &DeviceRow, now: Instant) -> [String; 11] {
    let dash = || "-".to_string();
    let s = r.last_sample.as_ref();
    [
        r.device.as_deref().unwrap_or("?").to_string(),
        r.source.to_string(),
        r.boot_id.map_or_else(dash, |b| format!("{b:08x}")),
        r.frames.to_string(),
        r.drops.to_string(),
        s.map_or_else(dash, |s| pct(s.cpu_load_pm)),
        s.map_or_else(dash, |s| mem(s.mem_used_kib, s.mem_total_kib)),
        s.map_or_else(dash, |s| max_temp(s, r.hello.as_deref())),
        s.map_or_else(dash, |s| pct(s.gpu_load_pm)),
        s.map_or_else(dash, |s| watts(s.total_power_mw)),
        age(now.saturating_duration_since(r.last_seen)),
    ]
}

/// The table as lines: a title row, then one line per device (`(no frames yet)` when empty).
pub fn lines(rows: &[DeviceRow], now: Instant) -> Vec<String> {
    let body: Vec<[String; 11]> = rows.iter().map(|r| cells(r, now)).collect();
    let mut width = COLUMNS.map(|c| c.chars().count());
    for row in &body {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(width).enumerate() {
            // Numbers right-aligned, text left-aligned.
            let numeric = (3..=4).contains(&i);
            let pad = w.saturating_sub(cell.chars().count());
            if i > 0 {
                s.push_str("  ");
            }
            if numeric {
                s.extend(std::iter::repeat_n(' ', pad));
                s.push_str(cell);
            } else {
                s.push_str(cell);
                if i + 1 < cells.len() {
                    s.extend(std::iter::repeat_n(' ', pad));
                }
            }
        }
        s
    };
    let mut out = vec![line(&COLUMNS.map(String::from))];
    if body.is_empty() {
        out.push("(no frames yet)".to_string());
    }
    out.extend(body.iter().map(|r| line(r)));
    out
}

/// One self-contained line per device, for logs (`key value` pairs).
pub fn plain_lines(rows: &[DeviceRow], now: Instant) -> Vec<String> {
    rows.iter()
        .map(|r| {
            let c = cells(r, now);
            format!(
                "device {} source {} boot {} frames {} drops {} cpu {} mem {} temp {} gpu {} power {} age {}",
                c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10]
            )
        })
        .collect()
}
