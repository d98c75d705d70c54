//! Replicas × workers, with optional dynamic batching: the execution model of
//! a serving process (Triton's instance groups, TorchServe's workers).
//!
//! Each replica (model instance) has a queue and `workers` threads that take
//! requests from it. Clients put each request on a replica's queue in turn
//! (round robin) and wait for its result, so a request's latency includes its
//! time in the queue. With dynamic batching a worker takes the oldest request
//! and waits up to `max_wait_us` from that request's arrival for others to join
//! it, up to `max_batch_size` texts, then runs them as one batch.

use std::collections::{BTreeMap, VecDeque};
use std::ops::{Deref, Range};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::channel;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use embench_core::config::{Count, DynamicBatching, Execution};
use embench_core::embedder::Padding;
use embench_core::{EmbedError, Embedder, Embeddings, Phase, RequestInput};

use crate::loadgen::worker_loop::panic_message;
use embench_schema::record::ExecutionFigures;

/// What a finished request hands to its reply: the batch's result, its rows in it,
/// and how long it waited in the queue.
pub struct Done<'r> {
    /// The vectors of the batch the request ran in (joined with others under
    /// dynamic batching), or the error it failed with.
    pub result: Result<&'r Embeddings, &'r str>,
    /// This request's rows of `result`.
    pub rows: Range<usize>,
    /// From the request's arrival on the queue to the start of its batch.
    pub queued: Duration,
    /// Inputs in the batch it ran in.
    pub formed: usize,
}

/// Where a request's result goes: called once with its [`Done`], on the worker
/// thread that ran it (it must not block).
pub trait Reply: Send {
    /// Hands over the result.
    fn done(self: Box<Self>, done: Done<'_>);

    /// Whether the requester has gone (a client that disconnected): the request is
    /// then dropped unrun when a worker reaches it.
    fn cancelled(&self) -> bool {
        false
    }
}

/// The runner's own requests: their client waits on a channel.
struct Waiting(std::sync::mpsc::Sender<Result<(), String>>);

impl Reply for Waiting {
    fn done(self: Box<Self>, done: Done<'_>) {
        // A client that gave up is not an error of the server.
        let _ = self.0.send(done.result.map(drop).map_err(str::to_string));
    }
}

/// A request's input: borrowed from the cell's prepared batches, or owned (`embench serve`).
enum JobInput<'a> {
    Borrowed(&'a RequestInput),
    Owned(RequestInput),
}

impl Deref for JobInput<'_> {
    type Target = RequestInput;

    fn deref(&self) -> &RequestInput {
        match self {
            JobInput::Borrowed(b) => b,
            JobInput::Owned(b) => b,
        }
    }
}

struct Job<'a> {
    batch: JobInput<'a>,
    arrived: Instant,
    reply: Box<dyn Reply + 'a>,
}

struct Queue<'a> {
    jobs: Mutex<VecDeque<Job<'a>>>,
    ready: Condvar,
}

/// The model instances a server runs: a cell's, borrowed for its scope, or shared
/// for as long as a long-lived server lives.
enum Replicas<'a> {
    Borrowed(&'a [Box<dyn Embedder>]),
    Shared(Arc<[Box<dyn Embedder>]>),
}

impl Replicas<'_> {
    fn get(&self) -> &[Box<dyn Embedder>] {
        match self {
            Replicas::Borrowed(r) => r,
            Replicas::Shared(r) => r,
        }
    }
}

/// The serving side of a cell, or of `embench serve`: hand it requests with
/// [`Server::submit`] (and wait) or [`Server::enqueue`] (and be called back).
pub struct Server<'a> {
    replicas: Replicas<'a>,
    queues: Vec<Queue<'a>>,
    batching: Option<DynamicBatching>,
    /// How the model pads the requests a worker joins.
    padding: Padding,
    next: AtomicUsize,
    closing: AtomicBool,
    formed: Mutex<BTreeMap<usize, u64>>,
}

impl<'a> Server<'a> {
    fn new(replicas: Replicas<'a>, workers: usize, batching: Option<DynamicBatching>, padding: Padding) -> Self {
        assert!(!replicas.get().is_empty() && workers > 0);
        Server {
            queues: replicas
                .get()
                .iter()
                .map(|_| Queue { jobs: Mutex::new(VecDeque::new()), ready: Condvar::new() })
                .collect(),
            replicas,
            batching,
            padding,
            next: AtomicUsize::new(0),
            closing: AtomicBool::new(false),
            formed: Mutex::new(BTreeMap::new()),
        }
    }

