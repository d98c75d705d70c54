//! CLIP and SigLIP end to end: both towers of the tiny models (`make tiny-models`) on
//! every backend through `configs/multimodal.yaml` (what `make bench-multimodal` runs),
//! each cell gated against transformers' own vectors; and image inputs' bad cases.

mod common;

use common::{embench, repo, validate_results, write};
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;

#[test]
fn both_towers_of_clip_and_siglip_pass_the_gate_on_every_backend() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    embench()
        .args(["run", "--out"])
        .arg(&out)
        .arg(repo().join("configs/multimodal.yaml"))
        .assert()
        .success()
        .stderr(contains("INVALID").not());
    let records = validate_results(&out);
    // 2 models x 8 backends x 2 scenarios (text, image) x batch 1 and 8.
    assert_eq!(records.len(), 2 * 8 * 2 * 2);
    for r in &records {
        let cell = format!("{} / {} / {} / b={}", r["model"], r["backend"], r["modality"], r["batch_size"]);
        assert_eq!(r["valid"], true, "{cell}: {}", r["invalid_reason"]);
        // Identical inputs (token ids, or Hugging Face's own pixel tensor) against transformers.
        assert!(r["min_cosine"].as_f64().unwrap() >= 0.999, "{cell}: {}", r["min_cosine"]);
        assert_eq!(r["modality"], r["scenario"], "{cell}");
        if r["modality"] == "image" {
            assert_eq!(r["seq_len"], "image 32x32", "{cell}");
            let image = &r["image"];
            assert!(image["source"].as_str().unwrap().starts_with("synthetic 640x480 jpeg"), "{cell}");
            assert!(image["preprocess_ms_per_image"].as_f64().unwrap() > 0.0, "{cell}");
            assert_eq!(image["images_skipped"], 0, "{cell}");
            // embench's decode + resize against Pillow's: about one 8-bit level apart.
            let diff = image["preprocess_max_abs_diff"].as_f64().unwrap();
            assert!(diff > 0.0 && diff < 0.05, "{cell}: pixel diff {diff}");
            assert!(image["preprocess_min_cosine"].as_f64().unwrap() >= 0.99, "{cell}");
        } else {
            assert!(r["image"].is_null(), "{cell}");
        }
    }
    let report = common::report(dir.path(), &out);
    assert!(report.contains("## tiny-clip, image tower (32x32)"), "{report}");
    assert!(report.contains("## tiny-siglip, sequence length natural"), "{report}");
    assert!(report.contains("### Image inputs and preprocessing"), "{report}");
    assert!(report.contains("| tiny-siglip | image 32x32 | Highest throughput |"), "{report}");
    assert!(report.contains(" images/s |"), "{report}");
}

/// A multimodal model without a folder runs on the mock backend (a plain square resize
/// stands in for its image processor), so the image pipeline is tested without a model.
fn mock_image_config(dir: &std::path::Path, dataset: &str, scenario: &str) -> std::path::PathBuf {
    write(
        dir,
        "models.yaml",
        "models:\n  pictures:\n    type: multimodal\n    max_seq_length: 64\n    embedding_dim: 8\n    image_size: 16\n  words:\n    max_seq_length: 64\n    embedding_dim: 8\n",
    );
    write(
        dir,
        "bench.yaml",
        &format!(
            "active_models: [pictures]\nbackends:\n  - name: mock\n    mock: {{service_time: {{distribution: constant, ms: 0.1}}, embedding_dim: 8}}\ntest_scenarios:\n  - name: images\n    modality: image\n    concurrency: 1\n    num_requests: 10\n    batch_size: 2\n{scenario}input_config:\n  sequence_lengths: [natural]\n  warmup_requests: 1\n{dataset}"
        ),
    )
}

#[test]
fn a_bad_file_in_the_images_folder_is_left_out_with_a_warning_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("images");
    std::fs::create_dir(&images).unwrap();
    let mut png = Vec::new();
    image::RgbImage::from_fn(40, 30, |x, y| image::Rgb([x as u8 * 6, y as u8 * 8, 90]))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    std::fs::write(images.join("a.png"), &png).unwrap();
    std::fs::write(images.join("b.jpg"), &png[..png.len() / 2]).unwrap(); // a PNG cut short
    std::fs::write(images.join("notes.txt"), "not an image, not read").unwrap();
    let config = mock_image_config(dir.path(), "dataset:\n  images: images\n", "");
    let out = dir.path().join("run");
    embench().args(["run", "--out"]).arg(&out).arg(&config).assert().success();
    let records = validate_results(&out);
    let r = &records[0];
    assert_eq!(r["valid"], true, "{r:#}");
    assert_eq!(r["image"]["images_skipped"], 1);
    assert_eq!(r["seq_len"], "image 16x16");
    let warnings = r["warnings"].to_string();
    assert!(warnings.contains("could not be decoded and were left out") && warnings.contains("b.jpg"), "{warnings}");
}

