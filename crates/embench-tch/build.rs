//! Embeds libtorch's library directory as an rpath, so the tests of this crate
//! (and, through `cargo:libtorch_lib`, the embench binary) run without
//! LD_LIBRARY_PATH. torch-sys (links = "tch") reports the directory.
//!
//! Also compiles `src/inference_mode.cpp` against the same libtorch's headers:
//! the InferenceMode guard tch does not expose.

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    println!("cargo:rerun-if-env-changed=LIBTORCH_CXX11_ABI");
    println!("cargo:rerun-if-changed=src/inference_mode.cpp");
    let Ok(dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") else { return };
    println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    println!("cargo:libtorch_lib={dir}");
    // For loading libtorch_cuda at run time, only when a cell asks for CUDA.
    println!("cargo:rustc-env=EMBENCH_LIBTORCH_LIB={dir}");
    let include = std::path::Path::new(&dir).join("../include");
    // The ABI torch-sys compiled its own C++ with (the same variable, the same default).
    let abi = std::env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".to_owned());
    cc::Build::new()
        .cpp(true)
        .pic(true)
        .warnings(false)
        .include(include)
        .flag("-std=c++17")
        .flag(format!("-D_GLIBCXX_USE_CXX11_ABI={abi}"))
        .file("src/inference_mode.cpp")
        .compile("embench_inference_mode");
    println!("cargo:rustc-link-lib=c10");
}
