//! A pool of worker processes that run a model out of embench's process and speak
//! embench's pipe protocol: the Python workers (`scripts/python/embench_worker.py`)
//! and ort-native's C++ worker (`crates/embench-ort-native/cpp/`).
//!
//! Protocol (little-endian) on the worker's stdin/stdout:
//! - after loading, one JSON line ([`Hello`]): `{"ok": true, "framework", "version",
//!   "precision", "threads", "settings"}` or `{"ok": false, "error"}`;
//! - request, text: u32 rows, u32 seq, then i64 `input_ids`, `attention_mask`,
//!   `token_type_ids` (`[rows, seq]` each); images: u32 rows, u32 values per image
//!   (3·H·W), then f32 pixels `[rows, 3, H, W]`;
//! - reply: u32 0, u32 rows, u32 dim, f32 `[rows, dim]`; or u32 1, u32 n, n bytes of
//!   UTF-8 error message. EOF on stdin ends the worker.
//!
//! A worker serves one request at a time; concurrent requests draw from the pool,
//! and wait when every worker is busy. Workers' RSS and CPU time count as the
//! backend's ([`crate::children`]).

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Condvar, Mutex};

use serde::Deserialize;

use crate::{BackendInfo, EmbedError, EmbedInput, Embedder, Embeddings, Phase, PixelBatch, TokenizedBatch};

/// The first line a worker writes: what it loaded and ran, or why it could not.
#[derive(Debug, Clone, Deserialize)]
pub struct Hello {
    ok: bool,
    #[serde(default)]
    error: Option<String>,
    /// The framework as the worker names it, e.g. `onnxruntime (python)`.
    #[serde(default)]
    pub framework: String,
    /// The framework's version, as the framework reports it.
    #[serde(default)]
    pub version: String,
    /// The precision it runs: `fp32`, `bf16` or `fp16`.
    #[serde(default)]
    pub precision: String,
    /// Intra-op threads it set.
    #[serde(default)]
    pub threads: usize,
    /// Settings it reports (what it asked of the framework, or read back), for the record.
    #[serde(default)]
    pub settings: std::collections::BTreeMap<String, String>,
}

/// How to start one worker, and what to call it in messages.
pub struct WorkerCommand<'a> {
    /// Builds the command (program and arguments); called once per worker.
    pub build: &'a dyn Fn() -> Command,
    /// The worker in messages, e.g. `the Python worker (/path/to/python)`.
    pub what: String,
    /// The fix when a worker dies before its hello line.
    pub fix: &'a str,
}

/// The longest error message a reply may carry, bytes.
const MAX_ERROR_BYTES: usize = 1 << 20;

/// The most values a reply may carry (`rows x dim`): 1 GiB of f32.
const MAX_REPLY_VALUES: usize = 1 << 28;

/// One worker process.
struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// Set once its pipe broke: every later request gets this error.
    dead: Option<String>,
    what: String,
    /// Its stderr's last lines, for the message when it dies mid-run.
    stderr: StderrTail,
}

impl Worker {
    fn spawn(command: &WorkerCommand<'_>) -> Result<(Worker, Hello), String> {
        let mut cmd = (command.build)();
        // When this process ends, however it ends, the worker reads EOF and exits; a
        // worker stuck inside the framework goes with embench's worker process group,
        // which `embench run` kills on a timeout. (No parent-death signal: it fires when
        // the spawning *thread* exits, and replicas may load on short-lived threads.)
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| format!("starting {}: {e}", command.what))?;
        let stderr = StderrTail::follow(child.stderr.take().expect("piped stderr"));
        let stdin = child.stdin.take().expect("piped stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        let read = stdout.read_line(&mut line);
        let hello: Option<Hello> = serde_json::from_str(line.trim()).ok();
        match (read, hello) {
            (Ok(_), Some(h)) if h.ok => {
                crate::children::register(child.id());
                Ok((Worker { child, stdin, stdout, dead: None, what: command.what.clone(), stderr }, h))
            }
            (_, Some(h)) => {
                drop(stdin);
                let _ = end(&mut child);
                Err(format!("{} could not load: {}", command.what, h.error.unwrap_or_default()))
            }
            (_, None) => {
                // EOF on its stdin, then a kill if it does not go: a worker that wrote
                // something else than a hello line may still be waiting for requests.
                drop(stdin);
                let status = end(&mut child);
                Err(format!(
                    "{} ended before it was ready ({status}); its stderr ended: {} (fix: {})",
                    command.what,
                    stderr.finish(),
                    command.fix
                ))
            }
        }
    }

