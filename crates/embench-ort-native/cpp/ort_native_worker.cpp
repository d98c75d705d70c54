// embench's ort-native worker: a model run through ONNX Runtime's C++ API
// (Ort::Env, Ort::Session, Ort::Value), driven by embench over pipes.
//
// It is what a team writing a C++ service gets: no language binding between the
// request and ONNX Runtime. embench's ort-native backend starts it, and measures it
// with the same runner, load generator and gate as every other backend.
//
// The library is not linked: the worker dlopen()s the libonnxruntime.so the ort
// backend loads (`--library`, the venv's onnxruntime wheel) and asks it for the C
// API of the headers it was built with (ORT_API_VERSION; a newer runtime serves an
// older API version, onnxruntime_c_api.h's OrtApiBase::GetApi). The C++ API is
// then initialised by hand (ORT_API_MANUAL_INIT, Ort::InitApi).
//
// Protocol (little-endian), the Python workers' (scripts/python/embench_worker.py):
// - after loading, one JSON line: {"ok": true, "framework", "version", "device",
//   "precision", "threads", "settings"} or {"ok": false, "error"};
// - request, text: u32 rows, u32 seq, then int64 input_ids, attention_mask,
//   token_type_ids ([rows, seq] each);
// - request, `--modality image --image-size H W`: u32 rows, u32 values per image
//   (must be 3*H*W, else the reply is an error), then float32 pixels [rows, 3, H, W];
// - reply: u32 0, u32 rows, u32 dim, float32 [rows, dim]; or u32 1, u32 n, then n
//   bytes of UTF-8 error message.
// EOF on stdin ends the worker.
//
// The session options are the ort backend's: intra-op and inter-op threads, graph
// optimisation level, sequential or parallel execution, the CPU memory arena on,
// the CPU execution provider. The head (pooling, Dense, Normalize) is in the graph,
// as the converter exports it for every backend: its `[rows, dim]` output is returned
// as it is.

#define ORT_API_MANUAL_INIT
#include <onnxruntime_cxx_api.h>
#undef ORT_API_MANUAL_INIT

#include <dlfcn.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#ifndef EMBENCH_ORT_HEADERS
#define EMBENCH_ORT_HEADERS "unknown"
#endif

