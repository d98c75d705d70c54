//! The python-* backends: a model in a Python framework (ONNX Runtime, PyTorch
//! eager or TorchScript, OpenVINO), run by `scripts/python/embench_worker.py` in
//! worker processes of the project venv's python, and driven over pipes.
//!
//! embench's runner measures them like any backend: the latency of a request is
//! from the moment embench hands the token ids to the worker to the moment the
//! pooled vectors are back, so it includes what a Python service pays per request
//! (building tensors, the framework call, pooling) plus the pipe round trip, which
//! the `python-echo` worker measures on its own.
//!
//! Concurrent requests draw from a pool of `processes` workers (the GIL makes one
//! process one request at a time); their RSS and CPU time are counted as the
//! backend's ([`embench_core::children`]).

#![warn(missing_docs)]

pub mod backend;
pub use backend::PythonBackend;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Condvar, Mutex};

use embench_core::pooling::Pooling;
use embench_core::{
    BackendInfo, EmbedError, EmbedInput, Embedder, Embeddings, Modality, Phase, PixelBatch, Precision, TokenizedBatch,
};
use serde::Deserialize;

/// The worker script, embedded so the binary does not depend on where it runs from.
pub const WORKER_SCRIPT: &str = include_str!("../../../scripts/python/embench_worker.py");

/// Environment variable naming the python interpreter (default: the project venv's).
pub const PYTHON_ENV: &str = "EMBENCH_PYTHON";

/// What to run and how.
#[derive(Debug, Clone)]
pub struct PythonSettings {
    /// `ort`, `torch`, `openvino` or `echo` (the worker's `--kind`).
    pub kind: &'static str,
    /// The network file (for eager PyTorch, the safetensors inside the Hugging Face folder).
    pub model: Option<PathBuf>,
    /// python-torch: `eager` or `torchscript`.
    pub mode: &'static str,
    /// Intra-op threads of each worker.
    pub threads: usize,
    /// Precision asked for.
    pub precision: Precision,
    /// Pooling, done in the framework inside the worker.
    pub pooling: Pooling,
    /// Worker processes.
    pub processes: usize,
    /// Embedding dimension (the echo worker's vectors).
    pub dim: usize,
    /// A multimodal model's tower, and for the image tower its input `(height, width)`.
    pub modality: Modality,
    /// The image tower's input size, pixels (`--image-size H W`).
    pub image_size: Option<(usize, usize)>,
}

/// The python interpreter: `$EMBENCH_PYTHON`, else `bin/python` of the project venv.
pub fn interpreter() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os(PYTHON_ENV) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("{PYTHON_ENV}={} does not exist (fix: point it at a python, or unset it)", p.display()))
        };
    }
    embench_core::runtime_lib::venv_python().ok_or_else(|| {
        format!("no project virtualenv with bin/python found (fix: {})", embench_core::runtime_lib::SETUP_FIX)
    })
}

#[derive(Deserialize)]
struct Hello {
    ok: bool,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    framework: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    precision: String,
    #[serde(default)]
    threads: usize,
    #[serde(default)]
    settings: std::collections::BTreeMap<String, String>,
}

/// One worker process.
struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// Set once its pipe broke: every later request gets this error.
    dead: Option<String>,
}

