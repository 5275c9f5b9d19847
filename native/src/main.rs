//! `cse`: client-side encryption for S3-compatible storage, byte-compatible with the AWS
//! Encryption SDK. See `cse --help`.
#![forbid(unsafe_code)]

mod cli;
mod commands;
mod config;
mod error;
mod inspect;
mod keys;
mod local;
mod output;
mod printer;
mod resume;
mod s3url;
mod settings;
mod signal;
mod transfer;
mod verify;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use crate::cli::{Cli, Command};
use crate::config::Config;
use crate::error::Failure;

// Transfers allocate and free part-sized buffers on several threads. With glibc's allocator
// much of that memory stays mapped (the download peak of 10 parts in flight measured 174 MiB);
// jemalloc reuses it (133 MiB).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    // First, while the process has one thread: reading the umask means setting it.
    output::init_umask();
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    // Every setting is resolved and checked here, before any work.
    let result = Config::build(&cli, &matches).and_then(|config| run(&cli, &config));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            error::say(&f.to_string());
            f.exit_code()
        }
    }
}

fn run(cli: &Cli, config: &Config) -> Result<(), Failure> {
    match &cli.command {
        Command::Keygen(args) => {
            keys::keygen(args)?;
            printer::keygen(args, config.output);
            return Ok(());
        }
        Command::Encrypt(args) => {
            signal::exit_on_signal()?;
            let done = local::encrypt(args, config)?;
            let (input, output) = (&args.input, &args.output);
            return printer::message("encrypt", input, output, args.json, &done, config.output);
        }
        Command::Decrypt(args) => {
            signal::exit_on_signal()?;
            let done = local::decrypt(args, config)?;
            let (input, output) = (&args.input, &args.output);
            return printer::message("decrypt", input, output, args.json, &done, config.output);
        }
        Command::Inspect(args) => {
            let facts = inspect::run(args, config)?;
            return printer::inspected(args, &facts);
        }
        _ => {}
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::other(format!("async runtime: {e}")))?;
    runtime.block_on(async {
        signal::install()?;
        // Transfers watch for Ctrl-C, SIGTERM and SIGHUP themselves (they abort uploads and
        // remove unfinished files); anything still running well after it is stopped here.
        tokio::select! {
            r = commands::run(cli, config) => r,
            _ = signal::interrupted_grace() => {
                output::remove_all();
                Err(Failure::interrupted("interrupted"))
            }
        }
    })
}
