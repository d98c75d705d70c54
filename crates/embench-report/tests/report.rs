//! Report, CSV and compare on a checked-in fixture: two hosts, an invalid cell.

use std::path::PathBuf;

use embench_report::compare::{compare, Verdict};
use embench_report::{charts, csv_export, load_runs, markdown, Runs};

fn fixture_runs() -> Runs {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/runs");
    load_runs(&[root.join("host-a"), root.join("host-b")]).unwrap()
}

#[test]
fn markdown_report_snapshot() {
    let runs = fixture_runs();
    let dir = tempfile::tempdir().unwrap();
    let files = charts::render_all(&runs, dir.path()).unwrap();
    let md = markdown::report(&runs, &files);
    assert!(md.contains("**INVALID**: candle failed during load"), "invalid cells show as such");
    insta::assert_snapshot!("report_md", md);
}

#[test]
fn csv_snapshot() {
    let csv = csv_export::cells_csv(&fixture_runs()).unwrap();
    assert_eq!(csv.lines().count(), 1 + 6 + 8, "a header and one row per cell");
    insta::assert_snapshot!("cells_csv", csv);
}

#[test]
fn charts_are_written_and_decode() {
    let runs = fixture_runs();
    let dir = tempfile::tempdir().unwrap();
    let files = charts::render_all(&runs, dir.path()).unwrap();
    let stems: Vec<&str> = files.iter().map(|f| f.stem.as_str()).collect();
    for kind in ["latency_vs_concurrency", "qps_vs_concurrency", "load_time", "peak_rss", "latency_distribution"] {
        assert!(stems.contains(&format!("all-minilm-l6-v2_seq32_{kind}").as_str()), "{kind} missing from {stems:?}");
    }
    for f in &files {
        let png = image::open(dir.path().join(format!("{}.png", f.stem))).expect("a decodable PNG");
        assert_eq!((png.width(), png.height()), (960, 600));
        let svg = std::fs::read_to_string(dir.path().join(format!("{}.svg", f.stem))).unwrap();
        let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        assert!(svg.contains(&f.title), "the SVG carries its title");
    }
}

#[test]
fn compare_marks_changes_beyond_the_threshold() {
    let runs = fixture_runs();
    let cmp = compare(&runs.runs[0], &runs.runs[1], 5.0);
    // host-a has a batch_8 scenario that host-b lacks; host-b has a second model.
    assert!(cmp.only_baseline.iter().any(|k| k.scenario == "batch_8"));
    assert!(cmp.only_candidate.iter().any(|k| k.model == "broken-minilm"));
    assert_eq!(cmp.matched.len(), 4);
    let same = compare(&runs.runs[0], &runs.runs[0], 5.0);
    assert!(same.matched.iter().all(|d| d.verdict == Verdict::Noise && !d.regressed_beyond(0.0)));
    insta::assert_snapshot!("compare_md", cmp.markdown("host-a", "host-b"));
}

/// The fixture's candle cell on host-a ("single"), as if `framework` had run it at
/// `emb_s` embeddings/s with a p50 of `p50` ms.
fn cell_of(runs: &Runs, framework: &str, emb_s: f64, p50: f64) -> embench_schema::CellRecord {
    let base = runs.runs[0].records.iter().find(|r| r.backend == "candle" && r.scenario == "single").unwrap();
    let mut r = base.clone();
    (r.framework, r.backend) = (framework.to_string(), framework.to_string());
    r.embeddings_per_s = Some(emb_s);
    r.latency_ms.as_mut().unwrap().p50 = p50;
    r
}

#[test]
fn python_baselines_sit_beside_their_rust_framework_with_the_protocol_cost() {
    let runs = fixture_runs();
    let with = |framework: &str, emb_s: f64, p50: f64| cell_of(&runs, framework, emb_s, p50);
    let rust = with("ort", 50.0, 20.0);
    let python = with("python-ort", 40.0, 25.0);
    let echo = with("python-echo", 40000.0, 0.025);
    let other = with("openvino", 60.0, 16.0);
    let entries: Vec<embench_report::Entry<'_>> =
        [&rust, &python, &echo, &other].into_iter().map(|record| embench_report::Entry { host: "h", record }).collect();
    let mut md = String::new();
    embench_report::python_sections::rust_vs_python(&mut md, &entries, false);
    let rows: Vec<&str> = md.lines().filter(|l| l.starts_with("| single")).collect();
    assert_eq!(rows.len(), 1, "python-ort pairs with ort only:\n{md}");
    assert!(rows[0].contains("| python-ort | ort | 40.0 | 50.0 | 1.25× |"), "{md}");
    assert!(md.contains("takes 0.025 ms at the median, 0.10 % of python-ort's 25.00 ms"), "{md}");

    let mut none = String::new();
    embench_report::python_sections::rust_vs_python(&mut none, &entries[..1], false);
    assert!(none.is_empty(), "no Python baseline, no section");
}

#[test]
fn ort_native_sits_beside_ort_and_python_ort_cell_by_cell() {
    let runs = fixture_runs();
    let with = |framework: &str, emb_s: f64, p50: f64| cell_of(&runs, framework, emb_s, p50);
    let native = with("ort-native", 55.0, 18.0);
    let rust = with("ort", 50.0, 20.0);
    let python = with("python-ort", 44.0, 22.5);
    let mut elsewhere = with("ort", 10.0, 90.0);
    elsewhere.batch_size += 1;
    let mut optimised_otherwise = with("ort", 70.0, 14.0);
    optimised_otherwise.backend_settings.insert("graph_optimization".into(), "basic".into());
    let mut native = native;
    native.backend_settings.insert("graph_optimization".into(), "all".into());
    let entries: Vec<embench_report::Entry<'_>> = [&native, &optimised_otherwise, &rust, &python, &elsewhere]
        .into_iter()
        .map(|record| embench_report::Entry { host: "h", record })
        .collect();
    let mut md = String::new();
    embench_report::bindings_sections::onnxruntime_bindings(&mut md, &entries, false);
    let rows: Vec<&str> = md.lines().filter(|l| l.starts_with("| single")).collect();
    assert_eq!(rows.len(), 1, "one row per ort-native cell, paired with the ort cell run alike:\n{md}");
    assert!(rows[0].contains("| ort-native | 55.0 | 50.0 | 44.0 | 1.10× | 1.25× |"), "{md}");
    assert!(md.contains("| scenario | conc | batch | label | ort-native emb/s |"), "{md}");
    assert!(md.contains("includes a pipe round trip"), "{md}");

    let mut none = String::new();
    embench_report::bindings_sections::onnxruntime_bindings(&mut none, &entries[1..], false);
    assert!(none.is_empty(), "no ort-native cell, no section");
}
