//! Validation of the `backends` list: names, labels, precision, and each
//! framework's own settings (a setting of another backend is an error).

use std::collections::BTreeSet;

use super::{DeviceKind, ResolvedBackend, Skip, Validator, MAX_THREADS};
use crate::backend::BackendKind;
use crate::config::backend_entry::BackendSpec;
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
            let unusable = self.catalog.unusable(kind);
            if let Some(why) = unusable.clone() {
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
                self.err(e.fix(format!("give each entry of the same backend its own 'label', e.g. 'label: {kind}-2'")));
            }
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
            let settings = self.backend_settings(i, kind, spec, unusable);
            out.push(ResolvedBackend {
                kind,
                label,
                precision,
                threads: spec.threads.as_ref().and_then(|t| match t.value {
                    Count::N(n) => Some(n),
                    Count::Auto => None,
                }),
                device,
                settings,
                device_auto,
            });
        }
        out
    }

    fn precision(&mut self, i: usize, kind: BackendKind, spec: &BackendSpec) -> Precision {
        let Some(p) = &spec.precision else {
            return Precision::Fp32;
        };
        // What its crate runs; a crate this binary lacks is refused or skipped already.
        let Some(offered) = self.catalog.backend(kind).map(|b| b.precisions()) else {
            return p.value;
        };
        if !offered.contains(&p.value) {
            let list: Vec<String> = offered.iter().map(|p| p.to_string()).collect();
            let e = self.at(p, format!("backends[{i}].precision"), format!("{kind} does not run in {}", p.value));
            self.err(e.fix(format!("use one of: {}", list.join(", "))));
        }
        p.value
    }
}
