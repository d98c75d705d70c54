//! Validation of what a scenario embeds (`modality: text | image`) against the
//! models that run it: an image scenario needs a model with an image tower (CLIP,
//! SigLIP), and takes no prompt and no embedding cache.

use super::{ResolvedModel, Skip, Validator};
use crate::config::benchmark::Scenario;
use crate::config::models::ModelType;
use crate::Modality;

impl ResolvedModel {
    /// What the model embeds: its architecture's modalities, else (an architecture
    /// embench does not know) text, or text and images for `type: multimodal`.
    pub fn modalities(&self) -> &'static [Modality] {
        match (self.architecture, self.config.model_type) {
            (Some(a), _) => a.modalities(),
            (None, ModelType::Multimodal) => &[Modality::Text, Modality::Image],
            (None, _) => &[Modality::Text],
        }
    }
}

impl Validator<'_> {
    /// Each image scenario against each active model: a model without an image tower
    /// has its cells of the scenario skipped (an error under `strict`, and an error
    /// when no active model has one: then the config asks for something impossible).
    pub(super) fn check_modalities(&mut self, specs: &[Scenario], models: &[ResolvedModel]) {
        for (i, s) in specs.iter().enumerate() {
            let image = s.modality.as_ref().is_some_and(|m| m.value == Modality::Image);
            if let Some(p) = s.include_preprocessing.as_ref().filter(|p| p.value) {
                let field = format!("test_scenarios[{i}].include_preprocessing");
                if !image {
                    let e = self.at(p, field, "only an image scenario has preprocessing to include");
                    self.err(e.fix("set 'modality: image', or remove include_preprocessing"));
                } else if s.replicas.is_some() || s.workers_per_model.is_some() || s.dynamic_batching.is_some() {
                    let e = self.at(
                        p,
                        field,
                        "include_preprocessing runs with clients calling the model directly, not yet through replicas, workers or dynamic batching",
                    );
                    self.err(
                        e.fix("remove replicas, workers_per_model and dynamic_batching, or include_preprocessing"),
                    );
                }
            }
            let Some(m) = s.modality.as_ref().filter(|m| m.value == Modality::Image) else { continue };
            let field = format!("test_scenarios[{i}].modality");
            if let Some(c) = &s.cache {
                let e =
                    self.at(c, format!("test_scenarios[{i}].cache"), "the embedding cache is for texts, not images");
                self.err(e.fix("remove 'cache', or make it a text scenario"));
            }
            if let Some(p) = s.prompt.as_ref().filter(|p| p.value != "none") {
                let e = self.at(p, format!("test_scenarios[{i}].prompt"), "an image scenario has no text prompt");
                self.err(e.fix("remove 'prompt'"));
            }
            let any = models.iter().any(|model| model.modalities().contains(&Modality::Image));
            // A multimodal folder without its image processor's settings cannot make pixels.
            for model in models.iter().filter(|model| model.modalities().contains(&Modality::Image)) {
                let Some(file) = model.folder.as_ref().map(|f| f.preprocessor_config()) else { continue };
                if !file.is_file() {
                    let e = self.at(
                        m,
                        field.clone(),
                        format!(
                            "model '{}' has no {}: its image preprocessing is not known",
                            model.key,
                            file.display()
                        ),
                    );
                    let e = e.fix(format!(
                        "put the model's Hugging Face preprocessor_config.json there (scripts/convert_models.sh --force {} fetches the folder again)",
                        model.key
                    ));
                    let skip = Skip {
                        model: Some(model.key.clone()),
                        scenario: Some(s.name.value.clone()),
                        ..Skip::everywhere()
                    };
                    self.skip_or_err(e, skip);
                }
            }
            for model in models.iter().filter(|model| !model.modalities().contains(&Modality::Image)) {
                let arch = model.architecture.map_or_else(|| "its architecture".to_string(), |a| a.to_string());
                let e = self.at(
                    m,
                    field.clone(),
                    format!(
                        "model '{}' embeds text only ({arch} has no image tower), so it cannot run an image scenario",
                        model.key
                    ),
                );
                let e = e.fix("run image scenarios with a multimodal model (CLIP, SigLIP), or set 'modality: text'");
                if any {
                    let skip = Skip {
                        model: Some(model.key.clone()),
                        scenario: Some(s.name.value.clone()),
                        ..Skip::everywhere()
                    };
                    self.skip_or_err(e, skip);
                } else {
                    self.err(e);
                }
            }
        }
    }
}