    fn embed(&mut self, input: EmbedInput<'_>) -> Result<Embeddings, String> {
        if let Some(why) = &self.dead {
            return Err(why.clone());
        }
        let result = self.round_trip(&request_bytes(input));
        if let Err(RoundTrip::Pipe(e)) = &result {
            let status = exit_status_within(&mut self.child, std::time::Duration::from_millis(500))
                .map_or_else(|| "still running".to_string(), |s| s.to_string());
            self.dead = Some(format!(
                "{}'s pipe broke ({e}; worker {status}); its stderr ended: {}",
                self.what,
                self.stderr.last_lines()
            ));
        }
        result.map_err(|e| match e {
            RoundTrip::Pipe(_) => self.dead.clone().unwrap_or_default(),
            RoundTrip::Failed(msg) => msg,
        })
    }

    fn round_trip(&mut self, msg: &[u8]) -> Result<Embeddings, RoundTrip> {
        self.stdin.write_all(msg).map_err(RoundTrip::Pipe)?;
        self.stdin.flush().map_err(RoundTrip::Pipe)?;
        let mut head = [0u8; 8];
        self.stdout.read_exact(&mut head).map_err(RoundTrip::Pipe)?;
        let word = |b: &[u8]| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize;
        // A reply header out of the protocol (something else written to the pipe) would
        // otherwise have us allocate gigabytes: the stream is lost, as on a broken pipe.
        let garbled = |what: String| {
            RoundTrip::Pipe(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("a reply out of the protocol: {what}"),
            ))
        };
        if word(&head[..4]) != 0 {
            if word(&head[..4]) != 1 || word(&head[4..]) > MAX_ERROR_BYTES {
                return Err(garbled(format!("status {}, length {}", word(&head[..4]), word(&head[4..]))));
            }
            let mut text = vec![0u8; word(&head[4..])];
            self.stdout.read_exact(&mut text).map_err(RoundTrip::Pipe)?;
            return Err(RoundTrip::Failed(String::from_utf8_lossy(&text).into_owned()));
        }
        let out_rows = word(&head[4..]);
        let mut dim = [0u8; 4];
        self.stdout.read_exact(&mut dim).map_err(RoundTrip::Pipe)?;
        let dim = word(&dim);
        if out_rows.saturating_mul(dim) > MAX_REPLY_VALUES {
            return Err(garbled(format!("{out_rows} x {dim} values")));
        }
        let mut bytes = vec![0u8; out_rows * dim * 4];
        self.stdout.read_exact(&mut bytes).map_err(RoundTrip::Pipe)?;
        let data = bytes.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))).collect();
        Ok(Embeddings { rows: out_rows, dim, data })
    }
}

/// The child's exit status once it has exited, waiting at most `patience`.
fn exit_status_within(child: &mut Child, patience: std::time::Duration) -> Option<std::process::ExitStatus> {
    let until = std::time::Instant::now() + patience;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if std::time::Instant::now() < until => std::thread::sleep(std::time::Duration::from_millis(10)),
            _ => return None,
        }
    }
}

/// Waits up to 2 s for a worker whose stdin is closed to exit, kills it if it has
/// not, and returns how it ended.
fn end(child: &mut Child) -> String {
    if let Some(status) = exit_status_within(child, std::time::Duration::from_secs(2)) {
        return status.to_string();
    }
    let _ = child.kill();
    child.wait().map_or_else(|e| e.to_string(), |s| format!("{s}, killed after its stdin closed"))
}

/// One request in the protocol: text, u32 rows, u32 seq, then i64 ids, mask and
/// segments; images, u32 rows, u32 values per image (3·H·W), then f32 pixels.
fn request_bytes(input: EmbedInput<'_>) -> Vec<u8> {
    match input {
        EmbedInput::Text(batch) => {
            let (rows, seq) = (batch.batch_size, batch.seq_len);
            let mut msg = Vec::with_capacity(8 + 3 * rows * seq * 8);
            msg.extend_from_slice(&(rows as u32).to_le_bytes());
            msg.extend_from_slice(&(seq as u32).to_le_bytes());
            for values in [&batch.input_ids, &batch.attention_mask, &batch.token_type_ids] {
                for v in values.iter() {
                    msg.extend_from_slice(&v.to_le_bytes());
                }
            }
            msg
        }
        EmbedInput::Image(PixelBatch { batch_size, height, width, pixels }) => {
            let mut msg = Vec::with_capacity(8 + pixels.len() * 4);
            msg.extend_from_slice(&(*batch_size as u32).to_le_bytes());
            msg.extend_from_slice(&((3 * height * width) as u32).to_le_bytes());
            for v in pixels {
                msg.extend_from_slice(&v.to_le_bytes());
            }
            msg
        }
    }
}

