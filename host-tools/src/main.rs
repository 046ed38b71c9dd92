//! The `msao-host` binary: parses the command line and dispatches; nothing else.
use clap::Parser;
use msao_host::{cmd::Cli, env::Env};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut env = Env::process();
    let stdout = std::io::stdout();
    let result = cli.command.run(&mut stdout.lock(), &mut env);
    msao_host::cmd::exit_code(result, &mut env)
}
