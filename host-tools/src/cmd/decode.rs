//! `msao-host decode FILE|- [--json]`: decode a capture file or a raw byte dump (told
//! apart by the capture magic) and summarise frames, drops per cause and truncated tails.
//! Drops are results, not failures: the exit code is 0 when every byte could be read.
//! A capture whose structure is corrupt (a record length past the limit, a record that
//! does not parse) is decoded up to that record, the summary is printed (with
//! `capture_error`), and the exit code is 1 with an error naming the byte offset.
use crate::{
    capture::{self, CaptureReader},
    env::Env,
    live::Session,
    render::{Summary, View, view::Mode},
};
use anyhow::Context as _;
use serde_json::json;
use std::{
    fs::File,
    io::{self, BufReader, Cursor, Read, Write},
    path::{Path, PathBuf},
};

/// Bytes read per chunk from a raw dump.
pub const RAW_CHUNK: usize = 64 * 1024;

/// Decode a capture file or a raw byte dump and summarise drops.
#[derive(Debug, Clone, clap::Args)]
pub struct Cmd {
    /// A capture (`msao-host record`) or raw bytes (`cat /dev/ttyUSB0 > dump.bin`); `-`
    /// reads stdin.
    #[arg(value_name = "FILE|-")]
    pub input: PathBuf,
    /// One JSON object per frame, then a summary object.
    #[arg(long)]
    pub json: bool,
}

impl Cmd {
    /// Decodes the whole input.
    pub fn run(self, out: &mut impl Write, env: &mut Env) -> anyhow::Result<()> {
        let stdin = self.input.as_os_str() == "-";
        let (input, len): (Box<dyn Read>, Option<u64>) = if stdin {
            (Box::new(io::stdin().lock()), None)
        } else {
            let file = File::open(&self.input)
                .with_context(|| format!("cannot open {}", self.input.display()))?;
            let len = file.metadata().ok().map(|m| m.len());
            (Box::new(file), len)
        };
        let mut input = BufReader::new(input);
        let mut prefix = Vec::with_capacity(capture::MAGIC.len());
        (&mut input)
            .take(capture::MAGIC.len() as u64)
            .read_to_end(&mut prefix)
            .with_context(|| format!("cannot read {}", self.input.display()))?;
        let is_capture = capture::is_capture(&prefix);
        let input = Cursor::new(prefix).chain(input);
        let mode = if self.json {
            Mode::Json
        } else {
            Mode::FrameLines
        };
        let mut session = Session::new(View::new(mode));
        // A bar only when the frames themselves do not go to the terminal.
        let bar = match len {
            Some(len) if !env.stdout_tty => Some(env.byte_bar(len)),
            _ => None,
        };
        let name = if stdin {
            "stdin".to_string()
        } else {
            self.input.display().to_string()
        };
        if is_capture {
            let mut reader = CaptureReader::open(input)
                .with_context(|| format!("cannot read capture {name}"))?;
            let mut corrupt = None;
            loop {
                let at = reader.offset();
                let rec = match reader.next_record() {
                    Ok(Some(rec)) => rec,
                    Ok(None) => break,
                    Err(e) => {
                        corrupt = Some((at, e));
                        break;
                    }
                };
                session.feed(&rec.source, &rec.bytes, Some(rec.at), None, out, env)?;
                if rec.end_of_stream {
                    session.feed(&rec.source, &[], None, None, out, env)?;
                }
                if let Some(bar) = &bar {
                    bar.set_position(reader.offset());
                }
            }
            env.clear_bar();
            report_truncated(&reader, env);
            let error = corrupt.as_ref().map_or(
                serde_json::Value::Null,
                |(at, e)| json!({ "offset": at, "error": e.to_string() }),
            );
            let human = corrupt.as_ref().map_or(String::new(), |(at, _)| {
                format!("capture: corrupt at byte {at}; the rest of the file was not read")
            });
            session.finish(out, |m, elapsed| {
                capture_extras(Summary::of(m, elapsed), &reader)
                    .with("input", "capture", "")
                    .with("capture_error", error, human)
            })?;
            match corrupt {
                Some((at, e)) => Err(anyhow::Error::new(e).context(format!(
                    "capture {name} is corrupt at byte {at}: the records before it were decoded \
                     (summary above), the rest was not"
                ))),
                None => Ok(()),
            }
        } else {
            let mut input = input;
            let mut buf = vec![0u8; RAW_CHUNK];
            let mut pos = 0u64;
            loop {
                let n = match input.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e).with_context(|| format!("cannot read {name}")),
                };
                session.feed(&name, &buf[..n], None, None, out, env)?;
                pos += n as u64;
                if let Some(bar) = &bar {
                    bar.set_position(pos);
                }
            }
            env.clear_bar();
            session.finish(out, |m, elapsed| {
                Summary::of(m, elapsed).with("input", "raw", "input: raw byte stream")
            })
        }
    }
}

/// Opens a capture file for reading; errors name the file. Returns its length too.
pub fn open_capture(path: &Path) -> anyhow::Result<(CaptureReader<BufReader<File>>, u64)> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let reader = CaptureReader::open(BufReader::new(file))
        .with_context(|| format!("cannot read capture {}", path.display()))?;
    Ok((reader, len))
}

/// Warns about a capture that ends inside a record (a recorder killed mid-write).
pub fn report_truncated<R: Read>(reader: &CaptureReader<R>, env: &mut Env) {
    if let Some(t) = reader.truncated() {
        let need = t
            .need
            .map_or("its length field".to_string(), |n| format!("{n} bytes"));
        env.warn(&format!(
            "warning: the capture ends inside its last record (at byte {}, {} of {need} present); \
             the records before it were read",
            t.offset, t.have
        ));
    }
}

/// Adds the capture header and any truncation to a summary.
pub fn capture_extras<R: Read>(summary: Summary, reader: &CaptureReader<R>) -> Summary {
    let h = reader.header();
    let created = humantime::format_rfc3339_micros(h.created).to_string();
    let schema = u64::from_le_bytes(h.schema);
    let ours = crate::version::our_schema();
    let mismatch = if schema == ours {
        String::new()
    } else {
        format!(" (this msao-host: {ours:016x})")
    };
    let truncated = reader
        .truncated()
        .map(|t| json!({ "offset": t.offset, "have": t.have, "need": t.need }));
    summary
        .with(
            "capture",
            json!({
                "format": format!("{}.{}", h.major, h.minor),
                "created": created,
                "tool": h.tool,
                "schema": format!("{schema:016x}"),
                "wire_version": h.wire_version,
            }),
            format!(
                "capture: format {}.{}, created {created} by {}, schema {schema:016x}{mismatch}",
                h.major, h.minor, h.tool
            ),
        )
        .with(
            "capture_truncated",
            truncated.clone().unwrap_or(serde_json::Value::Null),
            if truncated.is_some() {
                "capture: last record truncated (see warning)"
            } else {
                ""
            },
        )
}