/// A worker's stderr, passed through to embench's and its last lines kept, so that
/// a worker that dies before it is ready is recorded with its own last words.
struct StderrTail {
    lines: std::sync::Arc<Mutex<std::collections::VecDeque<String>>>,
    reader: std::thread::JoinHandle<()>,
}

impl StderrTail {
    /// Lines kept.
    const KEEP: usize = 8;

    fn follow(stderr: std::process::ChildStderr) -> Self {
        let lines = std::sync::Arc::new(Mutex::new(std::collections::VecDeque::new()));
        let kept = lines.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("{line}");
                let mut kept = kept.lock().unwrap_or_else(|e| e.into_inner());
                if kept.len() == Self::KEEP {
                    kept.pop_front();
                }
                kept.push_back(line);
            }
        });
        Self { lines, reader }
    }

    /// The last lines, one after another, once the worker has exited (its stderr closed).
    fn finish(self) -> String {
        let StderrTail { lines, reader } = self;
        let _ = reader.join();
        StderrTail::joined(&lines)
    }

    /// The last lines read so far, one after another.
    fn last_lines(&self) -> String {
        StderrTail::joined(&self.lines)
    }

    fn joined(lines: &Mutex<std::collections::VecDeque<String>>) -> String {
        let lines = lines.lock().unwrap_or_else(|e| e.into_inner());
        if lines.is_empty() {
            "nothing".into()
        } else {
            lines.iter().map(|l| l.trim()).collect::<Vec<_>>().join(" | ")
        }
    }
}

enum RoundTrip {
    Pipe(std::io::Error),
    Failed(String),
}

impl Drop for Worker {
    fn drop(&mut self) {
        crate::children::unregister(self.child.id());
        // EOF on its stdin ends the worker; kill it if it does not go.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Worker processes serving one model, one request each at a time.
pub struct WorkerPool {
    idle: Mutex<Vec<Worker>>,
    returned: Condvar,
    framework: &'static str,
}

impl WorkerPool {
    /// Starts `processes` workers (at least one), one after another, each loading the
    /// model; returns the pool and the last worker's [`Hello`].
    ///
    /// Errors (phase load): a worker that cannot start, says it could not load the
    /// model, or dies before its hello line (with the last lines of its stderr).
    pub fn start(
        framework: &'static str,
        command: &WorkerCommand<'_>,
        processes: usize,
    ) -> Result<(Self, Hello), EmbedError> {
        let mut workers = Vec::with_capacity(processes.max(1));
        let mut hello = None;
        for _ in 0..processes.max(1) {
            let (w, h) = Worker::spawn(command).map_err(|m| EmbedError::new(framework, Phase::Load, m))?;
            workers.push(w);
            hello = Some(h);
        }
        let pool = Self { idle: Mutex::new(workers), returned: Condvar::new(), framework };
        Ok((pool, hello.expect("at least one worker")))
    }

    /// The vectors of `input` (`[rows, dim]`) from the next idle worker.
    ///
    /// Errors (phase inference): the worker's own error message, or its broken pipe
    /// (that worker then fails every later request with the same message).
    pub fn embed(&self, input: EmbedInput<'_>) -> Result<Embeddings, EmbedError> {
        let mut worker = {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if let Some(w) = idle.pop() {
                    break w;
                }
                idle = self.returned.wait(idle).unwrap_or_else(|e| e.into_inner());
            }
        };
        let result = worker.embed(input);
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).push(worker);
        self.returned.notify_one();
        result.map_err(|m| EmbedError::new(self.framework, Phase::Inference, m))
    }
}

/// A model served by a [`WorkerPool`], with what its backend records: the
/// [`Embedder`] of every backend that runs its model in worker processes.
pub struct PipeEmbedder {
    workers: WorkerPool,
    info: BackendInfo,
}

impl PipeEmbedder {
    /// The embedder of `workers`, recorded as `info`.
    pub fn new(workers: WorkerPool, info: BackendInfo) -> Self {
        Self { workers, info }
    }
}

impl Embedder for PipeEmbedder {
    fn info(&self) -> &BackendInfo {
        &self.info
    }

    fn embed(&self, batch: &TokenizedBatch) -> Result<Embeddings, EmbedError> {
        self.workers.embed(EmbedInput::Text(batch))
    }

    fn embed_input(&self, input: EmbedInput<'_>) -> Result<Embeddings, EmbedError> {
        self.workers.embed(input)
    }
}
