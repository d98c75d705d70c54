//! What the openvino crate provides to the binary's factory.

use embench_core::{Architecture, Backend, EmbedError, Embedder, LoadRequest};

use crate::{runtime_library, OpenvinoEmbedder, OpenvinoSettings};

/// OpenVINO through the `openvino` crate: the converted IR (or ONNX) of any encoder the converter exports.
pub struct OpenvinoBackend;

impl Backend for OpenvinoBackend {
    fn version(&self) -> String {
        match runtime_library() {
            Ok(path) => path.display().to_string(),
            Err(why) => format!("library missing: {why}"),
        }
    }

    fn runtime_problem(&self) -> Option<String> {
        embench_core::runtime_lib::unusable(runtime_library())
    }

    fn architectures(&self) -> Option<&'static [Architecture]> {
        Some(&[Architecture::Bert, Architecture::XlmRoberta])
    }

    fn load(&self, request: &LoadRequest) -> Result<Box<dyn Embedder>, EmbedError> {
        request.cpu_only("openvino")?;
        let folder = request.folder("openvino")?;
        let file = folder.network_file(request.backend).expect("openvino reads a file");
        let settings = OpenvinoSettings {
            threads: Some(request.threads),
            precision: request.backend.precision,
            options: request.backend.openvino.clone().expect("validation fills openvino options"),
            pooling: request.model.pooling,
        };
        Ok(Box::new(OpenvinoEmbedder::load(&file, &settings)?))
    }
}
