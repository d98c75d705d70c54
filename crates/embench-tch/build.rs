//! Embeds libtorch's library directory as an rpath, so the tests of this crate
//! (and, through `cargo:libtorch_lib`, the embench binary) run without
//! LD_LIBRARY_PATH. torch-sys (links = "tch") reports the directory.

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
        println!("cargo:libtorch_lib={dir}");
        // For loading libtorch_cuda at run time, only when a cell asks for CUDA.
        println!("cargo:rustc-env=EMBENCH_LIBTORCH_LIB={dir}");
    }
}
