//! Every kind of config error names file:line:col, the field, and a fix.

mod common;

use common::{assert_at, BackendsName, Fixture, GOOD};
use embench_core::config::{load_config, SeqLen};
use embench_core::BackendKind;

#[test]
fn the_good_config_loads() {
    let f = Fixture::new();
    let c = f.load(GOOD).unwrap();
    assert_eq!(c.models[0].key, "minilm");
    assert_eq!(c.backends[0].kind, BackendKind::Candle);
    assert_eq!(c.scenarios[0].concurrency, 2);
    assert_eq!(c.sequence_lengths.len(), 2);
}

#[test]
fn unknown_key_suggests_the_right_one() {
    let f = Fixture::new();
    let e = f.one_error(&GOOD.replace("    concurrency: 2", "    concurency: 2"));
    assert_at(&e, &f.path("bench.yaml"), 6, 5, "concurency");
    assert!(e.message.contains("did you mean 'concurrency'?"), "{e}");
    assert!(e.fix.as_deref().unwrap().contains("num_requests"), "{e}");
}

#[test]
fn wrong_type_names_the_field() {
    let f = Fixture::new();
    let e = f.one_error(&GOOD.replace("concurrency: 2", "concurrency: \"four\""));
    assert_at(&e, &f.path("bench.yaml"), 6, 18, "concurrency");
    assert!(e.message.contains("whole number"), "{e}");
    assert!(e.fix.as_deref().unwrap().contains("plain number"), "{e}");
}

#[test]
fn malformed_yaml_points_at_the_problem() {
    let f = Fixture::new();
    let errors = f.load(&GOOD.replace("active_models: [minilm]", "active_models: [minilm")).unwrap_err();
    let e = &errors[0];
    assert_eq!(e.file, f.path("bench.yaml"));
    assert!(e.line.is_some() && e.column.is_some(), "{e}");
}

#[test]
fn missing_required_key_says_which() {
    let f = Fixture::new();
    let e = f.one_error(&GOOD.replace("    num_requests: 10\n", ""));
    assert_eq!(e.field, "test_scenarios[0].num_requests", "{e}");
    assert!(e.line.is_some(), "{e}");
    assert!(e.fix.as_deref().unwrap().contains("num_requests"), "{e}");
}

#[test]
fn zero_concurrency_is_impossible() {
    let f = Fixture::new();
    let e = f.one_error(&GOOD.replace("concurrency: 2", "concurrency: 0"));
    assert_at(&e, &f.path("bench.yaml"), 6, 18, "test_scenarios[0].concurrency");
    assert!(e.fix.as_deref().unwrap().contains("1..=1024"), "{e}");
}

#[test]
fn sequence_length_over_the_model_maximum() {
    let f = Fixture::new();
    // Refused under strict (without it, skipped: tests/config_shorthands.rs).
    let e = f.one_error(&format!("{}strict: true\n", GOOD.replace("[32, natural]", "[32, 512]")));
    assert_at(&e, &f.path("bench.yaml"), 10, 26, "input_config.sequence_lengths[1]");
    assert!(e.message.contains("maximum of 256"), "{e}");
}

#[test]
fn unknown_model_suggests_a_key() {
    let f = Fixture::new();
    let e = f.one_error(&GOOD.replace("[minilm]", "[minlm]"));
    assert_at(&e, &f.path("bench.yaml"), 1, 17, "active_models[0]");
    assert!(e.message.contains("did you mean 'minilm'?"), "{e}");
}

#[test]
fn unknown_backend_suggests_a_name() {
    let f = Fixture::new();
    let e = f.one_error(&GOOD.replace("name: candle", "name: candel"));
    assert_at(&e, &f.path("bench.yaml"), 3, 11, "backends[0].name");
    assert!(e.message.contains("did you mean 'candle'?"), "{e}");
}

