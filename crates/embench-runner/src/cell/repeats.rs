//! Request streams with a controlled share of repeated texts, for the cache scenario.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Zipf};

use embench_core::config::RepeatDistribution;

/// A stream of text ids: id `k` is the `k`-th distinct text, in order of first appearance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepeatStream {
    /// The text id at each position.
    pub ids: Vec<usize>,
    /// Distinct texts in the stream.
    pub distinct: usize,
    /// Positions that repeat an earlier text.
    pub repeats: usize,
}

/// `n` positions, each (after the first) a repeat of an earlier text with
/// probability `ratio`, else a new text. A repeat picks among the texts seen so
/// far uniformly, or by Zipf over their order of first appearance (the first
/// text is the most popular), with exponent `zipf_s`. Seeded: the same
/// arguments give the same stream.
pub fn repeat_stream(n: usize, ratio: f64, dist: RepeatDistribution, zipf_s: f64, seed: u64) -> RepeatStream {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut ids = Vec::with_capacity(n);
    let (mut distinct, mut repeats) = (0usize, 0usize);
    for _ in 0..n {
        if distinct > 0 && rng.random::<f64>() < ratio {
            let id = match dist {
                RepeatDistribution::Uniform => rng.random_range(0..distinct),
                RepeatDistribution::Zipf => {
                    let zipf = Zipf::new(distinct as f64, zipf_s).expect("n >= 1 and s > 0 are checked");
                    (zipf.sample(&mut rng) as usize).clamp(1, distinct) - 1
                }
            };
            ids.push(id);
            repeats += 1;
        } else {
            ids.push(distinct);
            distinct += 1;
        }
    }
    RepeatStream { ids, distinct, repeats }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeat_share_follows_the_ratio_and_ids_appear_in_order() {
        for dist in [RepeatDistribution::Uniform, RepeatDistribution::Zipf] {
            for ratio in [0.0, 0.2, 0.8] {
                let s = repeat_stream(20_000, ratio, dist, 1.0, 3);
                assert_eq!(s.repeats + s.distinct, 20_000);
                let share = s.repeats as f64 / 20_000.0;
                assert!((share - ratio).abs() < 0.015, "{dist:?} {ratio}: {share}");
                // A new id is always the next one: ids are numbered by first appearance.
                let mut next = 0;
                for &id in &s.ids {
                    assert!(id <= next);
                    if id == next {
                        next += 1;
                    }
                }
                assert_eq!(next, s.distinct);
            }
        }
    }

    #[test]
    fn zipf_repeats_favour_early_texts_and_streams_are_seeded() {
        let s = repeat_stream(20_000, 0.8, RepeatDistribution::Zipf, 1.0, 9);
        let first = s.ids.iter().filter(|&&i| i == 0).count();
        let tenth = s.ids.iter().filter(|&&i| i == 9).count();
        assert!(first > 5 * tenth, "id 0 seen {first} times, id 9 {tenth}");
        assert_eq!(s, repeat_stream(20_000, 0.8, RepeatDistribution::Zipf, 1.0, 9));
        assert_ne!(s.ids, repeat_stream(20_000, 0.8, RepeatDistribution::Zipf, 1.0, 10).ids);
    }
}
