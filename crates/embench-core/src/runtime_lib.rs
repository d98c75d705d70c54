//! Finds the native runtime libraries that come with the project venv's wheels
//! (`onnxruntime`, `openvino`), for the backends that load them at run time.
//!
//! One rule picks the virtualenv for every backend, the native libraries of ort
//! and openvino and the python of the python-* backends alike: the override
//! environment variable (`ORT_DYLIB_PATH`, `OPENVINO_C_LIBRARY`, `EMBENCH_PYTHON`;
//! each must then be right), else the first of: `.venv/` beside the executable's
//! ancestors (the project the binary belongs to: `target/debug/embench` finds its
//! checkout's), `.venv/` in the working directory and its parents, the repository
//! this crate was built from, and last `$VIRTUAL_ENV` — so an unrelated virtualenv
//! that happens to be active never replaces the project's.

use std::path::{Path, PathBuf};

/// A library shipped inside a wheel.
#[derive(Debug, Clone, Copy)]
pub struct WheelLibrary {
    /// Environment variable that overrides the search with a file path.
    pub env_var: &'static str,
    /// Directory inside `site-packages`.
    pub package_dir: &'static str,
    /// File-name prefix, e.g. `libonnxruntime.so`; versioned names match too.
    pub file_prefix: &'static str,
    /// The wheel, for messages, e.g. `onnxruntime==1.31.1`.
    pub wheel: &'static str,
}

/// ONNX Runtime's library from the onnxruntime wheel: what the ort backend loads
/// through `ort` and ort-native's C++ worker `dlopen`s; `ORT_DYLIB_PATH` (ort's own
/// variable) overrides the search for both.
pub const ONNXRUNTIME: WheelLibrary = WheelLibrary {
    env_var: "ORT_DYLIB_PATH",
    package_dir: "onnxruntime/capi",
    file_prefix: "libonnxruntime.so",
    wheel: "onnxruntime==1.31.1",
};

/// The fix printed when a library is missing.
pub const SETUP_FIX: &str =
    "run scripts/setup_environment.sh (or `make venv`), which installs the pinned wheels into .venv/";

/// Where the library is, or a message naming what was searched and the fix.
pub fn locate(lib: &WheelLibrary) -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os(lib.env_var) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!(
                "{}={} {} (fix: point it at {}* from the {} wheel, or unset it)",
                lib.env_var,
                path.display(),
                if path.exists() { "is not a file" } else { "does not exist" },
                lib.file_prefix,
                lib.wheel
            ))
        };
    }
    let venvs = candidate_venvs();
    for venv in &venvs {
        if let Some(found) = find_in_venv(venv, lib) {
            return Ok(found);
        }
    }
    let searched: Vec<String> = venvs.iter().map(|v| v.display().to_string()).collect();
    Err(format!(
        "{}* (from the {} wheel) not found in the virtualenvs searched ({}) (fix: {SETUP_FIX}, or set {} to the library's path)",
        lib.file_prefix,
        lib.wheel,
        if searched.is_empty() { "none".to_string() } else { searched.join(", ") },
        lib.env_var
    ))
}

/// The python of the first virtualenv found (same search order as the libraries).
pub fn venv_python() -> Option<PathBuf> {
    candidate_venvs().into_iter().map(|v| v.join("bin/python")).find(|p| p.is_file())
}

/// `relative` inside the project of the first virtualenv found (same search order
/// as the libraries; the project is the venv's parent), when that file exists:
/// e.g. `.tools/ort-native/ort-native-worker`. Errors with the paths searched.
pub fn project_file(relative: &str) -> Result<PathBuf, String> {
    let projects: Vec<PathBuf> = candidate_venvs().iter().filter_map(|v| v.parent().map(Path::to_path_buf)).collect();
    projects.iter().map(|p| p.join(relative)).find(|f| f.is_file()).ok_or_else(|| {
        let searched: Vec<String> = projects.iter().map(|p| p.join(relative).display().to_string()).collect();
        format!(
            "searched {}",
            if searched.is_empty() { "nothing (no project virtualenv)".into() } else { searched.join(", ") }
        )
    })
}

fn candidate_venvs() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    let mut push = |p: PathBuf| {
        // Canonical, so that one venv reached two ways is one entry and paths read plainly.
        if let Ok(p) = p.canonicalize() {
            if p.is_dir() && !out.contains(&p) {
                out.push(p);
            }
        }
    };
    if let Ok(exe) = std::env::current_exe() {
        exe.ancestors().skip(1).for_each(|a| push(a.join(".venv")));
    }
    if let Ok(cwd) = std::env::current_dir() {
        cwd.ancestors().for_each(|a| push(a.join(".venv")));
    }
    push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv"));
    if let Some(v) = std::env::var_os("VIRTUAL_ENV") {
        push(PathBuf::from(v));
    }
    out
}