    /// Runs `body` with a server of `workers` threads per replica; returns what
    /// `body` returned and how many batches of each size (texts) the workers ran.
    /// Requests joined by dynamic batching are padded as the model pads (`padding`).
    pub fn run<R>(
        replicas: &'a [Box<dyn Embedder>],
        workers: usize,
        batching: Option<DynamicBatching>,
        padding: Padding,
        body: impl FnOnce(&Server<'a>) -> R,
    ) -> (R, BTreeMap<usize, u64>) {
        let server = Server::new(Replicas::Borrowed(replicas), workers, batching, padding);
        let result = std::thread::scope(|s| {
            for r in 0..replicas.len() {
                for w in 0..workers {
                    let server = &server;
                    std::thread::Builder::new()
                        .name(format!("embench-replica-{r}-{w}"))
                        .spawn_scoped(s, move || server.work(r))
                        .expect("spawning a replica worker");
                }
            }
            let result = body(&server);
            server.close();
            result
        });
        let formed = server.formed.into_inner().expect("formed lock");
        (result, formed)
    }

    /// Stops the workers once their queues are empty; later requests are refused.
    fn close(&self) {
        for q in &self.queues {
            let _guard = q.jobs.lock().expect("queue lock");
            self.closing.store(true, Ordering::SeqCst);
            q.ready.notify_all();
        }
    }

    /// Queues `batch` on the next replica and waits for its result.
    pub fn submit(&self, batch: &'a RequestInput) -> Result<(), EmbedError> {
        let (tx, rx) = channel();
        self.push(JobInput::Borrowed(batch), Box::new(Waiting(tx)));
        match rx.recv() {
            Ok(Ok(())) => Ok(()),
            Ok(Err(msg)) => Err(EmbedError::new("embench", Phase::Inference, msg)),
            Err(_) => Err(EmbedError::new("embench", Phase::Inference, "the replica worker went away")),
        }
    }

    /// Queues `input` on the next replica; `reply` gets its result on the worker that
    /// runs it. A server that is closing answers at once with an error.
    pub fn enqueue(&self, input: RequestInput, reply: Box<dyn Reply + 'a>) {
        self.push(JobInput::Owned(input), reply);
    }

    fn push(&self, batch: JobInput<'a>, reply: Box<dyn Reply + 'a>) {
        let q = &self.queues[self.next.fetch_add(1, Ordering::Relaxed) % self.queues.len()];
        let mut jobs = q.jobs.lock().expect("queue lock");
        // Checked under the queue's lock, which `close` takes too: a job queued here is run.
        if self.closing.load(Ordering::SeqCst) {
            drop(jobs);
            let e = "the server is shutting down";
            reply.done(Done { result: Err(e), rows: 0..0, queued: Duration::ZERO, formed: 0 });
            return;
        }
        jobs.push_back(Job { batch, arrived: Instant::now(), reply });
        drop(jobs);
        if self.batching.is_some() {
            // A worker forming a batch waits on the same condition for more requests.
            q.ready.notify_all();
        } else {
            q.ready.notify_one();
        }
    }

    /// One worker of replica `r`: take a request (or form a batch), run it, answer.
    fn work(&self, r: usize) {
        let q = &self.queues[r];
        loop {
            let mut jobs = q.jobs.lock().expect("queue lock");
            while jobs.is_empty() {
                if self.closing.load(Ordering::SeqCst) {
                    return;
                }
                jobs = q.ready.wait(jobs).expect("queue lock");
            }
            let taken: Vec<Job> = match self.batching {
                None => jobs.pop_front().into_iter().collect(),
                Some(b) => {
                    let deadline = jobs[0].arrived + Duration::from_micros(b.max_wait_us);
                    loop {
                        let rows: usize = jobs.iter().map(|j| j.batch.batch_size()).sum();
                        let now = Instant::now();
                        if rows >= b.max_batch_size || now >= deadline || jobs.is_empty() {
                            break;
                        }
                        jobs = q.ready.wait_timeout(jobs, deadline - now).expect("queue lock").0;
                    }
                    let mut rows = 0;
                    let mut taken = Vec::new();
                    while let Some(j) = jobs.front() {
                        if !taken.is_empty() && rows + j.batch.batch_size() > b.max_batch_size {
                            break;
                        }
                        rows += j.batch.batch_size();
                        taken.extend(jobs.pop_front());
                    }
                    taken
                }
            };
            drop(jobs);
            // Requests whose client has gone are dropped unrun.
            let taken: Vec<Job> = taken.into_iter().filter(|j| !j.reply.cancelled()).collect();
            if taken.is_empty() {
                // Another worker of this replica took them while this one waited.
                continue;
            }
            self.run_jobs(r, taken);
        }
    }

    fn run_jobs(&self, r: usize, jobs: Vec<Job>) {
        let model = self.replicas.get()[r].as_ref();
        let started = Instant::now();
        let merged;
        let batch: &RequestInput = if jobs.len() == 1 {
            &jobs[0].batch
        } else {
            match RequestInput::concat(&jobs.iter().map(|j| &*j.batch).collect::<Vec<_>>(), self.padding) {
                Ok(joined) => {
                    merged = joined;
                    &merged
                }
                Err(e) => {
                    let n = jobs.len();
                    for j in jobs {
                        let queued = started.saturating_duration_since(j.arrived);
                        j.reply.done(Done { result: Err(&e), rows: 0..0, queued, formed: n });
                    }
                    return;
                }
            }
        };
        let formed = batch.batch_size();
        *self.formed.lock().expect("formed lock").entry(formed).or_insert(0) += 1;
        let result = match catch_unwind(AssertUnwindSafe(|| model.embed_input(batch.as_input()))) {
            Ok(Ok(e)) => Ok(e),
            Ok(Err(e)) => Err(e.to_string()),
            Err(panic) => Err(panic_message(panic.as_ref())),
        };
        let mut row = 0;
        for j in jobs {
            let n = j.batch.batch_size();
            let queued = started.saturating_duration_since(j.arrived);
            let result = result.as_ref().map_err(String::as_str);
            j.reply.done(Done { result, rows: row..row + n, queued, formed });
            row += n;
        }
    }
}

/// A server that outlives any one scope (`embench serve`): its workers run until
/// [`SharedServer::shutdown`].
pub struct SharedServer {
    server: Arc<Server<'static>>,
    workers: Vec<JoinHandle<()>>,
}

impl SharedServer {
    /// Starts `workers` threads per replica of `replicas`; joined requests are padded as `padding`.
    pub fn start(
        replicas: Vec<Box<dyn Embedder>>,
        workers: usize,
        batching: Option<DynamicBatching>,
        padding: Padding,
    ) -> Self {
        let n = replicas.len();
        let server = Arc::new(Server::new(Replicas::Shared(replicas.into()), workers, batching, padding));
        let mut handles = Vec::new();
        for r in 0..n {
            for w in 0..workers {
                let server = server.clone();
                let handle = std::thread::Builder::new()
                    .name(format!("embench-replica-{r}-{w}"))
                    .spawn(move || server.work(r))
                    .expect("spawning a replica worker");
                handles.push(handle);
            }
        }
        Self { server, workers: handles }
    }

