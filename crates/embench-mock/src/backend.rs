//! What the mock crate provides to the binary's factory.

use embench_core::config::{BlockSchema, ConfigError, DeviceKind, Settings, SettingsSource};
use embench_core::{Architecture, Backend, BackendKind, EmbedError, Embedder, LoadRequest, Precision};

use crate::settings::MockBlock;
use crate::{MockEmbedder, MockSettings};

/// The mock: no model, a configured service time (runs any model entry).
pub struct MockBackend;

impl Backend for MockBackend {
    fn version(&self) -> String {
        env!("CARGO_PKG_VERSION").to_string()
    }

    fn architectures(&self) -> Option<&'static [Architecture]> {
        None
    }

    /// Any: the mock declares what it pretends to run (the gate's threshold follows it).
    fn precisions(&self) -> &'static [Precision] {
        &[Precision::Fp32, Precision::Fp16, Precision::Bf16, Precision::Int8]
    }

    fn settings_block(&self) -> Option<BlockSchema> {
        Some(BlockSchema::of::<MockBlock>(vec![BackendKind::Mock]))
    }

    fn settings(&self, source: &SettingsSource) -> Result<Option<Settings>, Vec<ConfigError>> {
        crate::settings::settings(source)
    }

    fn load(&self, request: &LoadRequest) -> Result<Box<dyn Embedder>, EmbedError> {
        let settings = request.backend.settings::<MockSettings>().cloned().unwrap_or_default();
        let mock = MockEmbedder::new(settings);
        Ok(Box::new(if request.backend.device == DeviceKind::Cuda { mock.on_simulated_gpu() } else { mock }))
    }
}
