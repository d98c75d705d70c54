//! Validation of the `backends` list: names, labels, precision, and each
//! framework's own settings (a setting of another backend is an error).

use std::collections::BTreeSet;

use serde_saphyr::Spanned;

use super::{DeviceKind, MockSettings, PythonOptions, ResolvedBackend, Skip, Validator, MAX_CONCURRENCY, MAX_THREADS};
use crate::backend::BackendKind;
use crate::config::backend_options::{ExecutionProvider, OpenvinoOptions, OrtOptions};
use crate::config::benchmark::{BackendSpec, BatchCost, ServiceTime, Stall};
use crate::config::error::ConfigError;
use crate::config::execution::Count;
use crate::config::parse::closest;
use crate::embedder::Precision;

impl Validator<'_> {
    pub(super) fn backends(&mut self, specs: &[BackendSpec]) -> Vec<ResolvedBackend> {
        if specs.is_empty() {
            self.err(
                ConfigError::file(self.config_path, "backends", "no backends listed")
                    .fix("add e.g. '- name: candle' (or [candle, ort]), or remove 'backends' to run every framework"),
            );
        }
        let names: Vec<String> = BackendKind::ALL.iter().map(|k| k.name().to_string()).collect();
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for (i, spec) in specs.iter().enumerate() {
            let field = |f: &str| format!("backends[{i}].{f}");
            let Some(kind) = BackendKind::from_name(&spec.name.value) else {
                let hint =
                    closest(&spec.name.value, &names).map(|s| format!(" (did you mean '{s}'?)")).unwrap_or_default();
                let e = self.at(&spec.name, field("name"), format!("unknown backend '{}'{hint}", spec.name.value));
                self.err(e.fix(format!("use one of: {}", names.join(", "))));
                continue;
            };
            let label = spec.label.as_ref().map_or_else(|| kind.name().to_string(), |l| l.value.clone());
            if let Some(why) = self.catalog.unusable(kind) {
                // The backend's own message names its fix; one without gets the generic one.
                let fix = (!why.contains("(fix:")).then(|| {
                    format!(
                        "do what the message says (a backend left out of the build needs its '{kind}' feature), or remove this backend"
                    )
                });
                // Asked for by name, it must run; as one of every framework, it is skipped.
                if self.every_framework {
                    let message = format!("backend '{kind}' cannot run here: {why}");
                    let e = ConfigError::file(
                        self.config_path,
                        "backends",
                        format!("{message} ('backends' is omitted, so every framework runs)"),
                    );
                    let e = e.fix("do what the message says, or list the backends to run under 'backends'");
                    if self.strict {
                        self.err(e);
                    } else {
                        let skip = Skip { backends: Some(vec![label.clone()]), reason: message, ..Skip::everywhere() };
                        self.skips.push(skip);
                    }
                } else {
                    let e = self.at(&spec.name, field("name"), format!("backend '{kind}' cannot run here: {why}"));
                    self.err(match fix {
                        Some(fix) => e.fix(fix),
                        None => e,
                    });
                }
            }
            if !seen.insert(label.clone()) {
                let e = match &spec.label {
                    Some(l) => self.at(l, field("label"), format!("label '{label}' is used twice")),
                    None => self.at(&spec.name, field("name"), format!("backend '{kind}' is listed twice")),
                };
                self.err(e.fix("give each entry of the same backend its own 'label', e.g. 'label: openvino-bf16'"));
            }
            self.foreign_settings(i, kind, spec);
            let precision = self.precision(i, kind, spec);
            if let Some(t) = &spec.threads {
                if let Count::N(n) = t.value {
                    if n == 0 || n > MAX_THREADS {
                        let e = self.at(t, field("threads"), format!("{n} threads is impossible"));
                        self.err(e.fix(format!("use 1..={MAX_THREADS}, or auto for the usable physical cores")));
                    }
                }
            }
            let device_auto = spec.device.as_ref().is_some_and(|d| d.value == "auto");
            let device = match spec.device.as_ref().map(|d| (d, d.value.as_str())) {
                None | Some((_, "cpu")) => DeviceKind::Cpu,
                Some((_, "cuda")) => DeviceKind::Cuda,
                // The GPU where the tier recommends it and the backend runs there itself.
                Some((_, "auto")) if self.auto.use_gpu && kind.runs_on_cuda() => DeviceKind::Cuda,
                Some((_, "auto")) => DeviceKind::Cpu,
                Some((d, other)) => {
                    let e = self.at(d, field("device"), format!("unknown device '{other}'"));
                    self.err(e.fix("use 'cpu', 'cuda' or 'auto'"));
                    DeviceKind::Cpu
                }
            };
            let mock = self.mock_settings(i, kind, spec);
            let ort = (kind.settings_owner() == BackendKind::Ort).then(|| self.ort_options(i, spec));
            if let Some(list) = spec.execution_providers.as_ref().filter(|_| kind == BackendKind::OrtNative) {
                if list.value.iter().any(|p| *p != ExecutionProvider::Cpu) {
                    let e =
                        self.at(list, field("execution_providers"), "ort-native's worker runs the CPU provider only");
                    self.err(e.fix("use execution_providers: [cpu], or the ort backend for another provider"));
                }
            }
            let openvino = (kind == BackendKind::Openvino).then(|| self.openvino_options(i, spec));
            let processes = self.positive(i, "processes", spec.processes.as_ref(), MAX_CONCURRENCY);
            if let (Some(p), false) = (&spec.processes, kind.is_python()) {
                let e = self.at(p, field("processes"), "'processes' is a setting of the python-* backends");
                self.err(e.fix(match kind {
                    BackendKind::OrtNative => {
                        "use 'sessions' (each of ort-native's sessions is one worker process)".to_string()
                    }
                    _ => format!("remove 'processes' from the '{kind}' backend"),
                }));
            }
            let http = (kind == BackendKind::Http).then(|| self.http_options(i, spec));
            let python = kind.is_python().then(|| PythonOptions {
                mode: spec.mode.as_ref().map_or_else(Default::default, |m| m.value),
                processes: processes.unwrap_or(1),
            });
            if (kind.is_python() || kind == BackendKind::OrtNative) && device == DeviceKind::Cuda {
                let e = self.at(&spec.name, field("device"), format!("{kind} runs on the CPU in embench"));
                self.err(e.fix(match kind {
                    BackendKind::OrtNative => "remove 'device' (ort-native is CPU only), or use the ort backend with execution_providers: [cuda]",
                    _ => "use device: cpu for the Python baselines",
                }));
            }
            out.push(ResolvedBackend {
                kind,
                label,
                precision,
                ort,
                openvino,
                threads: spec.threads.as_ref().and_then(|t| match t.value {
                    Count::N(n) => Some(n),
                    Count::Auto => None,
                }),
                device,
                mock,
                python,
                http,
                device_auto,
            });
        }
        out
    }

    /// Settings that belong to another backend are errors, not silently ignored.
    fn foreign_settings(&mut self, i: usize, kind: BackendKind, spec: &BackendSpec) {
        use BackendKind::{Mock, Openvino, Ort};
        let owned: [(bool, &str, BackendKind); 22] = [
            (spec.inter_op_threads.is_some(), "inter_op_threads", Ort),
            (spec.graph_optimization.is_some(), "graph_optimization", Ort),
            (spec.execution_mode.is_some(), "execution_mode", Ort),
            (spec.execution_providers.is_some(), "execution_providers", Ort),
            (spec.sessions.is_some(), "sessions", Ort),
            (spec.model_format.is_some(), "model_format", Openvino),
            (spec.performance_hint.is_some(), "performance_hint", Openvino),
            (spec.streams.is_some(), "streams", Openvino),
            (spec.infer_requests.is_some(), "infer_requests", Openvino),
            (spec.service_time.is_some(), "service_time", Mock),
            (spec.stall.is_some(), "stall", Mock),
            (spec.batch_cost.is_some(), "batch_cost", Mock),
            (spec.oom_above_batch.is_some(), "oom_above_batch", Mock),
            (spec.crash.is_some(), "crash", Mock),
            (spec.wrong_output.is_some(), "wrong_output", Mock),
            (spec.mode.is_some(), "mode", BackendKind::PythonTorch),
            (spec.url.is_some(), "url", BackendKind::Http),
            (spec.api.is_some(), "api", BackendKind::Http),
            (spec.model.is_some(), "model", BackendKind::Http),
            (spec.timeout_ms.is_some(), "timeout_ms", BackendKind::Http),
            (spec.connections.is_some(), "connections", BackendKind::Http),
            (spec.headers_from_env.is_some(), "headers_from_env", BackendKind::Http),
        ];
        for (present, name, owner) in owned {
            if present && owner != kind.settings_owner() {
                let e = self.at(
                    &spec.name,
                    format!("backends[{i}].{name}"),
                    format!("'{name}' is a setting of the {owner} backend"),
                );
                self.err(e.fix(format!("remove '{name}' from the '{kind}' backend")));
            }
        }
    }

    fn precision(&mut self, i: usize, kind: BackendKind, spec: &BackendSpec) -> Precision {
        let Some(p) = &spec.precision else {
            return Precision::Fp32;
        };
        let offered: &[Precision] = match kind {
            BackendKind::Openvino => &[Precision::Fp32, Precision::Bf16, Precision::Fp16],
            BackendKind::Tch | BackendKind::PythonOpenvino => &[Precision::Fp32, Precision::Bf16],
            // http: what the server runs, declared (the gate's threshold follows it).
            BackendKind::Mock | BackendKind::Http => {
                &[Precision::Fp32, Precision::Fp16, Precision::Bf16, Precision::Int8]
            }
            _ => &[Precision::Fp32],
        };
        if !offered.contains(&p.value) {
            let list: Vec<String> = offered.iter().map(|p| p.to_string()).collect();
            let e = self.at(p, format!("backends[{i}].precision"), format!("{kind} does not run in {}", p.value));
            self.err(e.fix(format!("use one of: {}", list.join(", "))));
        }
        p.value
    }

    fn positive(&mut self, i: usize, name: &str, v: Option<&Spanned<usize>>, max: usize) -> Option<usize> {
        let v = v?;
        if v.value == 0 || v.value > max {
            let e = self.at(v, format!("backends[{i}].{name}"), format!("{name} {} is impossible", v.value));
            self.err(e.fix(format!("use 1..={max}, or leave it out for the default")));
        }
        Some(v.value)
    }

    fn ort_options(&mut self, i: usize, spec: &BackendSpec) -> OrtOptions {
        let d = OrtOptions::default();
        let execution_providers = match &spec.execution_providers {
            Some(list) if list.value.is_empty() => {
                let e = self.at(list, format!("backends[{i}].execution_providers"), "no execution providers listed");
                self.err(e.fix("leave it out for [cpu], or list e.g. [cuda, cpu]"));
                d.execution_providers
            }
            Some(list) => list.value.clone(),
            None => d.execution_providers,
        };
        OrtOptions {
            inter_op_threads: self.positive(i, "inter_op_threads", spec.inter_op_threads.as_ref(), MAX_THREADS),
            graph_optimization: spec.graph_optimization.as_ref().map_or(d.graph_optimization, |g| g.value),
            execution_mode: spec.execution_mode.as_ref().map_or(d.execution_mode, |m| m.value),
            execution_providers,
            sessions: self.positive(i, "sessions", spec.sessions.as_ref(), MAX_CONCURRENCY).unwrap_or(d.sessions),
        }
    }

    fn openvino_options(&mut self, i: usize, spec: &BackendSpec) -> OpenvinoOptions {
        OpenvinoOptions {
            model_format: spec.model_format.as_ref().map_or_else(Default::default, |m| m.value),
            performance_hint: spec.performance_hint.as_ref().map_or_else(Default::default, |h| h.value),
            streams: self.positive(i, "streams", spec.streams.as_ref(), MAX_THREADS),
            infer_requests: self.positive(i, "infer_requests", spec.infer_requests.as_ref(), MAX_CONCURRENCY),
        }
    }

    fn mock_settings(&mut self, i: usize, kind: BackendKind, spec: &BackendSpec) -> Option<MockSettings> {
        if kind != BackendKind::Mock {
            return None;
        }
        let service_time =
            spec.service_time.as_ref().map(|s| s.value.clone()).unwrap_or(ServiceTime::Constant { ms: 0.0 });
        if let Some(st) = &spec.service_time {
            let bad = match &st.value {
                ServiceTime::Constant { ms } => !(ms.is_finite() && *ms >= 0.0),
                ServiceTime::Uniform { min_ms, max_ms } => {
                    !(min_ms.is_finite() && max_ms.is_finite() && 0.0 <= *min_ms && min_ms <= max_ms)
                }
                ServiceTime::Exponential { mean_ms } => !(mean_ms.is_finite() && *mean_ms > 0.0),
            };
            if bad {
                let e = self.at(
                    st,
                    format!("backends[{i}].service_time"),
                    "service times must be finite, non-negative, min <= max, mean > 0",
                );
                self.err(e.fix("e.g. '{distribution: uniform, min_ms: 1, max_ms: 3}'"));
            }
        }
        if let Some(stall) = &spec.stall {
            let Stall { every_ms, duration_ms } = stall.value;
            if !(every_ms > 0.0 && duration_ms >= 0.0 && duration_ms < every_ms) {
                let e = self.at(
                    stall,
                    format!("backends[{i}].stall"),
                    "a stall needs every_ms > 0 and 0 <= duration_ms < every_ms",
                );
                self.err(e.fix("e.g. '{every_ms: 1000, duration_ms: 100}'"));
            }
        }
        if let Some(c) = &spec.batch_cost {
            let BatchCost { per_text_ms, per_text_squared_ms } = c.value;
            if !(per_text_ms.is_finite()
                && per_text_squared_ms.is_finite()
                && per_text_ms >= 0.0
                && per_text_squared_ms >= 0.0)
            {
                let e = self.at(c, format!("backends[{i}].batch_cost"), "batch costs must be finite and non-negative");
                self.err(e.fix("e.g. '{per_text_ms: 0.5, per_text_squared_ms: 0.02}'"));
            }
        }
        Some(MockSettings {
            service_time,
            batch_cost: spec.batch_cost.as_ref().map(|c| c.value.clone()),
            stall: spec.stall.as_ref().map(|s| s.value.clone()),
            embedding_dim: spec.embedding_dim.unwrap_or(384),
            seed: spec.seed.unwrap_or(42),
            oom_above_batch: spec.oom_above_batch.as_ref().map(|n| n.value),
            crash: spec.crash.as_ref().map(|c| c.value),
            wrong_output: spec.wrong_output.as_ref().map(|w| w.value),
        })
    }
}
