//! What a command gets from its process: where warnings go, the shutdown flag (Ctrl-C),
//! whether stdout/stderr are terminals, and who hears about bound endpoints.
//!
//! Commands never touch `std::io::stderr()` or signals directly, so a test builds an
//! [`Env::captured`] and reads the warnings back.
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use msao::transport::Endpoint;
use std::{
    io::{self, IsTerminal, Write},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

/// Set once when the user asks to stop (Ctrl-C, SIGTERM); commands poll it and end cleanly.
#[derive(Debug, Clone, Default)]
pub struct Shutdown(Arc<AtomicBool>);

impl Shutdown {
    /// Asks every loop polling this flag to stop.
    pub fn request(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    /// True once a stop was requested.
    pub fn requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Called with the actual endpoints once receivers are bound (port 0 resolved).
pub type ListeningHook = Box<dyn FnMut(&[Endpoint]) + Send>;

/// A command's surroundings.
pub struct Env {
    /// Warnings and notices (stderr in the binary).
    pub err: Box<dyn Write + Send>,
    /// Stop request flag.
    pub shutdown: Shutdown,
    /// stdout is a terminal: the live table redraws in place with ANSI escapes.
    pub stdout_tty: bool,
    /// stderr is a terminal: progress bars and spinners are drawn.
    pub stderr_tty: bool,
    /// Told the bound endpoints; `None` prints `listening on …` to [`Env::err`].
    pub on_listening: Option<ListeningHook>,
    /// A progress bar currently drawn on stderr; warnings suspend it while they print.
    bar: Option<ProgressBar>,
}

impl Env {
    /// The real process: stderr, Ctrl-C/SIGTERM handler, terminal detection.
    pub fn process() -> Self {
        let shutdown = Shutdown::default();
        let flag = shutdown.clone();
        // First Ctrl-C asks for a clean stop (summary printed); a second one exits at once.
        let installed = ctrlc::set_handler(move || {
            if flag.requested() {
                std::process::exit(130);
            }
            flag.request();
        });
        let mut env = Self {
            err: Box::new(io::stderr()),
            shutdown,
            stdout_tty: io::stdout().is_terminal(),
            stderr_tty: io::stderr().is_terminal(),
            on_listening: None,
            bar: None,
        };
        if let Err(e) = installed {
            env.warn(&format!(
                "cannot install the Ctrl-C handler ({e}); Ctrl-C will end without a summary"
            ));
        }
        env
    }

    /// An environment whose stderr is collected in the returned buffer; no terminal, no
    /// signal handler (tests call [`Shutdown::request`] themselves).
    pub fn captured() -> (Self, SharedBuf) {
        let buf = SharedBuf::default();
        let env = Self {
            err: Box::new(buf.clone()),
            shutdown: Shutdown::default(),
            stdout_tty: false,
            stderr_tty: false,
            on_listening: None,
            bar: None,
        };
        (env, buf)
    }

    /// Prints one line to stderr (above any progress bar). A broken stderr is ignored:
    /// warnings must never end a capture.
    pub fn warn(&mut self, line: &str) {
        let err = &mut self.err;
        let mut write = || {
            let _ = writeln!(err, "{line}");
            let _ = err.flush();
        };
        match &self.bar {
            Some(bar) => bar.suspend(write),
            None => write(),
        }
    }

    /// Reports bound endpoints to the hook, or as `listening on …` lines.
    pub fn listening(&mut self, endpoints: &[Endpoint]) {
        if let Some(hook) = self.on_listening.as_mut() {
            hook(endpoints);
        } else {
            for e in endpoints {
                self.warn(&format!("listening on {e}"));
            }
        }
    }

    /// A spinner on stderr (hidden unless stderr is a terminal), registered so warnings
    /// print above it; set its text with `set_message`.
    pub fn spinner(&mut self) -> ProgressBar {
        let bar = if self.stderr_tty {
            ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        if let Ok(style) = ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}") {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(120));
        self.bar = Some(bar.clone());
        bar
    }

    /// A byte-position progress bar of `len` bytes (hidden unless stderr is a terminal).
    pub fn byte_bar(&mut self, len: u64) -> ProgressBar {
        let bar = if self.stderr_tty {
            ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        if let Ok(style) = ProgressStyle::with_template(
            "{elapsed_precise} [{wide_bar}] {bytes}/{total_bytes} {msg}",
        ) {
            bar.set_style(style);
        }
        self.bar = Some(bar.clone());
        bar
    }

    /// A progress bar counting `len` steps (hidden unless stderr is a terminal).
    pub fn count_bar(&mut self, len: u64) -> ProgressBar {
        let bar = if self.stderr_tty {
            ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        if let Ok(style) =
            ProgressStyle::with_template("{elapsed_precise} [{wide_bar}] {pos}/{len} {msg}")
        {
            bar.set_style(style);
        }
        self.bar = Some(bar.clone());
        bar
    }

    /// Removes the progress bar from the terminal.
    pub fn clear_bar(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// A cloneable in-memory writer: the stderr of [`Env::captured`].
#[derive(Debug, Clone, Default)]
pub struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl SharedBuf {
    /// Everything written so far, lossily as UTF-8.
    pub fn contents(&self) -> String {
        match self.0.lock() {
            Ok(v) => String::from_utf8_lossy(&v).into_owned(),
            Err(poisoned) => String::from_utf8_lossy(&poisoned.into_inner()).into_owned(),
        }
    }
}

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut v = self
            .0
            .lock()
            .map_err(|_| io::Error::other("stderr buffer poisoned"))?;
        v.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