impl Worker {
    fn spawn(python: &PathBuf, s: &PythonSettings) -> Result<(Worker, Hello), String> {
        let mut cmd = Command::new(python);
        cmd.arg("-u").arg("-c").arg(WORKER_SCRIPT).arg("--kind").arg(s.kind);
        cmd.args(["--threads", &s.threads.to_string(), "--precision", &s.precision.to_string()]);
        cmd.args(["--mode", s.mode, "--dim", &s.dim.to_string()]);
        cmd.args(["--pooling", &s.pooling.kind.to_string()]);
        cmd.args(["--normalize", if s.pooling.normalize { "1" } else { "0" }]);
        if let Some(m) = &s.model {
            cmd.arg("--model").arg(m);
        }
        cmd.args(["--modality", s.modality.as_str()]);
        if let Some((h, w)) = s.image_size {
            cmd.args(["--image-size", &h.to_string(), &w.to_string()]);
        }
        // When this process ends, however it ends, the worker reads EOF and exits; a
        // worker stuck inside the framework goes with embench's worker process group,
        // which `embench run` kills on a timeout. (No parent-death signal: it fires when
        // the spawning *thread* exits, and replicas may load on short-lived threads.)
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| format!("starting {}: {e}", python.display()))?;
        let stderr = StderrTail::follow(child.stderr.take().expect("piped stderr"));
        let stdin = child.stdin.take().expect("piped stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        let read = stdout.read_line(&mut line);
        let hello: Option<Hello> = serde_json::from_str(line.trim()).ok();
        match (read, hello) {
            (Ok(_), Some(h)) if h.ok => {
                embench_core::children::register(child.id());
                Ok((Worker { child, stdin, stdout, dead: None }, h))
            }
            (_, Some(h)) => {
                let _ = child.wait();
                Err(format!(
                    "the Python worker ({}) could not load the model: {}",
                    python.display(),
                    h.error.unwrap_or_default()
                ))
            }
            (_, None) => {
                let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
                Err(format!(
                    "the Python worker ({}) ended before it was ready ({status}); its stderr ended: {} (fix: the project venv has what it needs: make venv; or point EMBENCH_PYTHON at a python that has)",
                    python.display(),
                    stderr.finish()
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
            let status = match self.child.try_wait() {
                Ok(Some(s)) => s.to_string(),
                _ => "still running".into(),
            };
            self.dead = Some(format!("the Python worker's pipe broke ({e}; worker {status})"));
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
        if word(&head[..4]) != 0 {
            let mut text = vec![0u8; word(&head[4..])];
            self.stdout.read_exact(&mut text).map_err(RoundTrip::Pipe)?;
            return Err(RoundTrip::Failed(String::from_utf8_lossy(&text).into_owned()));
        }
        let out_rows = word(&head[4..]);
        let mut dim = [0u8; 4];
        self.stdout.read_exact(&mut dim).map_err(RoundTrip::Pipe)?;
        let dim = word(&dim);
        let mut bytes = vec![0u8; out_rows * dim * 4];
        self.stdout.read_exact(&mut bytes).map_err(RoundTrip::Pipe)?;
        let data = bytes.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))).collect();
        Ok(Embeddings { rows: out_rows, dim, data })
    }
}

/// One request in the worker protocol: text, u32 rows, u32 seq, then int64 ids, mask
/// and segments; images, u32 rows, u32 values per image (3·H·W), then f32 pixels.
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
        let _ = self.reader.join();
        let lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
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
        embench_core::children::unregister(self.child.id());
        // EOF on its stdin ends the worker; kill it if it does not go.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A pool of Python worker processes serving one model.
pub struct PythonEmbedder {
    idle: Mutex<Vec<Worker>>,
    returned: Condvar,
    info: BackendInfo,
    framework: &'static str,
}

impl PythonEmbedder {
    /// Starts `settings.processes` workers, one after another, each loading the model.
    pub fn load(framework: &'static str, settings: &PythonSettings) -> Result<Self, EmbedError> {
        let err = |m: String| EmbedError::new(framework, Phase::Load, m);
        let python = interpreter().map_err(err)?;
        let mut workers = Vec::with_capacity(settings.processes);
        let mut hello = None;
        for _ in 0..settings.processes.max(1) {
            let (w, h) = Worker::spawn(&python, settings).map_err(err)?;
            workers.push(w);
            hello = Some(h);
        }
        let h = hello.expect("at least one worker");
        let precision = match h.precision.as_str() {
            "bf16" => Precision::Bf16,
            "fp16" => Precision::Fp16,
            _ => Precision::Fp32,
        };
        let mut notes = Vec::new();
        if precision != settings.precision {
            notes.push(format!("asked for {}, the Python framework ran {}", settings.precision, h.precision));
        }
        let mut backend_settings = h.settings;
        backend_settings.insert("runtime".into(), format!("{} {}", h.framework, h.version));
        backend_settings.insert("processes".into(), settings.processes.to_string());
        backend_settings.insert("interpreter".into(), python.display().to_string());
        Ok(Self {
            idle: Mutex::new(workers),
            returned: Condvar::new(),
            info: BackendInfo {
                framework: framework.to_string(),
                framework_version: h.version,
                device: "cpu".into(),
                precision,
                intra_op_threads: h.threads,
                settings: backend_settings,
                notes,
            },
            framework,
        })
    }
}

impl Embedder for PythonEmbedder {
    fn info(&self) -> &BackendInfo {
        &self.info
    }

    fn embed(&self, batch: &TokenizedBatch) -> Result<Embeddings, EmbedError> {
        self.embed_input(EmbedInput::Text(batch))
    }

    fn embed_input(&self, input: EmbedInput<'_>) -> Result<Embeddings, EmbedError> {
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
