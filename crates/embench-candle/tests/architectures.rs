//! candle on the tiny models of the design's architectures (`make tiny-models`):
//! the probe set in one natural-length batch of 8 (so most rows are padded: on the
//! left for Qwen3, as its tokenizer_config.json says) against sentence-transformers'
//! vectors of the same folder (`reference.json`, made by `SentenceTransformer.encode`).

use embench_candle::{CandleEmbedder, CandleSettings};
use embench_core::model_files::ModelFolder;
use embench_core::parity::{repo, require};
use embench_core::pooling::{Pooling, PoolingKind};
use embench_core::reference::ReferenceSet;
use embench_core::tokenize::TextTokenizer;
use embench_core::Architecture;

/// Cosines of candle's vectors of the probe set to sentence-transformers', at natural length, batch 8.
fn cosines(key: &str, architecture: Architecture, expected: (PoolingKind, &str)) -> Vec<f32> {
    let folder = ModelFolder::new(repo().join("models").join(key));
    require(&folder.reference());
    let pooling = Pooling {
        kind: folder.pooling_from_folder().unwrap().expect("1_Pooling/config.json"),
        normalize: folder.normalize_from_folder().unwrap().expect("modules.json"),
    };
    let tokenizer = TextTokenizer::from_file(&folder.tokenizer_json(), 512).unwrap();
    assert_eq!((pooling.kind, tokenizer.padding_side()), expected, "{key}: not the layout of its real model");
    let settings = CandleSettings { threads: Some(2), cuda: false, pooling, architecture };
    let model = CandleEmbedder::load(&folder, &settings).unwrap();
    let reference = ReferenceSet::from_file(&folder.reference()).unwrap();
    let cosines = reference.cosines(&model, &tokenizer).unwrap();
    println!("{key}: candle vs sentence-transformers cosines {cosines:?}");
    cosines
}

#[test]
fn xlm_roberta_matches_sentence_transformers() {
    let c = cosines("tiny-xlm-roberta", Architecture::XlmRoberta, (PoolingKind::Cls, "right"));
    assert!(c.iter().all(|&c| c >= 0.9999), "{c:?}");
}

#[test]
fn qwen3_left_padded_batches_match_sentence_transformers() {
    let c = cosines("tiny-qwen3", Architecture::Qwen3, (PoolingKind::LastToken, "left"));
    assert!(c.iter().all(|&c| c >= 0.9999), "{c:?}");
}

#[test]
fn bidirectional_gemma3_with_its_dense_head_matches_sentence_transformers() {
    let c = cosines("tiny-gemma3", Architecture::Gemma3, (PoolingKind::Mean, "right"));
    assert!(c.iter().all(|&c| c >= 0.9999), "{c:?}");
}