#[test]
fn image_settings_that_cannot_work_are_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    // A folder with no image in it.
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    let config = mock_image_config(dir.path(), "dataset:\n  images: empty\n", "");
    embench().arg("validate").arg(&config).assert().failure().code(2).stderr(
        contains("field 'dataset.images'")
            .and(contains("has no .jpg, .jpeg, .png or .webp file"))
            .and(contains("remove dataset.images to use synthetic ones")),
    );
    // A zero-size synthetic image, and a prompt and a cache on an image scenario.
    let config = mock_image_config(
        dir.path(),
        "dataset:\n  synthetic_image_size: [0, 480]\n",
        "    prompt: query\n    cache: {repeat_ratios: [0.5], capacity_entries: 10}\n",
    );
    embench().arg("validate").arg(&config).assert().failure().code(2).stderr(
        contains("field 'dataset.synthetic_image_size': 0x480 pixels is not a usable image size")
            .and(contains("an image scenario has no text prompt"))
            .and(contains("the embedding cache is for texts, not images")),
    );
    // An image scenario on a text-only model.
    let config = mock_image_config(dir.path(), "", "");
    std::fs::write(&config, std::fs::read_to_string(&config).unwrap().replace("[pictures]", "[words]")).unwrap();
    embench().arg("validate").arg(&config).assert().failure().code(2).stderr(
        contains("field 'test_scenarios[0].modality'")
            .and(contains("model 'words' embeds text only"))
            .and(contains("run image scenarios with a multimodal model (CLIP, SigLIP)")),
    );
    // With a multimodal model beside it, the text model's image cells are SKIPPED instead.
    std::fs::write(&config, std::fs::read_to_string(&config).unwrap().replace("[words]", "[words, pictures]")).unwrap();
    embench()
        .arg("validate")
        .arg(&config)
        .assert()
        .success()
        .stdout(contains("model 'words' in scenario 'images' (1 cells): model 'words' embeds text only"));
}

#[test]
fn include_preprocessing_puts_decoding_and_resizing_inside_each_request() {
    let dir = tempfile::tempdir().unwrap();
    let both = "  - name: inside\n    modality: image\n    include_preprocessing: true\n    concurrency: 1\n    num_requests: 10\n    batch_size: 2\n";
    let config = mock_image_config(dir.path(), "", both);
    let out = dir.path().join("run");
    embench().args(["run", "--out"]).arg(&out).arg(&config).assert().success();
    let records = validate_results(&out);
    let (before, inside) = (&records[0], &records[1]);
    assert_eq!(
        (before["image"]["include_preprocessing"].as_bool(), inside["image"]["include_preprocessing"].as_bool()),
        (Some(false), Some(true))
    );
    // Two 640x480 JPEGs decoded and resized per request: the mock's 0.1 ms becomes milliseconds.
    let per_image = inside["image"]["preprocess_ms_per_image"].as_f64().unwrap();
    let mean = |r: &serde_json::Value| r["latency_ms"]["mean"].as_f64().unwrap();
    assert!(
        mean(inside) > 1.5 * per_image && mean(before) < 0.5 * per_image,
        "{} vs {} (preprocess {per_image} ms/image)",
        mean(inside),
        mean(before)
    );
    // Only image scenarios have preprocessing, and only clients calling the model directly run it yet.
    let text = mock_image_config(dir.path(), "", "").to_string_lossy().into_owned();
    let body = std::fs::read_to_string(&text).unwrap();
    std::fs::write(
        &text,
        body.replace("    modality: image\n", "    modality: text\n    include_preprocessing: true\n"),
    )
    .unwrap();
    embench().arg("validate").arg(&text).assert().failure().code(2).stderr(contains(
        "field 'test_scenarios[0].include_preprocessing': only an image scenario has preprocessing to include",
    ));
    let batched = "    include_preprocessing: true\n    dynamic_batching: {max_batch_size: 4, max_wait_us: 100}\n";
    let config = mock_image_config(dir.path(), "", batched);
    embench()
        .arg("validate")
        .arg(&config)
        .assert()
        .failure()
        .code(2)
        .stderr(contains("include_preprocessing runs with clients calling the model directly"));
}

