//! CLIP's and SigLIP's towers in candle, from `candle-transformers`' `clip` and
//! `siglip` modules: one tower per instance (the text tower for text cells, the
//! vision tower for image cells), its output L2-normalised as the models' usage does.
//!
//! What transformers returns is the reference (`get_text_features` /
//! `get_image_features`, `.pooler_output`): CLIP pools the text at the first
//! `eos_token_id` (transformers' rule; the argmax of the ids when `eos_token_id` is
//! 2, as older CLIP configs have it) and projects; SigLIP's text tower takes the last
//! position of its fixed-length (64) input through its head, and its vision tower
//! pools with its attention-pooling head.

use candle_core::{DType, Device, IndexOp, Module, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::{clip, siglip};
use embench_core::model_files::ModelFolder;
use embench_core::tower_config::tower_config;
use embench_core::{
    Architecture, BackendInfo, EmbedError, EmbedInput, Embedder, Embeddings, Modality, Phase, PhaseContext, PixelBatch,
    Precision, TokenizedBatch,
};
use serde_json::Value;

use crate::FRAMEWORK;

/// One tower, loaded.
enum Tower {
    ClipText { transformer: clip::text_model::ClipTextTransformer, projection: candle_nn::Linear, eos: i64 },
    ClipVision { transformer: clip::vision_model::ClipVisionTransformer, projection: candle_nn::Linear },
    SiglipText(siglip::TextModel),
    SiglipVision(siglip::VisionModel),
}

/// A CLIP or SigLIP tower in candle.
pub struct CandleTower {
    tower: Tower,
    device: Device,
    info: BackendInfo,
}

fn field(tower: &Value, key: &str) -> candle_core::Result<usize> {
    tower[key].as_u64().map(|n| n as usize).ok_or_else(|| candle_core::Error::Msg(format!("'{key}' is not a number")))
}

/// candle's CLIP runs quick_gelu and layer-norm eps 1e-5 only; any other is an error, not a silent difference.
fn check_clip(tower: &Value, part: &str) -> candle_core::Result<()> {
    let act = tower["hidden_act"].as_str().unwrap_or_default();
    let eps = tower["layer_norm_eps"].as_f64().unwrap_or_default();
    if act != "quick_gelu" || (eps - 1e-5).abs() > 1e-12 {
        return Err(candle_core::Error::Msg(format!(
            "{part}: hidden_act '{act}', layer_norm_eps {eps}: candle-transformers' CLIP runs quick_gelu with eps 1e-5 only"
        )));
    }
    Ok(())
}

/// The tower of `modality`, its omitted fields transformers' defaults ([`tower_config`]).
fn tower(json: &Value, arch: Architecture, modality: Modality) -> candle_core::Result<Value> {
    tower_config(json, arch, modality).ok_or_else(|| candle_core::Error::Msg(format!("{arch} has no {modality} tower")))
}

fn clip_tower(json: &Value, modality: Modality, vb: VarBuilder) -> candle_core::Result<Tower> {
    let t = tower(json, Architecture::Clip, modality)?;
    let projection_dim = field(&t, "projection_dim")?;
    match modality {
        Modality::Text => {
            check_clip(&t, "text_config")?;
            let c = clip::text_model::ClipTextConfig {
                vocab_size: field(&t, "vocab_size")?,
                embed_dim: field(&t, "hidden_size")?,
                activation: clip::text_model::Activation::QuickGelu,
                intermediate_size: field(&t, "intermediate_size")?,
                max_position_embeddings: field(&t, "max_position_embeddings")?,
                pad_with: None,
                num_hidden_layers: field(&t, "num_hidden_layers")?,
                num_attention_heads: field(&t, "num_attention_heads")?,
                projection_dim,
            };
            let transformer = clip::text_model::ClipTextTransformer::new(vb.pp("text_model"), &c)?;
            let projection = candle_nn::linear_no_bias(c.embed_dim, projection_dim, vb.pp("text_projection"))?;
            let eos = field(&t, "eos_token_id")? as i64;
            Ok(Tower::ClipText { transformer, projection, eos })
        }
        Modality::Image => {
            check_clip(&t, "vision_config")?;
            let c = clip::vision_model::ClipVisionConfig {
                embed_dim: field(&t, "hidden_size")?,
                activation: clip::text_model::Activation::QuickGelu,
                intermediate_size: field(&t, "intermediate_size")?,
                num_hidden_layers: field(&t, "num_hidden_layers")?,
                num_attention_heads: field(&t, "num_attention_heads")?,
                projection_dim,
                num_channels: field(&t, "num_channels")?,
                image_size: field(&t, "image_size")?,
                patch_size: field(&t, "patch_size")?,
            };
            let transformer = clip::vision_model::ClipVisionTransformer::new(vb.pp("vision_model"), &c)?;
            let projection = candle_nn::linear_no_bias(c.embed_dim, projection_dim, vb.pp("visual_projection"))?;
            Ok(Tower::ClipVision { transformer, projection })
        }
    }
}

fn siglip_tower(json: &Value, modality: Modality, vb: VarBuilder) -> candle_core::Result<Tower> {
    // candle's config has no optional fields: both towers with transformers' defaults filled in.
    let both = serde_json::json!({
        "text_config": tower(json, Architecture::Siglip, Modality::Text)?,
        "vision_config": tower(json, Architecture::Siglip, Modality::Image)?,
    });
    let c: siglip::Config = serde_json::from_value(both).map_err(|e| candle_core::Error::Msg(e.to_string()))?;
    match modality {
        Modality::Text => Ok(Tower::SiglipText(siglip::TextModel::new(&c.text_config, vb.pp("text_model"))?)),
        Modality::Image => {
            Ok(Tower::SiglipVision(siglip::VisionModel::new(&c.vision_config, true, vb.pp("vision_model"))?))
        }
    }
}

impl CandleTower {
    /// Loads the tower of `modality` of the CLIP or SigLIP model in `folder`.
    ///
    /// Errors: an unreadable `config.json` or weights, a field missing, or settings
    /// candle's CLIP does not run (an activation other than quick_gelu).
    pub fn load(
        folder: &ModelFolder,
        architecture: Architecture,
        modality: Modality,
        device: Device,
        threads: usize,
    ) -> Result<Self, EmbedError> {
        let path = folder.config_json();
        let config_text = std::fs::read_to_string(&path)
            .map_err(|e| EmbedError::new(FRAMEWORK, Phase::Load, format!("{}: {e}", path.display())))?;
        let json: Value = serde_json::from_str(&config_text)
            .map_err(|e| EmbedError::new(FRAMEWORK, Phase::Load, format!("{}: {e}", path.display())))?;
        // SAFETY: the weights file is memory-mapped read-only; embench never writes to it while loaded.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[folder.safetensors()], DType::F32, &device) }
            .in_phase(FRAMEWORK, Phase::Load)?;
        let tower = match architecture {
            Architecture::Clip => clip_tower(&json, modality, vb),
            _ => siglip_tower(&json, modality, vb),
        }
        .map_err(|e| EmbedError::new(FRAMEWORK, Phase::Load, format!("{}: {e}", path.display())))?;
        let device_name = match &device {
            Device::Cpu => "cpu".to_string(),
            other => format!("{other:?}"),
        };
        Ok(Self {
            tower,
            device,
            info: BackendInfo {
                framework: FRAMEWORK.into(),
                framework_version: crate::CANDLE_VERSION.into(),
                device: device_name,
                precision: Precision::Fp32,
                intra_op_threads: threads,
                settings: [("tower".to_string(), format!("{architecture} {modality}"))].into(),
                notes: Vec::new(),
            },
        })
    }

    fn text(&self, batch: &TokenizedBatch) -> candle_core::Result<Tensor> {
        let ids = Tensor::from_slice(&batch.input_ids, (batch.batch_size, batch.seq_len), &self.device)?;
        match &self.tower {
            Tower::ClipText { transformer, projection, eos } => {
                let hidden = transformer.forward_with_mask(&ids, usize::MAX)?;
                // transformers' CLIPTextTransformer: the first eos_token_id of each row
                // (the argmax of the ids when eos_token_id is 2, the legacy configs).
                let rows = (0..batch.batch_size)
                    .map(|r| {
                        let row = &batch.input_ids[r * batch.seq_len..(r + 1) * batch.seq_len];
                        let at = if *eos == 2 {
                            row.iter()
                                .enumerate()
                                .max_by_key(|&(i, v)| (*v, std::cmp::Reverse(i)))
                                .map_or(0, |(i, _)| i)
                        } else {
                            row.iter().position(|&t| t == *eos).unwrap_or(0)
                        };
                        hidden.i((r, at))?.unsqueeze(0)
                    })
                    .collect::<candle_core::Result<Vec<_>>>()?;
                Tensor::cat(&rows, 0)?.apply(projection)
            }
            Tower::SiglipText(model) => model.forward(&ids),
            _ => Err(candle_core::Error::Msg("this is an image tower: it takes images, not text".into())),
        }
    }

    fn image(&self, images: &PixelBatch) -> candle_core::Result<Tensor> {
        let shape = (images.batch_size, 3, images.height, images.width);
        let pixels = Tensor::from_slice(&images.pixels, shape, &self.device)?;
        match &self.tower {
            Tower::ClipVision { transformer, projection } => transformer.forward(&pixels)?.apply(projection),
            Tower::SiglipVision(model) => model.forward(&pixels),
            _ => Err(candle_core::Error::Msg("this network takes text, not images".into())),
        }
    }
}

fn finish(features: Tensor, rows: usize) -> Result<Embeddings, EmbedError> {
    let normalised = clip::div_l2_norm(&features).in_phase(FRAMEWORK, Phase::Inference)?;
    let dim = normalised.dim(1).in_phase(FRAMEWORK, Phase::Inference)?;
    let data = normalised.flatten_all().and_then(|e| e.to_vec1::<f32>()).in_phase(FRAMEWORK, Phase::Inference)?;
    Ok(Embeddings { rows, dim, data })
}

impl Embedder for CandleTower {
    fn info(&self) -> &BackendInfo {
        &self.info
    }

    fn embed(&self, batch: &TokenizedBatch) -> Result<Embeddings, EmbedError> {
        let features = {
            let _span = tracing::trace_span!("forward").entered();
            self.text(batch).in_phase(FRAMEWORK, Phase::Inference)?
        };
        finish(features, batch.batch_size)
    }

    fn embed_input(&self, input: EmbedInput<'_>) -> Result<Embeddings, EmbedError> {
        match input {
            EmbedInput::Text(batch) => self.embed(batch),
            EmbedInput::Image(images) => {
                let features = {
                    let _span = tracing::trace_span!("forward").entered();
                    self.image(images).in_phase(FRAMEWORK, Phase::Inference)?
                };
                finish(features, images.batch_size)
            }
        }
    }
}
