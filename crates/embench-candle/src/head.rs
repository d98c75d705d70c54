//! The model's sentence-transformers head in candle's tensors: pooling (mean, CLS,
//! last token), the Dense layers, L2 normalisation, so only `[batch, dim]` leaves
//! the device, as the other backends' exported graphs do. After
//! sentence-transformers' `Pooling`, `Dense` and `Normalize` modules (6.2).

use candle_core::{DType, Device, Module, Tensor, D};
use candle_nn::{Linear, VarBuilder};
use embench_core::head::{dense_layers, DenseLayer, IDENTITY};
use embench_core::model_files::ModelFolder;
use embench_core::pooling::{Pooling, PoolingKind};

/// Pooling, Dense layers and normalisation, loaded.
pub(crate) struct Head {
    pooling: Pooling,
    dense: Vec<Linear>,
}

impl Head {
    /// The head of `folder`: `pooling` and the Dense layers of its `modules.json`, each
    /// from its own `model.safetensors` (`linear.weight` `[out, in]`, `linear.bias`).
    ///
    /// Errors: a Dense activation other than Identity, or weights that are missing or
    /// of the wrong shape, naming the module's folder.
    pub(crate) fn load(folder: &ModelFolder, pooling: Pooling, device: &Device) -> Result<Self, String> {
        let dense = dense_layers(folder)?.iter().map(|layer| load_dense(layer, device)).collect::<Result<_, _>>()?;
        Ok(Self { pooling, dense })
    }

    /// Sentence embeddings `[batch, dim]` of the token states `hidden` (`[batch, seq, hidden]`)
    /// under `mask` (`[batch, seq]`, on the device) whose values are `mask_host` (for the
    /// last token's position).
    pub(crate) fn forward(&self, hidden: &Tensor, mask: &Tensor, mask_host: &[i64]) -> candle_core::Result<Tensor> {
        let (b, s, h) = hidden.dims3()?;
        let mut x = match self.pooling.kind {
            PoolingKind::Cls => hidden.narrow(1, 0, 1)?.squeeze(1)?,
            PoolingKind::Mean => {
                // As sentence-transformers: sum of the real tokens / their count (clamped at 1e-9).
                let m = mask.to_dtype(hidden.dtype())?.unsqueeze(2)?;
                let sum = hidden.broadcast_mul(&m)?.sum(1)?;
                let count = m.sum(1)?.clamp(1e-9, f64::MAX)?;
                sum.broadcast_div(&count)?
            }
            PoolingKind::LastToken => {
                // Each row's last real position (0 when none), as the flat row index b·s + t.
                let rows: Vec<u32> = mask_host
                    .chunks(s)
                    .enumerate()
                    .map(|(r, row)| (r * s + row.iter().rposition(|&m| m != 0).unwrap_or(0)) as u32)
                    .collect();
                let index = Tensor::from_vec(rows, b, hidden.device())?;
                hidden.reshape((b * s, h))?.index_select(&index, 0)?
            }
        };
        for layer in &self.dense {
            x = layer.forward(&x)?;
        }
        if self.pooling.normalize {
            // torch.nn.functional.normalize: x / max(||x||, 1e-12).
            let norm = x.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
            x = x.broadcast_div(&norm)?;
        }
        Ok(x)
    }
}

fn load_dense(layer: &DenseLayer, device: &Device) -> Result<Linear, String> {
    if layer.activation_function != IDENTITY {
        return Err(format!(
            "{}/config.json: activation_function '{}' is not one the candle head runs ({IDENTITY})",
            layer.path, layer.activation_function
        ));
    }
    let weights = std::path::Path::new(&layer.path).join("model.safetensors");
    if !weights.is_file() {
        return Err(format!("{}: missing (fix: re-save the model with sentence-transformers >= 3)", weights.display()));
    }
    // SAFETY: read-only memory map of a file embench never writes while loaded.
    let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[&weights], DType::F32, device) }
        .map_err(|e| format!("{}: {e}", weights.display()))?;
    let vb = vb.pp("linear");
    let w =
        vb.get((layer.out_features, layer.in_features), "weight").map_err(|e| format!("{}: {e}", weights.display()))?;
    let b = match layer.bias {
        true => Some(vb.get(layer.out_features, "bias").map_err(|e| format!("{}: {e}", weights.display()))?),
        false => None,
    };
    Ok(Linear::new(w, b))
}