    /// The server, to enqueue requests on.
    pub fn server(&self) -> &Arc<Server<'static>> {
        &self.server
    }

    /// Lets the workers finish what is queued, then joins them.
    pub fn shutdown(self) {
        self.server.close();
        for w in self.workers {
            let _ = w.join();
        }
    }
}

/// Mean texts per formed batch.
pub fn mean_formed(formed: &BTreeMap<usize, u64>) -> Option<f64> {
    let batches: u64 = formed.values().sum();
    (batches > 0).then(|| formed.iter().map(|(&b, &n)| (b as u64 * n) as f64).sum::<f64>() / batches as f64)
}

/// Replicas × workers × threads for one cell, with `auto` resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct ServingPlan {
    /// Model instances.
    pub replicas: usize,
    /// Threads feeding each.
    pub workers_per_model: usize,
    /// Intra-op threads of each.
    pub threads_per_replica: usize,
    /// Dynamic batching.
    pub batching: Option<DynamicBatching>,
    /// What the config asked, for the record.
    pub requested: String,
    /// Set when replicas × workers × threads oversubscribe the physical cores.
    pub warning: Option<String>,
}

impl ServingPlan {
    /// Resolves `auto` against `cores` physical cores and `concurrency` clients:
    /// - replicas: 1 with dynamic batching (the batch is the parallelism), else
    ///   one per client up to cores / threads (threads: the backend's, or 1);
    /// - threads: the backend's setting, else the cores shared out among replicas;
    /// - workers: 1 with dynamic batching, else enough for every client to be served at once.
    pub fn resolve(exec: &Execution, concurrency: usize, threads: Option<usize>, cores: usize) -> Self {
        let cores = cores.max(1);
        let batching = exec.dynamic_batching;
        let replicas = match exec.replicas {
            Count::N(n) => n,
            Count::Auto if batching.is_some() => 1,
            Count::Auto => (cores / threads.unwrap_or(1).max(1)).clamp(1, concurrency.max(1)),
        };
        let threads_per_replica = threads.unwrap_or((cores / replicas).max(1));
        let workers_per_model = match exec.workers_per_model {
            Count::N(n) => n,
            Count::Auto if batching.is_some() => 1,
            Count::Auto => concurrency.div_ceil(replicas).max(1),
        };
        let used = replicas * workers_per_model * threads_per_replica;
        let warning = (used > cores).then(|| {
            format!(
                "oversubscribed: {replicas} replicas x {workers_per_model} workers x {threads_per_replica} threads = {used} > {cores} physical cores; runs contend for cores (set replicas, workers_per_model or threads)"
            )
        });
        let show = |c: Count| match c {
            Count::Auto => "auto".to_string(),
            Count::N(n) => n.to_string(),
        };
        Self {
            replicas,
            workers_per_model,
            threads_per_replica,
            batching,
            requested: format!("replicas={} workers_per_model={}", show(exec.replicas), show(exec.workers_per_model)),
            warning,
        }
    }

