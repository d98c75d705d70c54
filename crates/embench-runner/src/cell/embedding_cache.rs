//! The embedding cache of the cache scenario: a bounded, thread-safe LRU in
//! front of any [`Embedder`].
//!
//! The key is the full text prefixed by the cache's namespace (model, backend
//! and precision), hashed with foldhash: two texts can only share an entry when
//! they are byte-for-byte equal, so a hash collision cannot return a wrong vector.
//! The bound is by entries or by accounted bytes (key + vector + a fixed
//! bookkeeping allowance per entry); inserting past it evicts the least
//! recently used entries first.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use lru::LruCache;
use serde::{Deserialize, Serialize};

use embench_core::embedder::{EmbedError, Embedder, Phase, TokenizedBatch};

/// Bytes each entry is charged beyond its key and vector: the LRU node (two
/// links, the key and value handles), the hash-table slot and the vector's
/// reference-count header.
pub const ENTRY_OVERHEAD_BYTES: usize = 96;

pub use embench_schema::CacheLimit;

/// Counters of a cache, read at any time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CacheStats {
    /// Entries held now.
    pub entries: usize,
    /// Accounted bytes held now.
    pub bytes: usize,
    /// Most accounted bytes ever held.
    pub peak_bytes: usize,
    /// Entries evicted to stay within the bound.
    pub evictions: u64,
}

struct Inner {
    lru: LruCache<String, Arc<[f32]>, foldhash::fast::RandomState>,
    stats: CacheStats,
}

/// A bounded LRU of embeddings keyed by exact text.
pub struct EmbeddingCache {
    namespace: String,
    limit: CacheLimit,
    inner: Mutex<Inner>,
}

impl EmbeddingCache {
    /// An empty cache for one model/backend/precision (`namespace`), bounded by `limit`.
    pub fn new(namespace: &str, limit: CacheLimit) -> Self {
        let lru = LruCache::unbounded_with_hasher(foldhash::fast::RandomState::default());
        Self {
            namespace: format!("{namespace}\u{0}"),
            limit,
            inner: Mutex::new(Inner { lru, stats: CacheStats::default() }),
        }
    }

    /// The bound.
    pub fn limit(&self) -> CacheLimit {
        self.limit
    }

    fn key(&self, text: &str) -> String {
        let mut k = String::with_capacity(self.namespace.len() + text.len());
        k.push_str(&self.namespace);
        k.push_str(text);
        k
    }

    /// Bytes an entry for `text` with a `dim`-long vector is charged.
    pub fn entry_bytes(&self, text: &str, dim: usize) -> usize {
        self.namespace.len() + text.len() + dim * std::mem::size_of::<f32>() + ENTRY_OVERHEAD_BYTES
    }

    /// The vector of `text`, marking it most recently used.
    pub fn get(&self, text: &str) -> Option<Arc<[f32]>> {
        let key = self.key(text);
        self.lock().lru.get(key.as_str()).cloned()
    }

    /// Stores `text`'s vector, evicting the least recently used entries to stay
    /// within the bound. An entry larger than a byte bound on its own is not stored.
    pub fn insert(&self, text: &str, vector: Arc<[f32]>) {
        let cost = self.entry_bytes(text, vector.len());
        if let CacheLimit::Bytes(max) = self.limit {
            if cost > max {
                return;
            }
        }
        let key = self.key(text);
        let mut inner = self.lock();
        if let Some(old) = inner.lru.put(key, vector) {
            inner.stats.bytes -= self.entry_bytes(text, old.len());
        } else {
            inner.stats.entries += 1;
        }
        inner.stats.bytes += cost;
        while self.over(&inner.stats) {
            let Some((k, v)) = inner.lru.pop_lru() else { break };
            inner.stats.entries -= 1;
            inner.stats.bytes -= k.len() + v.len() * std::mem::size_of::<f32>() + ENTRY_OVERHEAD_BYTES;
            inner.stats.evictions += 1;
        }
        inner.stats.peak_bytes = inner.stats.peak_bytes.max(inner.stats.bytes);
    }

    fn over(&self, s: &CacheStats) -> bool {
        match self.limit {
            CacheLimit::Entries(n) => s.entries > n,
            CacheLimit::Bytes(n) => s.bytes > n,
        }
    }

