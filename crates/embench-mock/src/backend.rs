//! What the mock crate provides to the binary's factory.

use embench_core::config::DeviceKind;
use embench_core::{Architecture, Backend, EmbedError, Embedder, LoadRequest};

use crate::MockEmbedder;

/// The mock: no model, a configured service time (runs any model entry).
pub struct MockBackend;

impl Backend for MockBackend {
    fn version(&self) -> String {
        env!("CARGO_PKG_VERSION").to_string()
    }

    fn architectures(&self) -> Option<&'static [Architecture]> {
        None
    }

    fn load(&self, request: &LoadRequest) -> Result<Box<dyn Embedder>, EmbedError> {
        let settings = request.backend.mock.clone().expect("validation fills mock settings");
        let mock = MockEmbedder::new(settings);
        Ok(Box::new(if request.backend.device == DeviceKind::Cuda { mock.on_simulated_gpu() } else { mock }))
    }
}
