//! `msao-host`: the host side of MSAO Edge — listen to, record, replay and decode the
//! postcard telemetry frames that `msao-agent` streams.
//!
//! The binary (`main.rs`) only parses the command line and dispatches to [`cmd`]; every
//! subcommand writes its output to an `impl Write`, so tests run commands in-process.
//!
//! | module      | owns |
//! |-------------|------|
//! | [`agent`]   | the shipped `msao-agent` as a child process: its binary, its answers file |
//! | [`cmd`]     | the command line: one file per subcommand (`listen`, `record`, `replay`, `decode`, `demo`, `profile`) |
//! | [`capability`] | the capability document (`profile --out`), its summary and comparison |
//! | [`live`]    | the shared receive loop: stop conditions (count, duration, Ctrl-C) and feeding the view |
//! | [`monitor`] | per-peer decoders, the device table, drop counters, once-per-device schema warnings |
//! | [`render`]  | output: JSON lines, human frame lines, the live device table, summaries |
//! | [`cloud`]   | the reference cloud endpoint: OIP v2 REST server for the cloud models (`cloud` command) |
//! | [`capture`] | the capture file format (`spec/capture-format.md`): header, records, writer, reader |
//! | [`split`]   | cutting received byte chunks into frames at `0x00`, per source |
//! | [`ingest`]  | one receiver thread per transport URL, all feeding one bounded channel |
//! | [`env`](mod@env) | what a command gets from its process: stderr, the shutdown flag, terminal facts |
//! | [`args`]    | command-line value types: replay speed, durations |
//! | [`version`] | the `--version` text (msao build info) |
//! | [`workload`] | the camera-size workload generator (`workload` command) |
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod agent;
pub mod args;
pub mod bench;
pub mod capability;
pub mod capture;
pub mod cloud;
pub mod cmd;
pub mod env;
pub mod ingest;
pub mod live;
pub mod monitor;
pub mod render;
pub mod split;
pub mod version;
pub mod workload;