#[test]
fn every_parse_error_of_a_file_comes_at_once() {
    let f = Fixture::new();
    // Two misspelt keys and a wrong type, in three places: one run names all three.
    let config = GOOD
        .replace("    concurrency: 2", "    concurency: 2")
        .replace("  warmup_requests: 1", "  warmup_request: 1")
        .replace("    num_requests: 10", "    num_requests: ten");
    let errors = f.load(&config).expect_err("three mistakes");
    let shown: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(errors.len(), 3, "{shown:#?}");
    let bench = f.path("bench.yaml");
    assert_at(&errors[0], &bench, 6, 5, "concurency");
    assert!(errors[0].message.contains("unknown key 'concurency' (did you mean 'concurrency'?)"), "{}", errors[0]);
    assert_eq!((errors[1].line, errors[1].column), (Some(7), Some(19)), "{}", errors[1]);
    assert!(errors[1].field.ends_with("num_requests"), "{}", errors[1]);
    assert_at(&errors[2], &bench, 11, 3, "input_config.warmup_request");
    assert!(errors[2].message.contains("did you mean 'warmup_requests'?"), "{}", errors[2]);
    assert!(errors[2].fix.as_deref().unwrap().contains("valid keys here:"), "{}", errors[2]);
}

#[test]
fn errors_on_one_line_and_inside_optional_blocks_are_each_named() {
    let f = Fixture::new();
    // Flow style: two mistakes on one line; and a typo inside an optional block.
    let config = GOOD.replace(
        "  - name: single\n    concurrency: 2\n    num_requests: 10\n    batch_size: 1\n",
        "  - {name: single, concurency: 2, num_requests: ten, batch_size: 1}\n  - name: slo\n    concurrency: 1\n    num_requests: 10\n    batch_size: 1\n    max_qps_under_slo: {percentile: 99, bound_ms: 5, max_probe: 8}\n",
    );
    let errors = f.load(&config).expect_err("three mistakes");
    let shown: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(errors.len(), 3, "{shown:#?}");
    assert!(shown[0].contains("unknown key 'concurency'"), "{shown:#?}");
    assert!(errors[1].field.ends_with("num_requests") && errors[1].line == errors[0].line, "{shown:#?}");
    assert!(shown[2].contains("unknown key 'max_probe' (did you mean 'max_probes'?)"), "{shown:#?}");
    assert!(errors[2].field.ends_with("max_qps_under_slo.max_probe"), "{shown:#?}");
}

#[test]
fn names_are_case_sensitive_and_a_wrong_case_is_named() {
    let f = Fixture::new();
    let e = f.one_error(&GOOD.replace("name: candle", "name: CANDLE"));
    assert_at(&e, &f.path("bench.yaml"), 3, 11, "backends[0].name");
    assert!(e.message.contains("did you mean 'candle'?"), "{e}");
}

#[test]
fn one_sequence_length_may_stand_alone() {
    let f = Fixture::new();
    let c = f.load(&GOOD.replace("sequence_lengths: [32, natural]", "sequence_lengths: 64")).unwrap();
    assert_eq!(c.sequence_lengths, [SeqLen::Tokens(64)]);
    // It keeps its place for errors: 600 is over the model's 256.
    let e = f.one_error(&format!(
        "{}strict: true\n",
        GOOD.replace("sequence_lengths: [32, natural]", "sequence_lengths: 600")
    ));
    assert_at(&e, &f.path("bench.yaml"), 10, 21, "input_config.sequence_lengths[0]");
}

#[test]
fn a_list_where_one_value_goes_says_so() {
    let f = Fixture::new();
    let e = f.one_error(&GOOD.replace("  - name: candle", "  - name: candle\n    threads: [1, 2]"));
    assert_eq!(e.field, "threads", "{e}");
    assert!(e.message.contains("expected a positive number or \"auto\", found a list"), "{e}");
    assert!(e.to_string().contains("list the backend or scenario again with its own label"), "{e}");
}

#[test]
fn an_empty_file_says_so() {
    let f = Fixture::new();
    let e = f.one_error("# only a comment\n\n");
    assert_eq!(e.message, "the file is empty (nothing but blank lines and comments)", "{e}");
    assert!(e.to_string().contains("configs/quick.yaml is a complete example"), "{e}");
}

