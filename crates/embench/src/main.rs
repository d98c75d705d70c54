//! `embench`: benchmark embedding-model inference across frameworks.

mod cli;
mod commands;
mod factory;
mod progress;
mod summary;

use clap::Parser;

/// glibc's allocator thresholds for a process that runs the same model again and
/// again: a transformer's activations (hundreds of KiB to MiBs each) come back from
/// the heap instead of being mapped and unmapped, and page-faulted in, on every
/// request. glibc adapts its mmap threshold by itself in some processes and not in
/// others; measured on libtorch at batch 1 this was 37–39 against 43.7 requests/s.
/// Python worker processes keep glibc's defaults; ort-native's C++ worker sets the same
/// thresholds (crates/embench-ort-native/cpp/ort_native_worker.cpp).
fn tune_allocator() {
    // SAFETY: mallopt only sets allocator parameters; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 << 20);
    }
}

fn main() -> std::process::ExitCode {
    tune_allocator();
    let cli = cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("EMBENCH_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    // One reactor thread drives a run; a server's handlers get one per usable core
    // (inference runs on the replicas' own threads either way).
    let reactor_threads = match &cli.command {
        cli::Command::Serve(args) => args.http_threads.unwrap_or_else(embench_runner::machine::host::effective_cores),
        _ => 1,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(reactor_threads.max(1))
        .enable_all()
        .build()
        .expect("starting the tokio runtime");
    match runtime.block_on(commands::dispatch(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