    /// The record's figures, with the batches the workers formed.
    pub fn figures(&self, formed: BTreeMap<usize, u64>) -> ExecutionFigures {
        ExecutionFigures {
            replicas: self.replicas,
            workers_per_model: self.workers_per_model,
            threads_per_replica: self.threads_per_replica,
            requested: self.requested.clone(),
            max_batch_size: self.batching.map(|b| b.max_batch_size),
            max_wait_us: self.batching.map(|b| b.max_wait_us),
            mean_formed_batch: mean_formed(&formed),
            formed_batches: formed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec(replicas: Count, workers: Count, batching: bool) -> Execution {
        Execution {
            replicas,
            workers_per_model: workers,
            dynamic_batching: batching.then_some(DynamicBatching { max_batch_size: 8, max_wait_us: 1000 }),
        }
    }

    #[test]
    fn auto_shares_the_cores_and_warns_when_oversubscribed() {
        // 16 cores, 16 clients, threads unset: 16 single-threaded replicas, one worker each.
        let p = ServingPlan::resolve(&exec(Count::Auto, Count::Auto, false), 16, None, 16);
        assert_eq!((p.replicas, p.workers_per_model, p.threads_per_replica), (16, 1, 1));
        assert!(p.warning.is_none());
        // 4 threads each: 4 replicas, 4 workers each for 16 clients: oversubscribed.
        let p = ServingPlan::resolve(&exec(Count::Auto, Count::Auto, false), 16, Some(4), 16);
        assert_eq!((p.replicas, p.workers_per_model, p.threads_per_replica), (4, 4, 4));
        assert!(p.warning.as_deref().unwrap().contains("64 > 16"), "{:?}", p.warning);
        // Dynamic batching: one replica on every core, one worker.
        let p = ServingPlan::resolve(&exec(Count::Auto, Count::Auto, true), 8, None, 2);
        assert_eq!((p.replicas, p.workers_per_model, p.threads_per_replica), (1, 1, 2));
        // Explicit counts stay.
        let p = ServingPlan::resolve(&exec(Count::N(2), Count::N(3), false), 8, None, 2);
        assert_eq!((p.replicas, p.workers_per_model, p.threads_per_replica), (2, 3, 1));
        assert_eq!(p.requested, "replicas=2 workers_per_model=3");
    }
}