#[test]
fn a_negative_count_names_its_real_bound() {
    let f = Fixture::new();
    let e = f.one_error(&GOOD.replace("num_requests: 10", "num_requests: -3"));
    assert_at(&e, &f.path("bench.yaml"), 7, 19, "num_requests");
    assert_eq!(e.message, "expected a whole number >= 1", "{e}");
}

#[test]
fn backend_not_in_this_binary_says_how_to_get_it() {
    let f = Fixture::new();
    let p = f.path("bench.yaml");
    std::fs::write(&p, GOOD).unwrap();
    let errors =
        load_config(&p, &|k| (k == BackendKind::Candle).then(|| "built without it".to_string())).unwrap_err().0;
    assert_eq!(errors.len(), 1);
    assert_at(&errors[0], &p, 3, 11, "backends[0].name");
    assert!(errors[0].fix.as_deref().unwrap().contains("feature"), "{}", errors[0]);
}

#[test]
fn missing_model_files_name_the_file_and_the_fetch_command() {
    let f = Fixture::new();
    std::fs::remove_file(f.path("minilm/model.safetensors")).unwrap();
    // An error under strict (without it, the cells are skipped with the same words).
    let e = f.one_error_with(&format!("{GOOD}strict: true\n"), &BackendsName);
    assert_at(&e, &f.path("models.yaml"), 6, 11, "models.minilm.path");
    assert!(e.message.contains("model.safetensors"), "{e}");
    assert!(e.fix.as_deref().unwrap().contains("convert_models.sh"), "{e}");
}

#[test]
fn the_mock_needs_no_model_files() {
    let f = Fixture::new();
    std::fs::remove_dir_all(f.path("minilm")).unwrap();
    let c = f.load(&GOOD.replace("name: candle", "name: mock")).unwrap();
    assert!(c.backends[0].settings::<embench_mock::MockSettings>().is_some());
}

#[test]
fn missing_models_file_is_named() {
    let f = Fixture::new();
    let e = f.one_error(&format!("models_file: nowhere.yaml\n{GOOD}"));
    assert_at(&e, &f.path("bench.yaml"), 1, 14, "models_file");
    assert!(e.message.contains("nowhere.yaml"), "{e}");
}

#[test]
fn every_problem_is_reported_at_once() {
    let f = Fixture::new();
    let config = GOOD.replace("concurrency: 2", "concurrency: 0").replace("batch_size: 1", "batch_size: 0");
    let errors = f.load(&config).unwrap_err();
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["test_scenarios[0].concurrency", "test_scenarios[0].batch_size"]);
}

#[test]
fn open_loop_needs_a_rate_and_closed_loop_refuses_one() {
    let f = Fixture::new();
    let e = f.one_error(&GOOD.replace("    batch_size: 1\n", "    batch_size: 1\n    mode: open_loop\n"));
    assert_eq!(e.field, "test_scenarios[0].rate_qps", "{e}");
    assert!(e.fix.as_deref().unwrap().contains("rate_qps"), "{e}");
    let e = f.one_error(&GOOD.replace("    batch_size: 1\n", "    batch_size: 1\n    rate_qps: 50\n"));
    assert_at(&e, &f.path("bench.yaml"), 9, 15, "test_scenarios[0].rate_qps");
    let c = f
        .load(&GOOD.replace(
            "    batch_size: 1\n",
            "    batch_size: 1\n    mode: open_loop\n    rate_qps: 50\n    arrival: fixed\n",
        ))
        .unwrap();
    assert_eq!(c.scenarios[0].mode.name(), "open_loop");
}

#[test]
fn a_backend_listed_twice_needs_labels() {
    let f = Fixture::new();
    let twice = GOOD.replace("  - name: candle\n", "  - name: candle\n  - name: candle\n");
    let e = f.one_error(&twice);
    assert_at(&e, &f.path("bench.yaml"), 4, 11, "backends[1].name");
    assert!(e.fix.as_deref().unwrap().contains("label"), "{e}");
    let labelled = GOOD.replace("  - name: candle\n", "  - name: candle\n  - name: candle\n    label: candle-2\n");
    let c = f.load(&labelled).unwrap();
    assert_eq!(c.backends[1].label, "candle-2");
}