fn find_in_venv(venv: &Path, lib: &WheelLibrary) -> Option<PathBuf> {
    let mut pythons: Vec<PathBuf> = std::fs::read_dir(venv.join("lib"))
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("python3")))
        .collect();
    pythons.sort();
    for python in pythons {
        let dir = python.join("site-packages").join(lib.package_dir);
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        let mut matches: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                    n == lib.file_prefix || n.strip_prefix(lib.file_prefix).is_some_and(|rest| rest.starts_with('.'))
                })
            })
            .collect();
        matches.sort();
        if let Some(found) = matches.pop() {
            return Some(found);
        }
    }
    None
}

/// Why the library a backend looked for cannot be used: not found (`found`'s
/// error), or found and not loading ([`loads`]); None when it loads.
pub fn unusable(found: Result<PathBuf, String>) -> Option<String> {
    match found {
        Err(why) => Some(why),
        Ok(path) => loads(&path).err(),
    }
}

/// Why ONNX Runtime's library cannot be used: not found, not loading, or a library
/// that is not ONNX Runtime (no `OrtGetApiBase`, the C API's one entry point);
/// None when it is usable. The ort and ort-native backends' runtime check.
pub fn onnxruntime_problem() -> Option<String> {
    let path = match locate(&ONNXRUNTIME) {
        Err(why) => return Some(why),
        Ok(p) => p,
    };
    match exports(&path, "OrtGetApiBase") {
        Ok(true) => None,
        Ok(false) => Some(format!(
            "{} loads but has no OrtGetApiBase: it is not ONNX Runtime's library (fix: point {} at libonnxruntime.so* from the {} wheel, or unset it)",
            path.display(),
            ONNXRUNTIME.env_var,
            ONNXRUNTIME.wheel
        )),
        Err(why) => Some(why),
    }
}

/// Whether the shared library at `path` loads and exports `symbol` (dlopen, dlsym,
/// dlclose); an error when it does not load.
pub fn exports(path: &std::path::Path, symbol: &str) -> Result<bool, String> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(|e| format!("{}: {e}", path.display()))?;
    let name = std::ffi::CString::new(symbol).map_err(|e| format!("{symbol}: {e}"))?;
    loads(path)?;
    // SAFETY: as in `loads`; dlsym is given the handle dlopen returned and a valid
    // NUL-terminated name, and the symbol's address is only compared with null.
    unsafe {
        let handle = libc::dlopen(c.as_ptr(), libc::RTLD_LAZY | libc::RTLD_LOCAL);
        if handle.is_null() {
            return Err(format!("{} does not load", path.display()));
        }
        let found = !libc::dlsym(handle, name.as_ptr()).is_null();
        libc::dlclose(handle);
        Ok(found)
    }
}

/// Whether the shared library at `path` loads (its dependencies found, the right
/// architecture): dlopen, then dlclose; the error is dlerror's, with the path.
pub fn loads(path: &std::path::Path) -> Result<(), String> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(|e| format!("{}: {e}", path.display()))?;
    // SAFETY: dlopen/dlerror/dlclose are called with a valid NUL-terminated path and
    // the handle dlopen returned; the library's constructors run as they would at load.
    unsafe {
        let handle = libc::dlopen(c.as_ptr(), libc::RTLD_LAZY | libc::RTLD_LOCAL);
        if handle.is_null() {
            let err = libc::dlerror();
            let msg = if err.is_null() {
                "unknown error".into()
            } else {
                std::ffi::CStr::from_ptr(err).to_string_lossy().into_owned()
            };
            return Err(format!("{} does not load: {msg}", path.display()));
        }
        libc::dlclose(handle);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIB: WheelLibrary = WheelLibrary {
        env_var: "EMBENCH_TEST_NO_SUCH_VAR",
        package_dir: "onnxruntime/capi",
        file_prefix: "libonnxruntime.so",
        wheel: "onnxruntime",
    };

    #[test]
    fn finds_the_versioned_library_and_not_its_neighbours() {
        let venv = std::env::temp_dir().join(format!("embench-venv-{}", std::process::id()));
        let capi = venv.join("lib/python3.11/site-packages/onnxruntime/capi");
        std::fs::create_dir_all(&capi).unwrap();
        std::fs::write(capi.join("libonnxruntime_providers_shared.so"), b"").unwrap();
        assert_eq!(find_in_venv(&venv, &LIB), None, "a provider library is not the runtime");
        std::fs::write(capi.join("libonnxruntime.so.1.31.1"), b"").unwrap();
        assert_eq!(find_in_venv(&venv, &LIB), Some(capi.join("libonnxruntime.so.1.31.1")));
        std::fs::remove_dir_all(&venv).unwrap();
    }
}
