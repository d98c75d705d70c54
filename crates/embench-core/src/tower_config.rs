//! A CLIP or SigLIP `config.json`'s tower, with transformers' defaults filled in.
//!
//! transformers saves a config as its difference from the class defaults, so a Hub
//! folder's `text_config` / `vision_config` may omit the sizes it shares with them
//! (`google/siglip-base-patch16-224`'s are nearly empty). Everything that reads a
//! tower's sizes (candle's towers, the FLOPs and memory estimates, the positions
//! limit, the Python worker's image size) reads them through [`tower_config`], so an
//! omitted field means what it means to transformers, not "unknown".
//!
//! Defaults: transformers 5.23, `models/clip/configuration_clip.py` (`CLIPTextConfig`,
//! `CLIPVisionConfig`) and `models/siglip/configuration_siglip.py` (`SiglipTextConfig`,
//! `SiglipVisionConfig`).

use serde_json::{json, Value};

use crate::{Architecture, Modality};

/// transformers' defaults of a tower's config class (None: not a multimodal architecture).
fn defaults(arch: Architecture, modality: Modality) -> Option<Value> {
    Some(match (arch, modality) {
        (Architecture::Clip, Modality::Text) => json!({
            "vocab_size": 49408, "hidden_size": 512, "intermediate_size": 2048, "projection_dim": 512,
            "num_hidden_layers": 12, "num_attention_heads": 8, "max_position_embeddings": 77,
            "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5,
            "pad_token_id": 1, "bos_token_id": 49406, "eos_token_id": 49407
        }),
        (Architecture::Clip, Modality::Image) => json!({
            "hidden_size": 768, "intermediate_size": 3072, "projection_dim": 512, "num_hidden_layers": 12,
            "num_attention_heads": 12, "num_channels": 3, "image_size": 224, "patch_size": 32,
            "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5
        }),
        (Architecture::Siglip, Modality::Text) => json!({
            "vocab_size": 32000, "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
            "num_attention_heads": 12, "max_position_embeddings": 64, "hidden_act": "gelu_pytorch_tanh",
            "layer_norm_eps": 1e-6, "pad_token_id": 1, "bos_token_id": 49406, "eos_token_id": 49407
        }),
        (Architecture::Siglip, Modality::Image) => json!({
            "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12,
            "num_channels": 3, "image_size": 224, "patch_size": 16, "hidden_act": "gelu_pytorch_tanh",
            "layer_norm_eps": 1e-6
        }),
        _ => return None,
    })
}

/// The `text_config` or `vision_config` of a CLIP or SigLIP `config.json`, each field
/// it omits (or sets to null) taken from transformers' defaults; None for other
/// architectures. CLIP's top-level `projection_dim` (default 512) is copied into both.
pub fn tower_config(config: &Value, arch: Architecture, modality: Modality) -> Option<Value> {
    let mut out = defaults(arch, modality)?;
    let part = match modality {
        Modality::Text => "text_config",
        Modality::Image => "vision_config",
    };
    let map = out.as_object_mut().expect("defaults are objects");
    if let Some(given) = config.get(part).and_then(Value::as_object) {
        for (k, v) in given.iter().filter(|(_, v)| !v.is_null()) {
            map.insert(k.clone(), v.clone());
        }
    }
    if arch == Architecture::Clip {
        if let Some(p) = config.get("projection_dim").filter(|p| !p.is_null()) {
            map.insert("projection_dim".into(), p.clone());
        }
    }
    Some(out)
}

/// The tower of `modality` of a `config.json` whose `model_type` is CLIP's or SigLIP's.
pub fn tower_of(config: &Value, modality: Modality) -> Option<Value> {
    let arch = config.get("model_type").and_then(Value::as_str).and_then(Architecture::from_model_type)?;
    tower_config(config, arch, modality)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn omitted_fields_are_transformers_defaults_and_given_ones_win() {
        // google/siglip-base-patch16-224's config.json: towers saved as their difference from the defaults.
        let sparse = json!({"model_type": "siglip", "text_config": {"bos_token_id": null}, "vision_config": {}});
        let vision = tower_of(&sparse, Modality::Image).unwrap();
        assert_eq!((vision["image_size"].as_u64(), vision["patch_size"].as_u64()), (Some(224), Some(16)));
        assert_eq!(tower_of(&sparse, Modality::Text).unwrap()["bos_token_id"], 49406, "null is omitted");
        let clip = json!({"model_type": "clip", "projection_dim": 16, "vision_config": {"patch_size": 8}});
        let vision = tower_of(&clip, Modality::Image).unwrap();
        assert_eq!((vision["patch_size"].as_u64(), vision["projection_dim"].as_u64()), (Some(8), Some(16)));
        assert_eq!(tower_of(&clip, Modality::Text).unwrap()["max_position_embeddings"], 77);
        assert!(tower_of(&json!({"model_type": "bert"}), Modality::Text).is_none());
    }
}