#[test]
fn a_precision_the_framework_lacks_names_the_ones_it_has() {
    let f = Fixture::new();
    let e = f.one_error(&GOOD.replace("  - name: candle\n", "  - name: candle\n    precision: bf16\n"));
    assert_at(&e, &f.path("bench.yaml"), 4, 16, "backends[0].precision");
    assert!(e.message.contains("candle does not run in bf16"), "{e}");
    assert!(e.fix.as_deref().unwrap().contains("fp32"), "{e}");
}

#[test]
fn batch_sweeps_expand_and_their_mistakes_are_named() {
    let f = Fixture::new();
    let sweep = |spec: &str| GOOD.replace("    num_requests: 10\n    batch_size: 1\n", spec);
    let c = f.load(&sweep("    num_texts: 100\n    batch_size: [32, 1, 8]\n")).unwrap();
    let points: Vec<(usize, usize)> = c.scenarios[0].points.iter().map(|p| (p.batch_size, p.num_requests)).collect();
    assert_eq!(points, [(1, 100), (8, 13), (32, 4)], "ascending; about 100 texts each");
    let c = f.load(&sweep("    num_requests: 5\n    batch_size: sweep\n")).unwrap();
    let sizes: Vec<usize> = c.scenarios[0].points.iter().map(|p| p.batch_size).collect();
    assert_eq!(sizes, [1, 4, 8, 16, 32, 64, 128, 256]);
    assert!(c.scenarios[0].points.iter().all(|p| p.num_requests == 5));

    let e = f.one_error(&sweep("    batch_size: [1, 8]\n"));
    assert_eq!(e.field, "test_scenarios[0].num_texts", "{e}");
    assert!(e.fix.as_deref().unwrap().contains("num_texts: 1024"), "{e}");
    let e = f.one_error(&sweep("    num_texts: 10\n    batch_size: [1, 8, 8]\n"));
    assert_at(&e, &f.path("bench.yaml"), 8, 17, "test_scenarios[0].batch_size");
    assert!(e.message.contains("distinct"), "{e}");
    let e = f.one_error(&sweep("    num_texts: 10\n    batch_size: sweeps\n"));
    assert!(e.message.contains("\"sweep\""), "{e}");
    let e = f.one_error(&GOOD.replace("    num_requests: 10\n", "    num_requests: 10\n    num_texts: 10\n"));
    assert_at(&e, &f.path("bench.yaml"), 8, 16, "test_scenarios[0].num_texts");
    assert!(e.message.contains("sweeps only"), "{e}");
}

#[test]
fn cache_scenario_settings_are_checked() {
    let f = Fixture::new();
    let with = |extra: &str| GOOD.replace("    batch_size: 1\n", &format!("    batch_size: 1\n{extra}"));
    let c = f.load(&with("    cache: {repeat_ratios: [0.2], capacity_entries: 50}\n")).unwrap();
    let cache = c.scenarios[0].cache.as_ref().unwrap();
    assert_eq!(cache.limit, embench_schema::CacheLimit::Entries(50));
    assert_eq!(c.scenarios[0].kind().as_str(), "cache");

    let e = f.one_error(&with("    cache: {repeat_ratios: [0.2, 1.5]}\n"));
    assert_at(&e, &f.path("bench.yaml"), 9, 12, "test_scenarios[0].cache");
    assert!(e.message.contains("[0, 1)"), "{e}");
    let e = f.one_error(&with("    cache: {capacity_entries: 5, capacity_mb: 1}\n"));
    assert!(e.message.contains("not both"), "{e}");
    let e = f.one_error(&with("    mode: offline\n    cache: {}\n"));
    assert!(e.message.contains("closed loop"), "{e}");
    let e = f.one_error(&with("    cache: {repeat_ratio: [0.2]}\n"));
    assert!(e.message.contains("repeat_ratios"), "an unknown key suggests the right one: {e}");
}

