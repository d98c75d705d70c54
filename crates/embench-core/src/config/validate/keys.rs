//! A backend entry's keys beyond the shared ones: each goes to the crate whose
//! settings block it is (or, in the deprecated flat form, one of whose keys it is);
//! a key of another backend's block, or of none, is an error naming the owner or the
//! near miss.

use super::Validator;
use crate::backend::BackendKind;
use crate::config::backend_entry::{BackendSpec, SHARED_KEYS};
use crate::config::parse::closest;
use crate::config::{Settings, SettingsSource};

impl Validator<'_> {
    /// The entry's own settings as its crate reads and checks them; its other keys
    /// checked here. `unusable`: why the backend cannot run here (already reported).
    pub(super) fn backend_settings(
        &mut self,
        i: usize,
        kind: BackendKind,
        spec: &BackendSpec,
        unusable: Option<String>,
    ) -> Option<Settings> {
        let blocks = self.catalog.blocks();
        let own = self.catalog.backend(kind);
        let own_block = own.and_then(|b| b.settings_block());
        for (key, _) in &spec.extra {
            let k = key.value.as_str();
            let field = format!("backends[{i}].{k}");
            if own_block.as_ref().is_some_and(|b| b.key == k || b.keys.iter().any(|x| x == k)) {
                continue;
            }
            let Some(own) = own else {
                // Its crate is not in this binary: the entry is refused or skipped for
                // that already (and which keys are its own is not known); say that its
                // settings are not checked.
                if unusable.is_none() {
                    let e = self.at(key, field, format!("'{k}' cannot be checked: this binary has no '{kind}' crate"));
                    self.err(e.fix(format!("build embench with the '{kind}' backend, or remove '{k}'")));
                }
                continue;
            };
            if let Some(other) = blocks.iter().find(|b| b.key == k || b.keys.iter().any(|x| x == k)) {
                let e = self.at(key, field, format!("'{k}' is a setting of {}", other.owner_of(k)));
                let fix = own.instead_of(k).unwrap_or_else(|| format!("remove '{k}' from the '{kind}' backend"));
                self.err(e.fix(fix));
            } else {
                let mut valid: Vec<String> = SHARED_KEYS.iter().map(|s| s.to_string()).collect();
                if let Some(b) = &own_block {
                    valid.push(b.key.to_string());
                }
                let hint = own_block
                    .as_ref()
                    .and_then(|b| closest(k, &b.keys))
                    .or_else(|| closest(k, &valid))
                    .map(|s| format!(" (did you mean '{s}'?)"))
                    .unwrap_or_default();
                let e = self.at(key, field, format!("unknown key '{k}'{hint}"));
                let block =
                    own_block.as_ref().map(|b| format!("; {kind}'s own under '{}:': {}", b.key, b.keys.join(", ")));
                self.err(e.fix(format!("valid keys here: {}{}", valid.join(", "), block.unwrap_or_default())));
            }
        }
        let backend = own?;
        let source = SettingsSource::new(&self.text, self.config_path, i, kind, spec);
        let read = backend.settings(&source);
        self.warnings.extend(source.take_warnings());
        match read {
            Ok(settings) => settings,
            Err(errors) => {
                self.errors.extend(errors);
                None
            }
        }
    }
}
