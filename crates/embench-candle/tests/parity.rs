//! candle embeddings of fixed sentences against sentence-transformers' vectors
//! (the shared body: `embench_core::parity`).

use embench_candle::{CandleEmbedder, CandleSettings};
use embench_core::parity::{minilm, require};
use embench_core::parity_test;
use embench_core::pooling::{Pooling, PoolingKind};
use embench_core::Architecture;

fn load() -> CandleEmbedder {
    let folder = minilm();
    require(&folder.safetensors());
    let pooling = Pooling {
        kind: folder.pooling_from_folder().unwrap().expect("1_Pooling/config.json"),
        normalize: folder.normalize_from_folder().unwrap().expect("modules.json"),
    };
    assert_eq!(pooling, Pooling { kind: PoolingKind::Mean, normalize: true });
    let settings = CandleSettings { threads: Some(2), cuda: false, pooling, architecture: Architecture::Bert };
    CandleEmbedder::load(&folder, &settings).unwrap()
}

parity_test!(candle_matches_sentence_transformers, 0.9999, load());
