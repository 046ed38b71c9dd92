//! `msao-agent`: parses the command line and config, then runs the agent.
//!
//! Exit codes: 0 after a clean stop (signal or `--duration`), 2 for a usage or config
//! error, 1 when the agent cannot run (`check`: 1 on a blocking problem).

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use anyhow::Context;
use clap::Parser;
use msao_agent::{
    agent, check,
    cli::{Cli, Command},
    config::Settings,
};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let settings = match Settings::resolve(&cli) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(Command::Check { json }) = cli.command {
        let checks = check::run(&settings);
        if json {
            let doc = serde_json::json!({"ready": !check::blocking(&checks), "checks": checks});
            println!("{doc}");
        } else {
            print!("{}", check::render(&checks));
        }
        return if check::blocking(&checks) {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        };
    }
    match run(&settings) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(settings: &Settings) -> anyhow::Result<()> {
    agent::run(settings).with_context(|| format!("msao-agent `{}` failed", settings.device_id))?;
    Ok(())
}