#[test]
fn a_scenario_limited_to_an_unknown_backend_is_named() {
    let f = Fixture::new();
    let e = f.one_error(&GOOD.replace("    batch_size: 1\n", "    batch_size: 1\n    backends: [candel]\n"));
    assert_at(&e, &f.path("bench.yaml"), 9, 16, "test_scenarios[0].backends[0]");
    assert!(e.message.contains("did you mean 'candle'"), "{e}");
}

#[test]
fn an_impossible_memory_budget_is_rejected() {
    let f = Fixture::new();
    let e = f.one_error(&GOOD.replace("  warmup_requests: 1\n", "  warmup_requests: 1\n  memory_budget_mb: -5\n"));
    assert_at(&e, &f.path("bench.yaml"), 12, 21, "input_config.memory_budget_mb");
}

#[test]
fn serving_and_measuring_keys_load_and_their_mistakes_are_named() {
    use embench_core::config::{Count, DynamicBatching, Execution};
    let f = Fixture::new();
    let with = |extra: &str| GOOD.replace("    batch_size: 1\n", &format!("    batch_size: 1\n{extra}"));
    let c = f
        .load(&with(
            "    replicas: auto\n    workers_per_model: 2\n    dynamic_batching: {max_batch_size: 8}\n    repeat: 3\n    min_duration_s: 1.5\n    warmup_duration_s: 2\n",
        ))
        .unwrap();
    let s = &c.scenarios[0];
    assert_eq!(
        s.execution,
        Some(Execution {
            replicas: Count::Auto,
            workers_per_model: Count::N(2),
            dynamic_batching: Some(DynamicBatching { max_batch_size: 8, max_wait_us: 2000 }),
        })
    );
    assert_eq!((s.measurement.repeat, s.measurement.min_duration_s, s.measurement.warmup_duration_s), (3, 1.5, 2.0));
    assert_eq!(c.cost.instance_type, "c7i.4xlarge", "the default price");

    let e = f.one_error(&with("    replicas: 0\n"));
    assert_at(&e, &f.path("bench.yaml"), 9, 15, "test_scenarios[0].replicas");
    assert!(e.fix.as_deref().unwrap_or_default().contains("auto"), "{e}");
    let e = f.one_error(&with("    replicas: many\n"));
    assert!(e.message.contains("auto"), "{e}");
    let e = f.one_error(&with("    dynamic_batching: {max_batch_size: 0}\n"));
    assert_at(&e, &f.path("bench.yaml"), 9, 23, "test_scenarios[0].dynamic_batching");
    let e = f.one_error(&with("    dynamic_batching: {max_batch: 8}\n"));
    assert!(e.to_string().contains("max_batch_size"), "an unknown key suggests the right one: {e}");
    let e = f.one_error(&with("    repeat: 0\n"));
    assert_at(&e, &f.path("bench.yaml"), 9, 13, "test_scenarios[0].repeat");
    let e = f.one_error(&with("    min_duration_s: -1\n"));
    assert_at(&e, &f.path("bench.yaml"), 9, 21, "test_scenarios[0].min_duration_s");
    let e = f.one_error(&with("    steady_state: {windows: 2}\n"));
    assert!(e.message.contains("windows 2"), "{e}");
    let e = f.one_error(&with("    replicas: 2\n    cache: {}\n"));
    assert!(e.message.contains("directly"), "{e}");
}

