//! `embench serve`: one backend of a config behind OpenAI's and TEI's HTTP APIs.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context};
use embench_core::config::{Count, DynamicBatching, Execution, LoadedConfig, ResolvedBackend, ResolvedModel};
use embench_core::tokenize::TextTokenizer;
use embench_core::{EmbedInput, Embedder, Modality};
use embench_runner::cell::guard::{Guarded, Truncation};
use embench_runner::cell::served::{ServingPlan, SharedServer};
use embench_runner::run::execute::BackendFactory;
use embench_serve::{Limits, ServerTokenizer};

use crate::cli::ServeArgs;
use crate::factory::Factory;

/// Default wait of a forming batch when only `--max-batch-size` is given, µs.
const DEFAULT_MAX_WAIT_US: u64 = 1000;

/// Loads the backend's replicas, warms each up, and serves until SIGINT or SIGTERM.
pub async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = crate::commands::validate::load(&args.config)?;
    let model = pick_model(&config, &args.model)?.clone();
    let backend = pick_backend(&config, &args.backend)?.clone();
    let (exec, scenario_clients) = execution(&config, &args)?;
    // `auto` resolves as in a run of the scenario: against its clients.
    let concurrency = scenario_clients.unwrap_or(count(exec.replicas) * count(exec.workers_per_model));
    let plan =
        ServingPlan::resolve(&exec, concurrency, backend.threads, embench_runner::machine::host::effective_cores());
    if let Some(w) = &plan.warning {
        eprintln!("embench serve: warning: {w}");
    }
    let tokenizer = tokenizer(&model)?;
    let entry =
        ResolvedBackend { threads: Some(backend.threads.unwrap_or(plan.threads_per_replica)), ..backend.clone() };
    let padding = match &tokenizer {
        ServerTokenizer::Model { padding, .. } => *padding,
        ServerTokenizer::Words { .. } => Default::default(),
    };
    eprintln!(
        "embench serve: loading {} on {} ({} replica(s) x {} worker(s) x {} thread(s))",
        model.key, backend.label, plan.replicas, plan.workers_per_model, plan.threads_per_replica
    );
    let (replicas, dim) = tokio::task::spawn_blocking(move || load(&entry, &model, plan.replicas)).await??;
    let model = pick_model(&config, &args.model)?;
    let info = info_json(model, &backend, &plan, replicas[0].info(), dim, &args);
    let shared = SharedServer::start(replicas, plan.workers_per_model, plan.batching, padding);
    // Dynamic batching caps a formed batch; a request is never split, so none may be larger.
    let max_inputs = match plan.batching {
        Some(b) if args.max_inputs > b.max_batch_size => {
            eprintln!(
                "embench serve: at most {} inputs per request (--max-batch-size; a request is never split across batches)",
                b.max_batch_size
            );
            b.max_batch_size
        }
        _ => args.max_inputs,
    };
    let limits = Limits {
        max_body_bytes: args.max_body_bytes,
        max_inputs,
        max_in_flight: args.max_in_flight,
        body_timeout: std::time::Duration::from_millis(args.body_timeout_ms),
    };
    let state = embench_serve::state(&shared, tokenizer, limits, info, model.key.clone(), dim);
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port)).await.with_context(|| {
        format!("cannot listen on {}:{} (fix: another --port, or --port 0 for any free one)", args.host, args.port)
    })?;
    let addr = listener.local_addr()?;
    // The one line on stdout: scripts and tests read the address from it.
    println!("embench serve: listening on http://{addr}");
    eprintln!(
        "embench serve: POST /v1/embeddings (OpenAI), POST /embed (TEI), GET /health, /info, /metrics; Ctrl-C stops"
    );
    embench_serve::serve(listener, state, shared, embench_serve::shutdown_signal()).await?;
    eprintln!("embench serve: stopped");
    Ok(ExitCode::SUCCESS)
}

fn pick_model<'a>(config: &'a LoadedConfig, key: &str) -> anyhow::Result<&'a ResolvedModel> {
    match config.models.iter().find(|m| m.key == key) {
        Some(m) => Ok(m),
        None => {
            let keys: Vec<&str> = config.models.iter().map(|m| m.key.as_str()).collect();
            bail!("--model {key}: not an active model of {} (it has {})", config.config_path.display(), keys.join(", "))
        }
    }
}

fn pick_backend<'a>(config: &'a LoadedConfig, label: &str) -> anyhow::Result<&'a ResolvedBackend> {
    let Some(b) = config.backends.iter().find(|b| b.label == label) else {
        let labels: Vec<&str> = config.backends.iter().map(|b| b.label.as_str()).collect();
        bail!("--backend {label}: not a backend of {} (it has {})", config.config_path.display(), labels.join(", "))
    };
    if b.kind == embench_core::BackendKind::Http {
        bail!("--backend {label}: an http backend calls a server; serve a backend that runs the model");
    }
    Ok(b)
}

