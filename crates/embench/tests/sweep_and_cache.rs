//! Batch-size sweeps, the pre-flight memory skip and the cache scenario, end to end with the mock.

mod common;

use common::{report, run_config};
use embench_core::config::RepeatDistribution;
use embench_runner::cell::repeats::repeat_stream;

/// Mock service time of a batch of `b`: 20 ms + 0.5 ms·b + 0.02 ms·b² (see the config below).
fn batch_ms(b: f64) -> f64 {
    20.0 + 0.5 * b + 0.02 * b * b
}

#[test]
fn sweep_finds_the_known_optimum_and_the_report_marks_it() {
    let (dir, out, records, _) = run_config(
        "active_models: [minilm]\nbackends:\n  - name: mock\n    mock:\n      service_time: {distribution: constant, ms: 20}\n      batch_cost: {per_text_ms: 0.5, per_text_squared_ms: 0.02}\ntest_scenarios:\n  - name: sweep\n    concurrency: 1\n    batch_size: [64, 4, 8, 16, 32]\n    num_requests: 3\ninput_config:\n  sequence_lengths: [16]\n  warmup_requests: 1\n",
    );
    let sizes: Vec<u64> = records.iter().map(|r| r["batch_size"].as_u64().unwrap()).collect();
    assert_eq!(sizes, [4, 8, 16, 32, 64], "one cell per size, ascending");
    let mut measured = Vec::new();
    for r in &records {
        assert_eq!(r["scenario_kind"], "batch_sweep");
        assert_eq!(r["valid"], true, "{r:#}");
        let b = r["batch_size"].as_f64().unwrap();
        let emb_s = r["embeddings_per_s"].as_f64().unwrap();
        let truth = b / batch_ms(b) * 1e3;
        // Sleeps overshoot by a fraction of a millisecond on a busy machine; the curve's shape is what matters.
        assert!((emb_s / truth - 1.0).abs() < 0.1, "batch {b}: {emb_s:.1} emb/s, the cost curve says {truth:.1}");
        measured.push((b as usize, emb_s));
    }
    let analytic = [4usize, 8, 16, 32, 64]
        .into_iter()
        .map(|b| (b, b as f64 / batch_ms(b as f64)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap()
        .0;
    let (best, friendly) = embench_report::sections::sweep_markers(&measured).unwrap();
    assert_eq!(best, analytic, "measured {measured:?}");
    assert_eq!(best, 32, "b/(20 + 0.5b + 0.02b²) peaks near b = sqrt(1000)");
    // 16 gives 12 % less than 32, outside the 5 % band: the latency pick is 32 too.
    assert_eq!(friendly, 32);

    let md = report(dir.path(), &out);
    assert!(md.contains("### Batch-size sweep"), "{md}");
    let row = md.lines().find(|l| l.starts_with("| mock / sweep | 32 |")).expect("a row for batch 32");
    assert!(row.contains("**best**, latency pick"), "{row}");
    assert!(dir.path().join("report/charts/minilm_seq16_throughput_vs_batch.png").is_file());
    assert!(dir.path().join("report/charts/minilm_seq16_latency_vs_batch.svg").is_file());
}

#[test]
fn a_cell_over_the_memory_budget_is_skipped_with_the_reason_and_the_rest_runs() {
    let (_dir, _, records, stderr) = run_config(
        "active_models: [minilm]\nbackends:\n  - name: mock\n    mock: {service_time: {distribution: constant, ms: 1}}\ntest_scenarios:\n  - name: sweep\n    concurrency: 1\n    batch_size: [1, 4096]\n    num_texts: 8\ninput_config:\n  sequence_lengths: [256]\n  warmup_requests: 0\n  memory_budget_mb: 400\n",
    );
    // A skipped cell is not a failure: the exit status stays 0, the output says SKIPPED.
    assert!(stderr.contains("SKIPPED"), "{stderr}");
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["valid"], true);
    assert!(records[0]["memory_estimate_mb"].as_f64().unwrap() < 0.85 * 400.0);
    assert_eq!(records[0]["requests"], 8, "batch 1: 8 texts, 8 requests");
    let skipped = &records[1];
    assert_eq!(skipped["valid"], false);
    assert_eq!(skipped["requests"], 0);
    assert!(skipped["qps"].is_null());
    let why = skipped["skipped"].as_str().unwrap();
    assert!(why.contains("batch 4096") && why.contains("memory_budget_mb"), "{why}");
    assert!(skipped["memory_estimate_mb"].as_f64().unwrap() > 400.0);
}

#[test]
fn cache_phases_count_hits_exactly_and_report_speedups() {
    let (dir, out, records, _) = run_config(
        "active_models: [minilm]\nbackends:\n  - name: mock\n    mock: {service_time: {distribution: constant, ms: 2}, batch_cost: {per_text_ms: 1}}\ntest_scenarios:\n  - name: cache\n    concurrency: 1\n    num_requests: 10\n    batch_size: 4\n    cache:\n      repeat_ratios: [0.0, 0.5]\n      distribution: zipf\n      seed: 11\n      capacity_entries: 1000\ninput_config:\n  sequence_lengths: [16]\n  warmup_requests: 1\n",
    );
    assert_eq!(records.len(), 8, "2 repeat ratios x 4 phases");
    for (ratio, phases) in [0.0, 0.5].iter().zip(records.chunks(4)) {
        // The same stream the runner generated: 40 texts per phase, cold then warm.
        let stream = repeat_stream(80, *ratio, RepeatDistribution::Zipf, 1.0, 11);
        let (cold, warm) = stream.ids.split_at(40);
        let distinct = |ids: &[usize]| ids.iter().collect::<std::collections::BTreeSet<_>>().len();
        let new_in_warm = warm.iter().filter(|id| !cold.contains(id)).collect::<std::collections::BTreeSet<_>>().len();
        let names: Vec<&str> = phases.iter().map(|r| r["cache"]["phase"].as_str().unwrap()).collect();
        assert_eq!(names, ["off", "cold", "hot", "warm"]);
        let hit = |i: usize| phases[i]["cache"]["hit_rate"].as_f64().unwrap();
        assert_eq!(hit(0), 0.0);
        assert!((hit(1) - (1.0 - distinct(cold) as f64 / 40.0)).abs() < 1e-12, "cold {}", hit(1));
        assert_eq!(hit(2), 1.0, "the replay finds everything cached");
        assert!((hit(3) - (1.0 - new_in_warm as f64 / 40.0)).abs() < 1e-12, "warm {}", hit(3));
        assert_eq!(phases[1]["cache"]["computed"].as_u64().unwrap() as usize, distinct(cold));
        assert_eq!(phases[0]["cache"]["speedup"], serde_json::Value::Null);
        // 2 ms + 1 ms per computed text: the hot phase (nothing computed) is far faster than the baseline.
        assert!(phases[2]["cache"]["speedup"].as_f64().unwrap() > 5.0, "{:#}", phases[2]);
        assert!(phases[2]["cache"]["entries"].as_u64().unwrap() as usize == distinct(cold));
        for p in phases {
            assert_eq!(p["valid"], true, "{p:#}");
            assert_eq!(p["requests"], 10);
            assert_eq!(p["scenario_kind"], "cache");
        }
    }
    let md = report(dir.path(), &out);
    assert!(md.contains("### Embedding cache"), "{md}");
    assert!(md.lines().any(|l| l.starts_with("| mock | 4 | 50 % | zipf | hot | 100.0 % |")), "{md}");
}

#[test]
fn an_lru_smaller_than_the_texts_evicts_and_stays_within_its_bound() {
    let (_dir, _, records, _) = run_config(
        "active_models: [minilm]\nbackends:\n  - name: mock\ntest_scenarios:\n  - name: cache\n    concurrency: 2\n    num_requests: 20\n    batch_size: 4\n    cache: {repeat_ratios: [0.2], distribution: uniform, capacity_entries: 5}\ninput_config:\n  sequence_lengths: [16]\n  warmup_requests: 0\n",
    );
    for r in &records[1..] {
        let c = &r["cache"];
        assert!(c["entries"].as_u64().unwrap() <= 5, "{c}");
        assert_eq!(c["limit"]["entries"], 5);
    }
    assert!(records[1]["cache"]["evictions"].as_u64().unwrap() > 0);
}