/// Copies the tiny CLIP folder into `dir/clip` (models.yaml beside it), for tests that break it.
fn tiny_clip_copy(dir: &std::path::Path) -> std::path::PathBuf {
    let copy = dir.join("clip");
    let status = std::process::Command::new("cp").arg("-r").arg(repo().join("models/tiny-clip")).arg(&copy).status();
    assert!(status.unwrap().success());
    write(
        dir,
        "models.yaml",
        "models:\n  clip:\n    type: multimodal\n    path: clip\n    architecture: clip\n    max_seq_length: 77\n    embedding_dim: 16\n",
    );
    copy
}

#[test]
fn a_broken_image_reference_fails_the_image_cells_and_leaves_the_text_towers_gate() {
    let dir = tempfile::tempdir().unwrap();
    let copy = tiny_clip_copy(dir.path());
    std::fs::remove_file(copy.join("references/image.json")).unwrap();
    let config = write(
        dir.path(),
        "bench.yaml",
        "active_models: [clip]\nbackends: [ort]\ntest_scenarios:\n  - {name: text, concurrency: 1, num_requests: 5, batch_size: 2}\n  - {name: image, modality: image, concurrency: 1, num_requests: 5, batch_size: 2}\ninput_config:\n  sequence_lengths: [natural]\n  warmup_requests: 1\n",
    );
    let out = dir.path().join("run");
    embench().args(["run", "--out"]).arg(&out).arg(&config).assert().code(1);
    let records = validate_results(&out);
    let (text, image) = (&records[0], &records[1]);
    assert_eq!(text["valid"], true, "{text:#}");
    assert!(text["min_cosine"].as_f64().unwrap() >= 0.999);
    let why = image["invalid_reason"].as_str().unwrap();
    assert!(why.contains("correctness gate could not run") && why.contains("references/image.json"), "{why}");
    assert!(why.contains("scripts/convert_models.sh --force"), "{why}");
}

#[test]
fn a_multimodal_folder_without_its_preprocessor_config_skips_its_image_cells() {
    let dir = tempfile::tempdir().unwrap();
    let copy = tiny_clip_copy(dir.path());
    std::fs::remove_file(copy.join("pytorch/preprocessor_config.json")).unwrap();
    let config = write(
        dir.path(),
        "bench.yaml",
        "active_models: [clip]\nbackends: [ort]\ntest_scenarios:\n  - {name: text, concurrency: 1, num_requests: 5, batch_size: 2}\n  - {name: image, modality: image, concurrency: 1, num_requests: 5, batch_size: 2}\ninput_config:\n  sequence_lengths: [natural]\n  warmup_requests: 1\n",
    );
    embench().arg("validate").arg(&config).assert().success().stdout(
        contains("SKIPPED: 1 of 2 cells cannot run here")
            .and(contains("model 'clip' in scenario 'image' (1 cells)"))
            .and(contains("pytorch/preprocessor_config.json: its image preprocessing is not known")),
    );
}

#[test]
fn image_requests_are_served_by_replicas_and_joined_by_dynamic_batching() {
    let dir = tempfile::tempdir().unwrap();
    let served = "  - name: batched\n    modality: image\n    concurrency: 8\n    num_requests: 64\n    batch_size: 1\n    dynamic_batching: {max_batch_size: 8, max_wait_us: 2000}\n  - name: sweep\n    modality: image\n    concurrency: 2\n    num_requests: 8\n    batch_size: [1, 4]\n";
    let config = mock_image_config(dir.path(), "", served);
    let out = dir.path().join("run");
    embench().args(["run", "--out"]).arg(&out).arg(&config).assert().success();
    let records = validate_results(&out);
    assert_eq!(records.len(), 4);
    for r in &records {
        assert_eq!((r["valid"].as_bool(), r["modality"].as_str()), (Some(true), Some("image")), "{r:#}");
    }
    let batched = records.iter().find(|r| r["scenario"] == "batched").unwrap();
    let formed = batched["execution"]["formed_batches"].as_object().unwrap();
    assert!(formed.keys().any(|size| size != "1"), "8 clients of one image each were joined: {formed:?}");
    let sweep: Vec<u64> =
        records.iter().filter(|r| r["scenario"] == "sweep").map(|r| r["batch_size"].as_u64().unwrap()).collect();
    assert_eq!(sweep, [1, 4]);
}
