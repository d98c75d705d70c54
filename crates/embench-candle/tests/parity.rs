//! candle embeddings of fixed sentences against sentence-transformers' vectors.

use std::path::PathBuf;

use embench_candle::{CandleEmbedder, CandleSettings};
use embench_core::model_files::ModelFolder;
use embench_core::pooling::{Pooling, PoolingKind};
use embench_core::reference::ReferenceSet;
use embench_core::tokenize::TextTokenizer;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn candle_matches_sentence_transformers() {
    let folder = ModelFolder::new(repo().join("models/all-minilm-l6-v2"));
    assert!(
        folder.safetensors().is_file(),
        "{} is missing: run `make model` (make test does it first)",
        folder.safetensors().display()
    );
    let reference = ReferenceSet::from_file(&repo().join("tests/fixtures/all-minilm-l6-v2_reference.json")).unwrap();
    let pooling = Pooling {
        kind: folder.pooling_from_folder().unwrap().expect("1_Pooling/config.json"),
        normalize: folder.normalize_from_folder().unwrap().expect("modules.json"),
    };
    assert_eq!(pooling, Pooling { kind: PoolingKind::Mean, normalize: true });
    let model = CandleEmbedder::load(&folder, &CandleSettings { threads: Some(2), cuda: false, pooling }).unwrap();
    let tokenizer = TextTokenizer::from_file(&folder.tokenizer_json(), 256).unwrap();
    let cosines = reference.cosines(&model, &tokenizer).unwrap();
    println!("candle vs sentence-transformers cosines: {cosines:?}");
    for (sentence, c) in reference.sentences.iter().zip(&cosines) {
        assert!(*c >= 0.9999, "cosine {c} < 0.9999 for {sentence:?}");
    }
}