#[test]
fn the_slo_search_and_the_price_are_checked() {
    let f = Fixture::new();
    let with = |extra: &str| GOOD.replace("    batch_size: 1\n", &format!("    batch_size: 1\n{extra}"));
    let c = f.load(&with("    max_qps_under_slo: {percentile: 99, bound_ms: 50}\n")).unwrap();
    let s = &c.scenarios[0];
    assert_eq!(s.kind().as_str(), "slo_search");
    let slo = s.slo.unwrap();
    assert_eq!((slo.percentile, slo.bound_ms, slo.tolerance, slo.max_probes), (99.0, 50.0, 0.02, 12));

    let e = f.one_error(&with("    rate_qps: 10\n    max_qps_under_slo: {percentile: 99, bound_ms: 50}\n"));
    assert_at(&e, &f.path("bench.yaml"), 10, 24, "test_scenarios[0].max_qps_under_slo");
    assert!(e.message.contains("chooses the open-loop rate"), "{e}");
    let e = f.one_error(&with("    max_qps_under_slo: {percentile: 100, bound_ms: 50}\n"));
    assert!(e.message.contains("percentile 100"), "{e}");

    let priced = GOOD.to_string() + "cost:\n  instance_type: m7i.large\n  hourly_usd: 0.1008\n";
    let c = f.load(&priced).unwrap();
    assert_eq!((c.cost.instance_type.as_str(), c.cost.hourly_usd, c.cost.default), ("m7i.large", 0.1008, false));
    // 1 request/s for an hour at $0.1008/h: $0.1008 per 3600 requests.
    assert!((c.cost.per_million(1.0).unwrap() - 0.1008 / 3600.0 * 1e6).abs() < 1e-9);
    let e = f.one_error(&priced.replace("0.1008", "0"));
    assert_at(&e, &f.path("bench.yaml"), 14, 15, "cost.hourly_usd");
}

#[test]
fn threads_take_a_count_or_auto() {
    let f = Fixture::new();
    let with = |t: &str| GOOD.replace("  - name: candle\n", &format!("  - name: candle\n    threads: {t}\n"));
    assert_eq!(f.load(&with("auto")).unwrap().backends[0].threads, None, "auto resolves when the cell runs");
    assert_eq!(f.load(&with("3")).unwrap().backends[0].threads, Some(3));
    let e = f.one_error(&with("0"));
    assert_at(&e, &f.path("bench.yaml"), 4, 14, "backends[0].threads");
    assert!(e.fix.as_deref().unwrap_or_default().contains("auto"), "{e}");
    let e = f.one_error(&with("lots"));
    assert!(e.message.contains("auto"), "{e}");
}

#[test]
fn auto_batch_and_device_resolve_from_the_machine_and_keep_auto_in_the_config() {
    use embench_core::config::{load_config_with, AutoSettings, DeviceKind};
    let f = Fixture::new();
    let config = GOOD
        .replace("  - name: candle\n", "  - name: mock\n    device: auto\n  - name: candle\n    device: auto\n")
        .replace("batch_size: 1", "batch_size: auto");
    let p = f.path("bench.yaml");
    std::fs::write(&p, &config).unwrap();
    let gpu = AutoSettings { batch_size: 64, use_gpu: true, why: "a 24 GB GPU".into() };
    let c = load_config_with(&p, &|_| None, &gpu).unwrap();
    assert_eq!(c.scenarios[0].points[0].batch_size, 64);
    assert!(c.scenarios[0].batch_auto);
    assert_eq!((c.backends[0].device, c.backends[0].device_auto), (DeviceKind::Cuda, true));
    assert_eq!(c.backends[1].device, DeviceKind::Cuda, "candle runs on CUDA itself");
    assert_eq!(c.auto, gpu);
    // What was asked stays in the config the manifest records.
    assert_eq!(serde_json::to_value(&c.benchmark).unwrap()["test_scenarios"][0]["batch_size"], "auto");

    let cpu = load_config(&p, &|_| None).unwrap();
    assert_eq!(cpu.scenarios[0].points[0].batch_size, AutoSettings::default().batch_size);
    assert_eq!(cpu.backends[0].device, DeviceKind::Cpu);

    let e = f.one_error(&GOOD.replace("batch_size: 1", "batch_size: biggest"));
    assert!(e.message.contains("\"auto\""), "{e}");
    let e = f.one_error(&GOOD.replace("  - name: candle\n", "  - name: candle\n    device: gpu\n"));
    assert!(e.fix.as_deref().unwrap().contains("'auto'"), "{e}");
}
