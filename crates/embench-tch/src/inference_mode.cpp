// libtorch's InferenceMode guard, which tch does not expose: under it, tensors
// skip autograd's version counters and view tracking, which no_grad still keeps.
// This is what torch.inference_mode() does in Python.
#include <c10/core/InferenceMode.h>

extern "C" void *embench_inference_mode_enter() { return new c10::InferenceMode(true); }

extern "C" void embench_inference_mode_exit(void *guard) { delete static_cast<c10::InferenceMode *>(guard); }