namespace {

struct Args {
  std::string library, model, modality = "text";
  std::string graph_optimization = "all", execution_mode = "sequential";
  int threads = 1, inter_op_threads = 0, height = 0, width = 0;
};

// The names embench feeds and the outputs it reads, in order of preference
// (embench_core::pooling::INPUT_NAMES, OUTPUT_NAMES).
const char* const kInputs[] = {"input_ids", "attention_mask", "token_type_ids", "pixel_values"};
const char* const kOutputs[] = {"sentence_embedding", "text_embeds", "image_embeds", "last_hidden_state"};


// `s` with every byte that is not part of a valid UTF-8 sequence replaced by U+FFFD,
// so the hello line is valid JSON whatever a path or an error message holds.
std::string valid_utf8(const std::string& s) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool ok = len > 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) >> 6) == 0x2;
    if (ok) {
      out.append(s, i, len);
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

std::string json_escape(const std::string& raw) {
  std::string out;
  const std::string s = valid_utf8(raw);
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out;
}

// The protocol's own stream: a copy of fd 1 taken before fd 1 is pointed at stderr,
// so nothing ONNX Runtime prints can corrupt it.
FILE* g_out = nullptr;

bool read_exact(void* buf, size_t n) {
  return n == 0 || std::fread(buf, 1, n, stdin) == n;
}

void write_all(const void* buf, size_t n) {
  if (n && std::fwrite(buf, 1, n, g_out) != n) {
    std::exit(1);  // embench has gone
  }
}

void reply_error(const std::string& msg) {
  uint32_t head[2] = {1, static_cast<uint32_t>(msg.size())};
  write_all(head, sizeof head);
  write_all(msg.data(), msg.size());
  std::fflush(g_out);
}

void hello_error(const std::string& msg) {
  std::string line = "{\"ok\": false, \"error\": \"" + json_escape(msg) + "\"}\n";
  write_all(line.data(), line.size());
  std::fflush(g_out);
}

// A whole decimal number in [lo, hi], else an error naming the flag.
int number(const std::string& flag, const std::string& text, int lo, int hi) {
  size_t used = 0;
  long v = 0;
  try {
    v = std::stol(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || text.empty() || v < lo || v > hi) {
    throw std::runtime_error(flag + " takes a whole number in " + std::to_string(lo) + ".." + std::to_string(hi) +
                             ", not '" + text + "'");
  }
  return static_cast<int>(v);
}

Args parse(int argc, char** argv) {
  Args a;
  auto need = [&](int i) {
    if (i + 1 >= argc) throw std::runtime_error(std::string("missing value after ") + argv[i]);
    return std::string(argv[i + 1]);
  };
  for (int i = 1; i < argc; i += 2) {
    std::string k = argv[i];
    if (k == "--library") a.library = need(i);
    else if (k == "--model") a.model = need(i);
    else if (k == "--threads") a.threads = number(k, need(i), 1, 4096);
    else if (k == "--inter-op-threads") a.inter_op_threads = number(k, need(i), 0, 4096);
    else if (k == "--graph-optimization") a.graph_optimization = need(i);
    else if (k == "--execution-mode") a.execution_mode = need(i);
    else if (k == "--modality") a.modality = need(i);
    else if (k == "--image-size") {
      a.height = number(k, need(i), 1, 65536);
      if (i + 2 >= argc) throw std::runtime_error("--image-size takes H W");
      a.width = number(k, argv[i + 2], 1, 65536);
      ++i;
    } else {
      throw std::runtime_error("unknown argument " + k);
    }
  }
  if (a.library.empty() || a.model.empty()) throw std::runtime_error("--library and --model are required");
  if (a.modality == "image" && (a.height <= 0 || a.width <= 0)) {
    throw std::runtime_error("--modality image needs --image-size H W");
  }
  return a;
}

GraphOptimizationLevel level(const std::string& name) {
  if (name == "disable") return GraphOptimizationLevel::ORT_DISABLE_ALL;
  if (name == "basic") return GraphOptimizationLevel::ORT_ENABLE_BASIC;
  if (name == "extended") return GraphOptimizationLevel::ORT_ENABLE_EXTENDED;
  if (name == "all") return GraphOptimizationLevel::ORT_ENABLE_ALL;
  throw std::runtime_error("unknown --graph-optimization " + name);
}

// The C API of this worker's headers, from the library at `path`.
std::string init_api(const std::string& path) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) throw std::runtime_error(std::string("dlopen: ") + dlerror());
  using GetApiBase = const OrtApiBase* (*)();
  auto get = reinterpret_cast<GetApiBase>(dlsym(handle, "OrtGetApiBase"));
  if (!get) throw std::runtime_error(path + " has no OrtGetApiBase: not an ONNX Runtime library");
  const OrtApiBase* base = get();
  const OrtApi* api = base->GetApi(ORT_API_VERSION);
  std::string runtime = base->GetVersionString();
  if (!api) {
    throw std::runtime_error("ONNX Runtime " + runtime + " at " + path + " does not serve C API version " +
                             std::to_string(ORT_API_VERSION) + " of this worker's headers (" EMBENCH_ORT_HEADERS
                             "): the library is older than the headers (fix: rebuild the worker with "
                             "scripts/build_ort_native.sh against the runtime's own headers)");
  }
  Ort::InitApi(api);
  return runtime;
}

// Sentence embeddings [rows, dim]: the graph's output as it is. The converter puts
// the model's head (pooling, Dense, Normalize) in the graph (converter 5 and later);
// an older export's token states are refused with the fix, not pooled here.
std::vector<float> finish(const float* values, const std::vector<int64_t>& shape, size_t rows, size_t* dim_out) {
  if (shape.size() == 2 && static_cast<size_t>(shape[0]) == rows) {
    *dim_out = static_cast<size_t>(shape[1]);
    return std::vector<float>(values, values + rows * *dim_out);
  }
  std::string s;
  for (auto d : shape) s += (s.empty() ? "" : ", ") + std::to_string(d);
  throw std::runtime_error("the network returned shape [" + s + "] for a batch of " + std::to_string(rows) +
                           " (ort-native runs graphs whose output is the sentence embeddings [rows, dim], the head "
                           "in the graph; fix: re-convert the model with scripts/convert_models.sh --force)");
}

struct Model {
  Ort::Session session{nullptr};
  std::vector<std::string> inputs;
  std::string output;
};

