//! Input texts: seeded synthetic texts of a target token length, or a user's file.

use std::path::Path;

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

use crate::config::SeqLen;
use crate::tokenize::TextTokenizer;

/// Common English words; most are one WordPiece token, which keeps generation cheap.
const WORDS: &[&str] = &[
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "that",
    "for",
    "it",
    "as",
    "was",
    "with",
    "be",
    "by",
    "on",
    "not",
    "he",
    "this",
    "are",
    "or",
    "his",
    "from",
    "at",
    "which",
    "but",
    "have",
    "an",
    "had",
    "they",
    "you",
    "were",
    "their",
    "one",
    "all",
    "we",
    "can",
    "her",
    "has",
    "there",
    "been",
    "if",
    "more",
    "when",
    "will",
    "would",
    "who",
    "so",
    "no",
    "time",
    "people",
    "year",
    "way",
    "day",
    "man",
    "thing",
    "woman",
    "life",
    "child",
    "world",
    "school",
    "state",
    "family",
    "student",
    "group",
    "country",
    "problem",
    "hand",
    "part",
    "place",
    "case",
    "week",
    "company",
    "system",
    "program",
    "question",
    "work",
    "government",
    "number",
    "night",
    "point",
    "home",
    "water",
    "room",
    "mother",
    "area",
    "money",
    "story",
    "fact",
    "month",
    "lot",
    "right",
    "study",
    "book",
    "eye",
    "job",
    "word",
    "business",
    "issue",
    "side",
    "kind",
    "head",
    "house",
    "service",
    "friend",
    "father",
    "power",
    "hour",
    "game",
    "line",
    "end",
    "member",
    "law",
    "car",
    "city",
    "community",
    "name",
    "president",
    "team",
    "minute",
    "idea",
    "kid",
    "body",
    "information",
    "back",
    "parent",
    "face",
    "others",
    "level",
    "office",
    "door",
    "health",
    "person",
    "art",
    "war",
    "history",
    "party",
    "result",
    "change",
    "morning",
    "reason",
    "research",
    "girl",
    "guy",
    "moment",
    "air",
    "teacher",
    "force",
    "education",
    "search",
    "model",
    "data",
    "query",
    "document",
    "vector",
    "index",
    "network",
    "river",
    "mountain",
    "music",
    "energy",
    "market",
    "price",
    "image",
    "light",
    "language",
    "science",
];

/// Where texts come from.
pub enum TextSource {
    /// Generated from [`WORDS`] with a seeded RNG.
    Synthetic {
        /// Seed.
        seed: u64,
    },
    /// A user's texts, used in file order and cycled as needed.
    File {
        /// The texts.
        texts: Vec<String>,
    },
}

impl TextSource {
    /// Reads a text file (one text per line) or JSONL (`{"text": ...}` per line, when the file ends in `.jsonl`).
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let body = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let jsonl = path.extension().is_some_and(|e| e == "jsonl");
        let mut texts = Vec::new();
        for (i, line) in body.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            if jsonl {
                let v: serde_json::Value = serde_json::from_str(line)
                    .map_err(|e| format!("{}:{}: invalid JSON: {e}", path.display(), i + 1))?;
                let text = v.get("text").and_then(|t| t.as_str()).ok_or_else(|| {
                    format!(
                        "{}:{}: no string field 'text' (fix: write one {{\"text\": ...}} object per line)",
                        path.display(),
                        i + 1
                    )
                })?;
                texts.push(text.to_string());
            } else {
                texts.push(line.to_string());
            }
        }
        if texts.is_empty() {
            return Err(format!("{}: no texts in the file", path.display()));
        }
        Ok(TextSource::File { texts })
    }

    /// `n` texts for sequence length `seq`. Synthetic texts for `Tokens(k)` are
    /// at least `k` tokens long (truncation then gives exactly `k` real tokens);
    /// for `Natural` they are 8 to 64 words.
    pub fn texts(&self, n: usize, seq: SeqLen, tokenizer: Option<&TextTokenizer>) -> Result<Vec<String>, String> {
        match self {
            TextSource::File { texts } => Ok(texts.iter().cycle().take(n).cloned().collect()),
            TextSource::Synthetic { seed } => {
                let seed = seed
                    ^ match seq {
                        SeqLen::Tokens(k) => k as u64,
                        SeqLen::Natural => u64::MAX,
                    };
                let mut rng = StdRng::seed_from_u64(seed);
                (0..n).map(|_| synth_text(&mut rng, seq, tokenizer)).collect()
            }
        }
    }
}

fn synth_text(rng: &mut StdRng, seq: SeqLen, tokenizer: Option<&TextTokenizer>) -> Result<String, String> {
    let mut words: Vec<&str> = Vec::new();
    let push = |rng: &mut StdRng, k: usize, words: &mut Vec<&str>| {
        words.extend((0..k).map(|_| *WORDS.choose(rng).expect("word list is not empty")));
    };
    match seq {
        SeqLen::Natural => {
            let k = rng.random_range(8..=64);
            push(rng, k, &mut words);
        }
        SeqLen::Tokens(target) => {
            push(rng, target, &mut words);
            if let Some(t) = tokenizer {
                while t.count_tokens(&words.join(" "))? < target {
                    push(rng, 8, &mut words);
                }
            }
        }
    }
    Ok(words.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_texts_are_seeded() {
        let s = TextSource::Synthetic { seed: 7 };
        let a = s.texts(3, SeqLen::Natural, None).unwrap();
        let b = s.texts(3, SeqLen::Natural, None).unwrap();
        assert_eq!(a, b);
        assert_ne!(a[0], a[1]);
        let words = a[0].split(' ').count();
        assert!((8..=64).contains(&words), "{words} words");
    }

    #[test]
    fn file_texts_cycle() {
        let s = TextSource::File { texts: vec!["a".into(), "b".into()] };
        assert_eq!(s.texts(3, SeqLen::Tokens(8), None).unwrap(), vec!["a", "b", "a"]);
    }
}
