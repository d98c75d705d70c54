//! A backend's own settings: its block (`ort: {sessions: 2}`), read and checked by
//! its crate; the deprecated flat form; another backend's settings refused.

mod common;

use common::{assert_at, BackendsName, Fixture, GOOD};
use embench_core::config::LoadedConfig;

#[test]
fn mock_settings_on_a_real_backend_are_rejected() {
    let f = Fixture::new();
    let e = f.one_error(
        &GOOD.replace("  - name: candle\n", "  - name: candle\n    stall: {every_ms: 10, duration_ms: 1}\n"),
    );
    assert_eq!(e.field, "backends[0].stall", "{e}");
    assert_eq!(e.line, Some(4), "the key itself: {e}");
}

#[test]
fn impossible_mock_distribution_is_rejected() {
    let f = Fixture::new();
    let config = GOOD.replace(
        "  - name: candle\n",
        "  - name: mock\n    service_time: {distribution: uniform, min_ms: 5, max_ms: 1}\n",
    );
    let e = f.one_error(&config);
    assert_eq!(e.field, "backends[0].service_time", "{e}");
    assert_eq!(e.line, Some(4), "{e}");
    let nested = GOOD.replace(
        "  - name: candle\n",
        "  - name: mock\n    mock:\n      service_time: {distribution: uniform, min_ms: 5, max_ms: 1}\n",
    );
    let e = f.one_error(&nested);
    assert_at(&e, &f.path("bench.yaml"), 5, 21, "backends[0].mock.service_time");
}

#[test]
fn a_setting_of_another_backend_is_an_error_not_ignored() {
    let f = Fixture::new();
    let e = f.one_error(&GOOD.replace("  - name: candle\n", "  - name: candle\n    streams: 4\n"));
    assert_at(&e, &f.path("bench.yaml"), 4, 5, "backends[0].streams");
    assert!(e.message.contains("setting of the openvino backend"), "{e}");
    assert!(e.fix.as_deref().unwrap().contains("remove 'streams'"), "{e}");
    // The block form of another backend's settings is refused the same way.
    let e = f.one_error(&GOOD.replace("  - name: candle\n", "  - name: candle\n    ort: {sessions: 2}\n"));
    assert_at(&e, &f.path("bench.yaml"), 4, 5, "backends[0].ort");
    assert!(e.message.contains("'ort' is a setting of the ort and ort-native backends"), "{e}");
    // A key only one of a block's owners takes is named with that one.
    let e = f.one_error(&GOOD.replace("  - name: candle\n", "  - name: candle\n    mode: torchscript\n"));
    assert!(e.message.contains("'mode' is a setting of the python-torch backend"), "{e}");
}

/// A backend's own settings go in its block (`ort: {sessions: 2}`), which its crate
/// reads and checks; the flat form of earlier configs still reads, with a warning
/// naming the block form; both in one entry is refused.
#[test]
fn a_backends_settings_block_and_the_deprecated_flat_form() {
    let f = Fixture::new();
    let ort = |entry: &str| GOOD.replace("  - name: candle\n", entry);
    let sessions = |c: &LoadedConfig| c.backends[0].settings::<embench_ort::OrtOptions>().unwrap().sessions;
    let nested = f.load(&ort("  - name: ort\n    ort:\n      sessions: 3\n      graph_optimization: basic\n")).unwrap();
    assert_eq!(sessions(&nested), 3);
    assert!(nested.warnings.is_empty(), "{:?}", nested.warnings);
    let flat = f.load(&ort("  - name: ort\n    sessions: 3\n    graph_optimization: basic\n")).unwrap();
    assert_eq!(flat.backends[0].settings, nested.backends[0].settings, "the two forms mean the same");
    let warning = flat.warnings.join("\n");
    assert!(
        warning.contains(&format!(
            "{}:4:5: backends[0] (ort): 'sessions', 'graph_optimization' beside 'name' is the old flat form, deprecated",
            f.path("bench.yaml").display()
        ))
            && warning.contains("fix: write it as 'ort: {sessions: ..., graph_optimization: ...}'"),
        "{warning}"
    );

    // A bad value inside the block: its own line and column, the block's path.
    let e = f.one_error(&ort("  - name: ort\n    ort:\n      sessions: 0\n"));
    assert_at(&e, &f.path("bench.yaml"), 5, 17, "backends[0].ort.sessions");
    assert!(e.message.contains("sessions 0 is impossible"), "{e}");
    // The flat form keeps the flat path.
    let e = f.one_error(&ort("  - name: ort\n    sessions: 0\n"));
    assert_at(&e, &f.path("bench.yaml"), 4, 15, "backends[0].sessions");
    // A wrong type and an unknown key inside the block: the parser's words, at the value.
    let e = f.one_error(&ort("  - name: ort\n    ort: {sessions: two}\n"));
    assert_at(&e, &f.path("bench.yaml"), 4, 21, "backends[0].ort.sessions");
    assert!(e.message.contains("expected a whole number >= 1"), "{e}");
    let e = f.one_error(&ort("  - name: ort\n    sessions: two\n"));
    assert_at(&e, &f.path("bench.yaml"), 4, 15, "backends[0].sessions");
    let e = f.one_error(&ort("  - name: ort\n    ort:\n      sesions: 2\n"));
    assert_eq!((e.line, e.field.as_str()), (Some(5), "backends[0].ort.sesions"), "{e}");
    assert!(e.message.contains("unknown key 'sesions' (did you mean 'sessions'?)"), "{e}");
    // Every mistake inside one block at once (the parser stops at the first; the
    // schema finds the rest), and another backend's key inside the block named.
    let errors = f
        .load(&ort("  - name: ort\n    ort:\n      sesions: 2\n      graph_optimisation: all\n      performance_hint: throughput\n"))
        .unwrap_err();
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        ["backends[0].ort.sesions", "backends[0].ort.graph_optimisation", "backends[0].ort.performance_hint"],
        "{errors:#?}"
    );
    assert!(errors[1].message.contains("did you mean 'graph_optimization'"), "{:#?}", errors[1]);
    assert!(
        errors[2].message.contains("'performance_hint' is a setting of the openvino backend, not of the 'ort' block"),
        "{:#?}",
        errors[2]
    );
    assert!(errors[2].fix.as_deref().unwrap().contains("'openvino: {performance_hint: ...}'"), "{:#?}", errors[2]);
    // A block written as a list: write it as a mapping (not the sweep advice).
    let e = f.one_error(&ort("  - name: ort\n    ort:\n      - sessions: 2\n"));
    assert_eq!(e.field, "backends[0].ort", "{e}");
    assert!(e.fix.as_deref().unwrap().contains("write the block as a mapping, e.g. 'ort: {sessions: 2}'"), "{e}");
    // A block that is not a mapping says what goes there; an empty one is the defaults.
    for not_a_mapping in ["3", "[]", "fast"] {
        let e = f.one_error(&ort(&format!("  - name: ort\n    ort: {not_a_mapping}\n")));
        assert_eq!((e.line, e.field.as_str()), (Some(4), "backends[0].ort"), "{e}");
        assert!(e.message.contains("a mapping of the backend's settings, e.g. 'ort: {"), "{e}");
    }
    for empty in ["  - name: ort\n    ort:\n", "  - name: ort\n    ort: null\n", "  - name: ort\n    ort: {}\n"] {
        let c = f.load(&ort(empty)).unwrap_or_else(|e| panic!("{empty}: {e:#?}"));
        assert_eq!(sessions(&c), 1, "{empty}");
    }
    // A key of no block: the near miss among the entry's keys and its block's.
    let e = f.one_error(&ort("  - name: ort\n    sesions: 2\n"));
    assert_at(&e, &f.path("bench.yaml"), 4, 5, "backends[0].sesions");
    assert!(e.message.contains("unknown key 'sesions' (did you mean 'sessions'?)"), "{e}");
    assert!(e.fix.as_deref().unwrap().contains("ort's own under 'ort:': "), "{e}");
    // Both forms at once.
    let e = f.one_error(&ort("  - name: ort\n    sessions: 2\n    ort: {graph_optimization: basic}\n"));
    assert_at(&e, &f.path("bench.yaml"), 4, 5, "backends[0].ort");
    assert!(e.message.contains("'sessions' beside an 'ort:' block"), "{e}");
    assert!(e.fix.as_deref().unwrap().contains("move sessions into the 'ort:' block"), "{e}");
    // ort-native takes ort's block.
    let native = f.load(&ort("  - name: ort-native\n    ort: {sessions: 2}\n")).unwrap();
    assert_eq!(sessions(&native), 2);
}

