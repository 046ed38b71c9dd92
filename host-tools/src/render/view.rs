//! Choosing the output for a stream of frames and redrawing the live table.
//!
//! * JSON: one line per frame, flushed per line, then one summary line.
//! * Live table on a terminal: redrawn in place every [`View::interval`] with ANSI escapes
//!   (cursor up, clear to end of screen), lines cut to the terminal width so the redraw
//!   stays aligned.
//! * Live table elsewhere (a pipe, a log): one `key value` line per device every
//!   [`PLAIN_INTERVAL`].
//! * Frame lines (`decode`): one human line per frame.
//!
//! Every mode ends with the summary; table modes print the final table above it.
use super::{Summary, json, table, text};
use crate::monitor::{Monitor, Observed};
use std::{
    io::{self, Write},
    time::{Duration, Instant},
};

/// Redraw period of the live table on a terminal (~2×/s).
pub const TTY_INTERVAL: Duration = Duration::from_millis(500);
/// Period of plain device lines when stdout is not a terminal.
pub const PLAIN_INTERVAL: Duration = Duration::from_secs(2);

/// Output mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// JSON lines.
    Json,
    /// Live table redrawn in place (ANSI).
    LiveAnsi,
    /// Live table as periodic plain lines.
    LivePlain,
    /// One human line per frame.
    FrameLines,
}

/// Renders observed frames in one [`Mode`].
#[derive(Debug)]
pub struct View {
    mode: Mode,
    /// Time between live redraws.
    pub interval: Duration,
    last_draw: Option<Instant>,
    drawn: usize,
}

impl View {
    /// A view in `mode` with its default interval.
    pub fn new(mode: Mode) -> Self {
        let interval = if mode == Mode::LiveAnsi {
            TTY_INTERVAL
        } else {
            PLAIN_INTERVAL
        };
        Self {
            mode,
            interval,
            last_draw: None,
            drawn: 0,
        }
    }

    /// `listen`'s choice: JSON, or the live table (ANSI only on a terminal).
    pub fn live(json: bool, stdout_tty: bool) -> Self {
        Self::new(match (json, stdout_tty) {
            (true, _) => Mode::Json,
            (false, true) => Mode::LiveAnsi,
            (false, false) => Mode::LivePlain,
        })
    }

    /// The mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Renders one frame (JSON and frame-line modes; live modes only count it).
    pub fn observed(&mut self, out: &mut impl Write, o: &Observed) -> io::Result<()> {
        match self.mode {
            Mode::Json => {
                writeln!(out, "{}", json::frame(o))?;
                out.flush()
            }
            Mode::FrameLines => writeln!(out, "{}", text::frame_line(o)),
            Mode::LiveAnsi | Mode::LivePlain => Ok(()),
        }
    }

    /// Something else wrote to the terminal (a warning): the next redraw starts below it.
    pub fn interrupted(&mut self) {
        self.drawn = 0;
    }

    /// Redraws the live table when due.
    pub fn tick(&mut self, out: &mut impl Write, monitor: &Monitor) -> io::Result<()> {
        let now = Instant::now();
        if self
            .last_draw
            .is_some_and(|t| now.duration_since(t) < self.interval)
        {
            return Ok(());
        }
        match self.mode {
            Mode::LiveAnsi => {
                self.last_draw = Some(now);
                let width = console::Term::stdout()
                    .size_checked()
                    .map_or(usize::MAX, |(_, w)| usize::from(w));
                let lines: Vec<String> = table::lines(monitor.rows(), now)
                    .into_iter()
                    .map(|l| cut(&l, width.saturating_sub(1)))
                    .collect();
                self.erase(out)?;
                for l in &lines {
                    writeln!(out, "{l}")?;
                }
                self.drawn = lines.len();
                out.flush()
            }
            Mode::LivePlain => {
                // The first period starts now: a short run prints only the final table.
                let Some(_) = self.last_draw.replace(now) else {
                    return Ok(());
                };
                let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
                for l in table::plain_lines(monitor.rows(), now) {
                    writeln!(out, "{stamp} {l}")?;
                }
                out.flush()
            }
            Mode::Json | Mode::FrameLines => Ok(()),
        }
    }

    fn erase(&mut self, out: &mut impl Write) -> io::Result<()> {
        if self.drawn > 0 {
            write!(out, "\x1b[{}A\x1b[J", self.drawn)?;
            self.drawn = 0;
        }
        Ok(())
    }

    /// The final table (table modes) and the summary.
    pub fn finish(
        &mut self,
        out: &mut impl Write,
        monitor: &Monitor,
        summary: &Summary,
    ) -> io::Result<()> {
        match self.mode {
            Mode::Json => writeln!(out, "{}", summary.json())?,
            mode => {
                if mode == Mode::LiveAnsi {
                    self.erase(out)?;
                } else if mode == Mode::FrameLines && monitor.totals().events() > 0 {
                    writeln!(out)?;
                }
                for l in table::lines(monitor.rows(), Instant::now()) {
                    writeln!(out, "{l}")?;
                }
                writeln!(out)?;
                for l in summary.human() {
                    writeln!(out, "{l}")?;
                }
            }
        }
        out.flush()
    }
}

/// Cuts a line to `width` characters.
fn cut(line: &str, width: usize) -> String {
    line.chars().take(width).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ansi_table_redraws_over_itself() {
        let monitor = Monitor::new();
        let mut view = View::new(Mode::LiveAnsi);
        view.interval = Duration::ZERO;
        let mut out = Vec::new();
        view.tick(&mut out, &monitor).unwrap();
        let first = String::from_utf8(out.clone()).unwrap();
        assert!(
            first.starts_with("DEVICE") && first.contains("(no frames yet)"),
            "{first}"
        );
        out.clear();
        view.tick(&mut out, &monitor).unwrap();
        let second = String::from_utf8(out.clone()).unwrap();
        assert!(second.starts_with("\x1b[2A\x1b[J"), "{second:?}");
        // After a warning the table is drawn below it, not over it.
        view.interrupted();
        out.clear();
        view.tick(&mut out, &monitor).unwrap();
        assert!(String::from_utf8(out).unwrap().starts_with("DEVICE"));
    }

    #[test]
    fn plain_mode_never_writes_escapes() {
        let monitor = Monitor::new();
        let mut view = View::new(Mode::LivePlain);
        view.interval = Duration::ZERO;
        let mut out = Vec::new();
        for _ in 0..3 {
            view.tick(&mut out, &monitor).unwrap();
        }
        let summary = Summary::of(&monitor, Duration::from_secs(1));
        view.finish(&mut out, &monitor, &summary).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains('\x1b'), "{text:?}");
        assert!(text.contains("summary: 0 frames decoded"), "{text}");
    }
}