Model load(const Args& a, Ort::Env& env) {
  Ort::SessionOptions so;
  so.SetIntraOpNumThreads(a.threads);
  if (a.inter_op_threads > 0) so.SetInterOpNumThreads(a.inter_op_threads);
  so.SetGraphOptimizationLevel(level(a.graph_optimization));
  if (a.execution_mode == "parallel") so.SetExecutionMode(ExecutionMode::ORT_PARALLEL);
  else if (a.execution_mode == "sequential") so.SetExecutionMode(ExecutionMode::ORT_SEQUENTIAL);
  else throw std::runtime_error("unknown --execution-mode " + a.execution_mode);
  so.EnableCpuMemArena();
  Model m;
  m.session = Ort::Session(env, a.model.c_str(), so);
  Ort::AllocatorWithDefaultOptions alloc;
  for (size_t i = 0; i < m.session.GetInputCount(); ++i) {
    std::string name = m.session.GetInputNameAllocated(i, alloc).get();
    if (std::find(std::begin(kInputs), std::end(kInputs), name) == std::end(kInputs)) {
      throw std::runtime_error(a.model + ": unexpected input '" + name +
                               "' (fix: re-export it with scripts/convert_models.sh)");
    }
    m.inputs.push_back(name);
  }
  std::vector<std::string> outputs;
  for (size_t i = 0; i < m.session.GetOutputCount(); ++i) {
    outputs.push_back(m.session.GetOutputNameAllocated(i, alloc).get());
  }
  for (const char* want : kOutputs) {
    if (std::find(outputs.begin(), outputs.end(), want) != outputs.end()) {
      m.output = want;
      break;
    }
  }
  if (m.output.empty()) {
    throw std::runtime_error(a.model + ": no sentence_embedding, text_embeds, image_embeds or last_hidden_state "
                             "output (fix: re-export it with scripts/convert_models.sh)");
  }
  if (m.output == "last_hidden_state") {
    throw std::runtime_error(a.model + ": an older export whose output is token states, without the model's head "
                             "(fix: re-convert the model with scripts/convert_models.sh --force, which puts pooling, "
                             "Dense and Normalize in the graph)");
  }
  bool image = std::find(m.inputs.begin(), m.inputs.end(), "pixel_values") != m.inputs.end();
  if (image != (a.modality == "image")) {
    throw std::runtime_error(a.model + (image ? ": an image tower, asked for text" : ": takes text, asked for images"));
  }
  return m;
}

// Runs one request whose tensors are already read; writes the reply.
void answer(const Args& a, Model& m, const Ort::MemoryInfo& mem, size_t rows, size_t second,
            std::vector<int64_t>& ids, std::vector<float>& pixels) {
  std::vector<Ort::Value> values;
  std::vector<const char*> names;
  if (a.modality == "image") {
    int64_t shape[4] = {static_cast<int64_t>(rows), 3, a.height, a.width};
    values.push_back(Ort::Value::CreateTensor<float>(mem, pixels.data(), pixels.size(), shape, 4));
    names.push_back("pixel_values");
  } else {
    int64_t shape[2] = {static_cast<int64_t>(rows), static_cast<int64_t>(second)};
    size_t n = rows * second;
    for (const std::string& name : m.inputs) {
      size_t which = name == "input_ids" ? 0 : name == "attention_mask" ? 1 : 2;
      values.push_back(Ort::Value::CreateTensor<int64_t>(mem, ids.data() + which * n, n, shape, 2));
      names.push_back(name.c_str());
    }
  }
  const char* out_name = m.output.c_str();
  std::vector<Ort::Value> out =
      m.session.Run(Ort::RunOptions{nullptr}, names.data(), values.data(), values.size(), &out_name, 1);
  Ort::TensorTypeAndShapeInfo type_and_shape = out[0].GetTensorTypeAndShapeInfo();
  if (type_and_shape.GetElementType() != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT) {
    throw std::runtime_error(m.output + " is of ONNX element type " + std::to_string(type_and_shape.GetElementType()) +
                             ", not float32 (fix: re-convert the model with scripts/convert_models.sh --force; "
                             "ort-native runs fp32 graphs)");
  }
  std::vector<int64_t> shape = type_and_shape.GetShape();
  size_t dim = 0;
  std::vector<float> vectors = finish(out[0].GetTensorData<float>(), shape, rows, &dim);
  uint32_t head[3] = {0, static_cast<uint32_t>(rows), static_cast<uint32_t>(dim)};
  write_all(head, sizeof head);
  write_all(vectors.data(), vectors.size() * sizeof(float));
  std::fflush(g_out);
}

