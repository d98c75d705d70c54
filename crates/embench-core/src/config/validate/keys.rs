//! A backend entry's keys beyond the shared ones: each goes to the crate whose
//! settings block it is (or, in the deprecated flat form, one of whose keys it is);
//! a key of another backend's block, or of none, is an error naming the owner or the
//! near miss.

use super::Validator;
use crate::backend::BackendKind;
use crate::config::all_errors;
use crate::config::backend_entry::{BackendSpec, SHARED_KEYS};
use crate::config::error::ConfigError;
use crate::config::parse::closest;
use crate::config::{BlockSchema, Settings, SettingsSource};

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
                let block = own_block
                    .as_ref()
                    .map(|b| format!("; {kind}'s own under '{}:': {}", b.key, b.keys_of(kind).join(", ")));
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
                self.block_errors(i, &blocks, errors);
                None
            }
        }
    }

    /// The crate's errors for entry `i`, with the others the JSON Schema finds in the
    /// entry (the parser stops at a block's first), and a key of another backend's
    /// block inside this one named with its owner.
    fn block_errors(&mut self, i: usize, blocks: &[BlockSchema], mut errors: Vec<ConfigError>) {
        let prefix = format!("backends[{i}].");
        let schema = crate::config::benchmark_schema(blocks);
        let more: Vec<ConfigError> = all_errors::schema_errors(&self.text, self.config_path, &schema)
            .into_iter()
            .filter(|e| e.field.starts_with(&prefix))
            .filter(|e| {
                !errors
                    .iter()
                    .chain(&self.errors)
                    .any(|c| (c.line, c.column) == (e.line, e.column) || c.field == e.field)
            })
            .collect();
        errors.extend(more);
        errors.sort_by_key(|e| (e.line.unwrap_or(0), e.column.unwrap_or(0)));
        for e in &mut errors {
            let Some((block, key)) = e.field.strip_prefix(&prefix).and_then(|f| f.split_once('.')) else { continue };
            let owner = blocks.iter().find(|b| b.key != block && b.keys.iter().any(|k| k == key));
            if let (Some(owner), true) = (owner, e.message.starts_with("unknown key")) {
                e.message = format!("'{key}' is a setting of {}, not of the '{block}' block", owner.owner_of(key));
                e.fix =
                    Some(format!("move it to that backend's entry ('{}: {{{key}: ...}}'), or remove it", owner.key));
            }
        }
        self.errors.extend(errors);
    }
}
