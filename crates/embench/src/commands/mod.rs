//! Subcommands.

mod compare;
mod fetch;
mod list;
mod report;
mod run;
mod schema;
mod serve;
mod sysinfo;
mod validate;
mod worker;

use std::process::ExitCode;

use crate::cli::{Cli, Command};

/// Runs the chosen subcommand.
pub async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run(mut args) => {
            args.config = args.config.take().or(args.config_file.take());
            run::run(args).await
        }
        Command::Validate(args) => validate::validate(&args),
        Command::Report(args) => report::report(&args),
        Command::Compare(args) => compare::compare(&args),
        Command::Sysinfo(args) => sysinfo::sysinfo(&args),
        Command::List(args) => list::list(&args),
        Command::Schema(args) => schema::schema(&args),
        Command::Completions(args) => {
            use clap::CommandFactory;
            clap_complete::generate(args.shell, &mut Cli::command(), "embench", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Worker(args) => worker::worker(args).await,
        Command::Serve(args) => serve::serve(args).await,
    }
}