// The most values one request may carry (token ids x 3, or pixels): 64 Mi, 1.5 GiB of
// ids. A header asking for more is not a request embench sends; the worker answers
// with an error and exits, since the bytes after such a header cannot be trusted.
constexpr uint64_t kMaxValues = uint64_t(64) << 20;

void serve(const Args& a, Model& m) {
  Ort::MemoryInfo mem = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  std::vector<int64_t> ids;
  std::vector<float> pixels;
  const size_t image_values = 3 * static_cast<size_t>(a.height) * static_cast<size_t>(a.width);
  for (;;) {
    uint32_t head[2];
    if (!read_exact(head, sizeof head)) return;
    const uint64_t rows = head[0], second = head[1];
    const uint64_t values = a.modality == "image" ? rows * second : 3 * rows * second;
    if (values > kMaxValues) {
      reply_error("a request of " + std::to_string(rows) + " x " + std::to_string(second) + " is over the worker's " +
                  std::to_string(kMaxValues) + " values; the stream cannot be trusted after it, so the worker stops");
      std::exit(1);
    }
    bool ok;
    try {
      if (a.modality == "image") {
        pixels.resize(values);
        ok = read_exact(pixels.data(), pixels.size() * sizeof(float));
      } else {
        ids.resize(values);
        ok = read_exact(ids.data(), ids.size() * sizeof(int64_t));
      }
    } catch (const std::exception& e) {
      // Out of memory for the body: it cannot be read, so the stream is lost.
      reply_error(std::string("could not hold the request's ") + std::to_string(values) + " values: " + e.what());
      std::exit(1);
    }
    if (!ok) return;
    try {
      if (a.modality == "image" && second != image_values) {
        throw std::runtime_error("a request of " + std::to_string(second) +
                                 " values per image; this worker's model takes 3x" + std::to_string(a.height) + "x" +
                                 std::to_string(a.width) + " = " + std::to_string(image_values));
      }
      answer(a, m, mem, rows, second, ids, pixels);
    } catch (const std::exception& e) {
      reply_error(e.what());
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  // embench's own allocator thresholds (crates/embench/src/main.rs, tune_allocator), so
  // the C++ API runs with the heap the ort backend's in-process session gets.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 128 << 20);
  // The protocol gets its own copy of fd 1; fd 1 then points at stderr.
  int proto = dup(1);
  dup2(2, 1);
  g_out = fdopen(proto, "wb");
  if (!g_out) return 1;
  Args a;
  std::string runtime;
  try {
    a = parse(argc, argv);
    runtime = init_api(a.library);
  } catch (const std::exception& e) {
    hello_error(e.what());
    return 1;
  }
  Ort::Env env{nullptr};
  Model m;
  try {
    env = Ort::Env(ORT_LOGGING_LEVEL_WARNING, "embench");
    m = load(a, env);
    std::string hello = "{\"ok\": true, \"framework\": \"onnxruntime (c++)\", \"version\": \"" + json_escape(runtime) +
                        "\", \"device\": \"cpu\", \"precision\": \"fp32\", \"threads\": " + std::to_string(a.threads) +
                        ", \"settings\": {\"headers\": \"" + json_escape(EMBENCH_ORT_HEADERS) +
                        "\", \"c_api_version\": \"" + std::to_string(ORT_API_VERSION) +
                        "\", \"graph_optimization\": \"" + json_escape(a.graph_optimization) +
                        "\", \"execution_mode\": \"" + json_escape(a.execution_mode) +
                        "\", \"inter_op_threads\": \"" +
                        (a.inter_op_threads > 0 ? std::to_string(a.inter_op_threads) : std::string("default")) +
                        "\", \"cpu_mem_arena\": \"on\", \"execution_providers\": \"cpu\", \"output\": \"" +
                        json_escape(m.output) + "\", \"library\": \"" + json_escape(a.library) +
                        "\", \"malloc\": \"mmap_threshold 32 MiB, trim_threshold 128 MiB\"}}\n";
    write_all(hello.data(), hello.size());
    std::fflush(g_out);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ort-native worker: %s\n", e.what());
    hello_error(e.what());
    return 1;
  }
  // After the hello line only binary replies go to the protocol; a failure outside a
  // request's own (answered) error ends the worker with its reason on stderr.
  try {
    serve(a, m);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ort-native worker: %s\n", e.what());
    return 1;
  }
  return 0;
}
