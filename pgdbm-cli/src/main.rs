//! `pgdbm`: the command line of the pgdbm library.
//!
//! It reads the Python library's `pgdbm.toml` (environments, modules with
//! their schemas and dependencies), so a project that has one keeps it, and
//! drives the library's migrator and introspection. Without a config file it
//! uses `DATABASE_URL` and `./migrations`. Exit codes: 0 ok, 1 failure, 2
//! usage (clap's own code for bad arguments).

mod args;
mod commands;
mod config;
mod error;
mod output;

use std::process::ExitCode;

use clap::Parser;

use crate::args::Cli;
use crate::output::Out;

fn main() -> ExitCode {
    // `exit` prints clap's message and exits 2 for usage errors, 0 for
    // `--help` / `--version`.
    let cli = Cli::try_parse().unwrap_or_else(|e| e.exit());
    let out = Out::new(cli.json);
    // One command at a time: a current-thread runtime, no worker threads.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            out.error(&error::CliError::failure("could not start the runtime").with_source(e));
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(commands::run(cli, &out)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            out.error(&e);
            ExitCode::from(e.exit_code())
        }
    }
}