#[test]
fn python_and_isolation_settings_are_checked() {
    let f = Fixture::new();
    let python = "  - name: python-torch\n    processes: 2\n";
    let c = f.load(&GOOD.replace("  - name: candle\n", python)).unwrap();
    let options = c.backends[0].settings::<embench_python::PythonOptions>().cloned().unwrap();
    assert_eq!((options.mode, options.processes), (embench_python::TorchMode::Eager, 2));
    // TorchScript reads another file, which this folder lacks.
    let torchscript = GOOD.replace("  - name: candle\n", "  - name: python-torch\n    mode: torchscript\n");
    let e = f.one_error_with(&format!("{torchscript}strict: true\n"), &BackendsName);
    assert!(e.message.contains("torchscript/model.pt"), "{e}");
    assert_eq!(c.cell_timeout_s, embench_core::config::DEFAULT_CELL_TIMEOUT_S);

    let e = f.one_error(&GOOD.replace("  - name: candle\n", "  - name: candle\n    processes: 2\n"));
    assert_eq!(e.field, "backends[0].processes", "{e}");
    assert!(e.fix.as_deref().unwrap().contains("remove 'processes'"), "{e}");
    let e = f.one_error(&GOOD.replace("  - name: candle\n", "  - name: python-echo\n    mode: eager\n"));
    assert_eq!(e.field, "backends[0].mode", "{e}");
    let e = f.one_error(&GOOD.replace("  - name: candle\n", "  - name: python-torch\n    mode: jit\n"));
    assert_at(&e, &f.path("bench.yaml"), 4, 11, "backends[0].mode");
    assert!(e.fix.as_deref().unwrap().contains("eager, torchscript"), "{e}");
    let e =
        f.one_error(&GOOD.replace("  - name: candle\n", "  - name: candle\n    crash: {at_batch: 1, how: abort}\n"));
    assert_eq!(e.field, "backends[0].crash", "{e}");
    let e = f.one_error(&GOOD.replace("  warmup_requests:", "  cell_timeout_s: 0\n  warmup_requests:"));
    assert_eq!(e.field, "input_config.cell_timeout_s", "{e}");
    assert!(e.fix.as_deref().unwrap().contains("positive number of seconds"), "{e}");
    let e = f.one_error(&GOOD.replace("  warmup_requests:", "  max_concurrent_loads: 0\n  warmup_requests:"));
    assert_eq!(e.field, "input_config.max_concurrent_loads", "{e}");
    let c = f.load(&GOOD.replace("  warmup_requests:", "  max_concurrent_loads: 2\n  warmup_requests:")).unwrap();
    assert_eq!((c.max_concurrent_loads, f.load(GOOD).unwrap().max_concurrent_loads), (2, 1));
}