/// The scenario's execution (when `--scenario` names one), with the flags over it,
/// and the scenario's clients (what its `auto` settings resolve against).
fn execution(config: &LoadedConfig, args: &ServeArgs) -> anyhow::Result<(Execution, Option<usize>)> {
    let (base, clients) = match &args.scenario {
        None => (None, None),
        Some(name) => {
            let Some(s) = config.scenarios.iter().find(|s| &s.name == name) else {
                let names: Vec<&str> = config.scenarios.iter().map(|s| s.name.as_str()).collect();
                bail!("--scenario {name}: not in {} (it has {})", config.config_path.display(), names.join(", "))
            };
            (s.execution.clone(), Some(s.concurrency))
        }
    };
    let base =
        base.unwrap_or(Execution { replicas: Count::N(1), workers_per_model: Count::N(1), dynamic_batching: None });
    let positive = |flag: &str, v: Option<usize>| match v {
        Some(0) => bail!("{flag} 0 is impossible (fix: 1 or more)"),
        v => Ok(v),
    };
    let replicas = positive("--replicas", args.replicas)?.map_or(base.replicas, Count::N);
    let workers_per_model = positive("--workers", args.workers)?.map_or(base.workers_per_model, Count::N);
    let dynamic_batching = match (positive("--max-batch-size", args.max_batch_size)?, args.max_wait_us) {
        (Some(max_batch_size), wait) => {
            Some(DynamicBatching { max_batch_size, max_wait_us: wait.unwrap_or(DEFAULT_MAX_WAIT_US) })
        }
        (None, Some(max_wait_us)) => match base.dynamic_batching {
            Some(b) => Some(DynamicBatching { max_wait_us, ..b }),
            None => bail!("--max-wait-us without dynamic batching (fix: add --max-batch-size N)"),
        },
        (None, None) => base.dynamic_batching,
    };
    Ok((Execution { replicas, workers_per_model, dynamic_batching }, clients))
}

/// `auto` counts as one here (the serving plan resolves it).
fn count(c: Count) -> usize {
    match c {
        Count::N(n) => n,
        Count::Auto => 1,
    }
}

/// The model's tokenizer, or one id per word for a model without one (the mock).
fn tokenizer(model: &ResolvedModel) -> anyhow::Result<ServerTokenizer> {
    let max_len = model.config.max_seq_length.value;
    match model.folder.as_ref().map(|f| f.tokenizer_json()).filter(|p| p.is_file()) {
        Some(path) => {
            let t = TextTokenizer::from_file(&path, max_len).map_err(|e| anyhow::anyhow!(e))?;
            ServerTokenizer::model(&t).map_err(|e| anyhow::anyhow!(e))
        }
        None => Ok(ServerTokenizer::Words { max_len }),
    }
}

/// `n` instances of the backend, each guarded and warmed up with one request; and
/// the dimension of their vectors.
fn load(entry: &ResolvedBackend, model: &ResolvedModel, n: usize) -> anyhow::Result<(Vec<Box<dyn Embedder>>, usize)> {
    let truncation = model.truncate_dim.map(|dim| Truncation { dim, normalize: model.pooling.normalize });
    let (warm, _) = tokenizer(model)?.texts(&["warm up"], true).map_err(|e| anyhow::anyhow!("warm-up input: {e}"))?;
    let mut replicas: Vec<Box<dyn Embedder>> = Vec::new();
    let mut dim = 0;
    for r in 0..n {
        let inner = Factory
            .load(entry, model, Modality::Text)
            .with_context(|| format!("loading replica {} of {} on {}", r + 1, model.key, entry.label))?;
        let guarded = Guarded::new(inner, Arc::default(), truncation);
        let out =
            guarded.embed_input(EmbedInput::Text(&warm)).with_context(|| format!("warming up replica {}", r + 1))?;
        dim = out.dim;
        replicas.push(Box::new(guarded));
    }
    Ok((replicas, dim))
}

/// `GET /info`: what is served and how.
fn info_json(
    model: &ResolvedModel,
    backend: &ResolvedBackend,
    plan: &ServingPlan,
    info: &embench_core::BackendInfo,
    dim: usize,
    args: &ServeArgs,
) -> serde_json::Value {
    serde_json::json!({
        "server": "embench serve",
        "version": env!("CARGO_PKG_VERSION"),
        "git_commit": env!("EMBENCH_GIT_COMMIT"),
        "model": model.key,
        "architecture": model.architecture.map(|a| a.to_string()),
        "label": backend.label,
        "backend": info,
        "dimension": dim,
        "normalized": model.pooling.normalize,
        "max_input_tokens": model.config.max_seq_length.value,
        "execution": {
            "replicas": plan.replicas,
            "workers_per_model": plan.workers_per_model,
            "threads_per_replica": plan.threads_per_replica,
            "max_batch_size": plan.batching.map(|b| b.max_batch_size),
            "max_wait_us": plan.batching.map(|b| b.max_wait_us),
        },
        "limits": {
            "max_body_bytes": args.max_body_bytes,
            "max_inputs": args.max_inputs,
            "max_in_flight": args.max_in_flight,
        },
    })
}