    /// The counters now.
    pub fn stats(&self) -> CacheStats {
        self.lock().stats
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves the LRU consistent (every update is one call), so go on.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Texts served, and how many of them needed the backend.
#[derive(Debug, Default)]
pub struct ServeCounters {
    /// Texts asked for.
    pub texts: AtomicU64,
    /// Texts the backend computed (the rest were served from the cache, or
    /// from another copy of the same text in the same request).
    pub computed: AtomicU64,
}

impl ServeCounters {
    /// Fraction of texts served without the backend.
    pub fn hit_rate(&self) -> f64 {
        let texts = self.texts.load(Ordering::Relaxed);
        let computed = self.computed.load(Ordering::Relaxed);
        if texts == 0 {
            0.0
        } else {
            (texts - computed) as f64 / texts as f64
        }
    }
}

/// Turns texts into a model input batch (pre-tokenized rows, in the runner).
pub type Assemble<'a> = dyn Fn(&[&str]) -> Result<TokenizedBatch, String> + Sync + 'a;

/// Embeds `texts` through `cache` (None: straight to the backend): cached texts
/// are served from it, the others (each distinct text once) go to `embedder` in
/// one batch and are then stored.
pub fn embed_through_cache(
    cache: Option<&EmbeddingCache>,
    embedder: &dyn Embedder,
    assemble: &Assemble,
    texts: &[&str],
    counters: &ServeCounters,
) -> Result<Vec<Arc<[f32]>>, EmbedError> {
    let mut out: Vec<Option<Arc<[f32]>>> = vec![None; texts.len()];
    // Distinct texts to compute, and the positions each fills.
    let mut missing: Vec<&str> = Vec::new();
    let mut slots: HashMap<&str, Vec<usize>, foldhash::fast::RandomState> = HashMap::default();
    match cache {
        // Without a cache every text is computed, duplicates included, as a plain client would.
        None => missing.extend_from_slice(texts),
        Some(c) => {
            for (i, &text) in texts.iter().enumerate() {
                if let Some(v) = c.get(text) {
                    out[i] = Some(v);
                    continue;
                }
                let positions = slots.entry(text).or_default();
                if positions.is_empty() {
                    missing.push(text);
                }
                positions.push(i);
            }
        }
    }
    if !missing.is_empty() {
        let batch = assemble(&missing).map_err(|e| EmbedError::new("cache", Phase::Inference, e))?;
        let embeddings = embedder.embed(&batch)?;
        if embeddings.rows != missing.len() {
            let msg = format!("the backend returned {} vectors for {} texts", embeddings.rows, missing.len());
            return Err(EmbedError::new("cache", Phase::Inference, msg));
        }
        for (row, text) in missing.iter().enumerate() {
            let v: Arc<[f32]> = Arc::from(embeddings.row(row));
            match cache {
                Some(c) => {
                    c.insert(text, v.clone());
                    slots[text].iter().for_each(|&i| out[i] = Some(v.clone()));
                }
                None => out[row] = Some(v),
            }
        }
    }
    counters.texts.fetch_add(texts.len() as u64, Ordering::Relaxed);
    counters.computed.fetch_add(missing.len() as u64, Ordering::Relaxed);
    Ok(out.into_iter().map(|v| v.expect("every position is filled")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use embench_core::embedder::{BackendInfo, Embeddings, Precision};

    /// A backend whose vectors depend on every token of the row, counting the rows it computes.
    struct Deterministic {
        info: BackendInfo,
        rows: AtomicU64,
    }

    impl Deterministic {
        fn new() -> Self {
            let info = BackendInfo {
                framework: "test".into(),
                framework_version: "0".into(),
                device: "cpu".into(),
                precision: Precision::Fp32,
                intra_op_threads: 1,
                settings: Default::default(),
                notes: Vec::new(),
            };
            Self { info, rows: AtomicU64::new(0) }
        }
    }

    impl Embedder for Deterministic {
        fn info(&self) -> &BackendInfo {
            &self.info
        }
        fn embed(&self, batch: &TokenizedBatch) -> Result<embench_core::Embeddings, EmbedError> {
            self.rows.fetch_add(batch.batch_size as u64, Ordering::Relaxed);
            let dim = 8;
            let mut data = Vec::with_capacity(batch.batch_size * dim);
            let rows = batch.input_ids.chunks(batch.seq_len).zip(batch.attention_mask.chunks(batch.seq_len));
            for (row, mask) in rows {
                // Padding-invariant, as a real model with an attention mask is.
                let real = row.iter().zip(mask).filter(|(_, &m)| m == 1).map(|(&t, _)| t);
                let h = real.fold(17u64, |h, t| h.wrapping_mul(31).wrapping_add(t as u64));
                data.extend((0..dim).map(|d| ((h >> (d * 7)) & 0xff) as f32 / 255.0));
            }
            Ok(Embeddings { rows: batch.batch_size, dim, data })
        }
    }

    /// Each text becomes one row of its bytes.
    fn assemble(texts: &[&str]) -> Result<TokenizedBatch, String> {
        let seq_len = texts.iter().map(|t| t.len()).max().unwrap_or(0).max(1);
        let (mut ids, mut mask) = (Vec::new(), Vec::new());
        for t in texts {
            ids.extend(t.bytes().map(i64::from).chain(std::iter::repeat(0)).take(seq_len));
            mask.extend((0..seq_len).map(|i| i64::from(i < t.len())));
        }
        let n = ids.len();
        Ok(TokenizedBatch {
            batch_size: texts.len(),
            seq_len,
            input_ids: ids,
            attention_mask: mask,
            token_type_ids: vec![0; n],
            texts: texts.iter().map(|&t| std::sync::Arc::from(t)).collect(),
        })
    }

    #[test]
    fn hit_accounting_is_exact_on_a_known_pattern() {
        let backend = Deterministic::new();
        let cache = EmbeddingCache::new("m/b/fp32", CacheLimit::Entries(100));
        let counters = ServeCounters::default();
        // a b a | c a b | d d e: 5 distinct texts of 9, so 4 are served without the backend
        // (the second d from its twin in the same request).
        for request in [["a", "b", "a"], ["c", "a", "b"], ["d", "d", "e"]] {
            embed_through_cache(Some(&cache), &backend, &assemble, &request, &counters).unwrap();
        }
        assert_eq!(counters.texts.load(Ordering::Relaxed), 9);
        assert_eq!(counters.computed.load(Ordering::Relaxed), 5);
        assert_eq!(backend.rows.load(Ordering::Relaxed), 5);
        assert!((counters.hit_rate() - 4.0 / 9.0).abs() < 1e-12);
        assert_eq!(cache.stats().entries, 5);
        // Without a cache every text is computed, duplicates included.
        let plain = ServeCounters::default();
        embed_through_cache(None, &backend, &assemble, &["d", "d", "e"], &plain).unwrap();
        assert_eq!(plain.computed.load(Ordering::Relaxed), 3);
        assert_eq!(plain.hit_rate(), 0.0);
    }

    #[test]
    fn cached_vectors_are_the_uncached_ones_under_concurrency() {
        let backend = Deterministic::new();
        let cache = EmbeddingCache::new("m/b/fp32", CacheLimit::Bytes(1 << 20));
        let texts: Vec<String> = (0..64).map(|i| format!("text number {}", i % 24)).collect();
        let counters = ServeCounters::default();
        std::thread::scope(|s| {
            for worker in 0..4 {
                let (cache, backend, texts, counters) = (&cache, &backend, &texts, &counters);
                s.spawn(move || {
                    for chunk in texts.chunks(4).skip(worker) {
                        let request: Vec<&str> = chunk.iter().map(String::as_str).collect();
                        let cached = embed_through_cache(Some(cache), backend, &assemble, &request, counters).unwrap();
                        let plain = embed_through_cache(None, backend, &assemble, &request, counters).unwrap();
                        for (c, p) in cached.iter().zip(&plain) {
                            assert_eq!(c.as_ref(), p.as_ref(), "the cached vector differs from a fresh one");
                        }
                    }
                });
            }
        });
        assert_eq!(cache.stats().entries, 24);
        for i in 0..24 {
            let text = format!("text number {i}");
            let fresh = embed_through_cache(None, &backend, &assemble, &[&text], &counters).unwrap();
            assert_eq!(cache.get(&text).unwrap().as_ref(), fresh[0].as_ref());
        }
    }

    #[test]
    fn the_bound_holds_and_eviction_is_least_recently_used() {
        let dim = 16;
        let vector = || Arc::<[f32]>::from(vec![0.5f32; dim]);
        let probe = EmbeddingCache::new("ns", CacheLimit::Entries(1));
        let entry = probe.entry_bytes("text 000", dim);
        // Room for exactly 10 entries of this size.
        let cache = EmbeddingCache::new("ns", CacheLimit::Bytes(10 * entry + entry / 2));
        for i in 0..1000 {
            cache.insert(&format!("text {i:03}"), vector());
            // Keep "text 000" recently used: it must survive every eviction.
            assert!(cache.get("text 000").is_some(), "the most recently used entry was evicted at {i}");
            let s = cache.stats();
            assert!(s.bytes <= 10 * entry + entry / 2, "{} bytes held at insert {i}", s.bytes);
            assert!(s.entries <= 10);
        }
        let s = cache.stats();
        assert_eq!(s.entries, 10);
        assert_eq!(s.evictions, 990);
        assert!(s.peak_bytes <= 10 * entry + entry / 2);
        // "text 000" (kept in use) and the nine most recent inserts remain.
        assert!(cache.get("text 990").is_none(), "older than the nine most recent: evicted");
        assert!((991..1000).all(|i| cache.get(&format!("text {i}")).is_some()));
        // By entries.
        let by_count = EmbeddingCache::new("ns", CacheLimit::Entries(3));
        for i in 0..10 {
            by_count.insert(&i.to_string(), vector());
        }
        assert_eq!(by_count.stats().entries, 3);
        assert!(by_count.get("6").is_none() && by_count.get("7").is_some());
        // An entry bigger than the whole byte bound is not stored at all.
        let tiny = EmbeddingCache::new("ns", CacheLimit::Bytes(8));
        tiny.insert("x", vector());
        assert_eq!(tiny.stats().entries, 0);
    }

    #[test]
    fn namespaces_keep_models_apart() {
        let a = EmbeddingCache::new("model-a/ort/fp32", CacheLimit::Entries(4));
        a.insert("same text", Arc::from(vec![1.0f32]));
        let b = EmbeddingCache::new("model-b/ort/fp32", CacheLimit::Entries(4));
        assert!(b.get("same text").is_none());
        assert_eq!(a.get("same text").unwrap().as_ref(), &[1.0]);
    }
}
