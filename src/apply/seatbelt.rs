//! The macOS backend: Apple's libsandbox, loaded at run time so this module
//! builds (and its error paths are tested) on every platform.
//!
//! A compiled blob is applied as `struct sandbox_profile { builtin = NULL,
//! data, size }` passed to `sandbox_apply`.

use super::ApplyError;
use std::ffi::{c_char, c_int, c_void, CStr, CString};

pub const LIBSANDBOX: &str = "/usr/lib/libsandbox.1.dylib";

/// `struct sandbox_profile` (24 bytes on LP64).
#[repr(C)]
pub struct SandboxProfile {
    pub builtin: *const c_char,
    pub data: *const u8,
    pub size: usize,
}

type ApplyFn = unsafe extern "C" fn(*const SandboxProfile) -> c_int;
type CompileStringFn =
    unsafe extern "C" fn(*const c_char, *mut c_void, *mut *mut c_char) -> *mut SandboxProfile;
type FreeProfileFn = unsafe extern "C" fn(*mut SandboxProfile);

/// libsandbox's entry points, resolved before `fork()`.
pub struct Libsandbox {
    apply: ApplyFn,
    compile_string: CompileStringFn,
    free_profile: FreeProfileFn,
}

fn dlerror_text() -> String {
    // SAFETY: dlerror returns NULL or a NUL-terminated string owned by libdl.
    let e = unsafe { libc::dlerror() };
    if e.is_null() {
        "unknown dlopen error".into()
    } else {
        // SAFETY: non-null, NUL-terminated, valid until the next dl call.
        unsafe { CStr::from_ptr(e) }.to_string_lossy().into_owned()
    }
}

impl Libsandbox {
    /// Loads libsandbox from `path` (normally [`LIBSANDBOX`]).
    pub fn load(path: &str) -> Result<Libsandbox, ApplyError> {
        let c =
            CString::new(path).map_err(|_| ApplyError::Library(format!("bad path {path:?}")))?;
        // SAFETY: dlopen with a valid C string; the handle is never closed, so
        // the resolved symbols stay valid for the life of the process.
        let handle = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        if handle.is_null() {
            return Err(ApplyError::Library(format!(
                "cannot load {path}: {}",
                dlerror_text()
            )));
        }
        let sym = |name: &str| -> Result<*mut c_void, ApplyError> {
            let n = CString::new(name).expect("symbol names have no NUL");
            // SAFETY: handle is a live dlopen handle; n is a C string.
            let p = unsafe { libc::dlsym(handle, n.as_ptr()) };
            if p.is_null() {
                Err(ApplyError::Library(format!("{path} has no symbol {name}")))
            } else {
                Ok(p)
            }
        };
        let (apply, compile, free) = (
            sym("sandbox_apply")?,
            sym("sandbox_compile_string")?,
            sym("sandbox_free_profile")?,
        );
        // SAFETY: these symbols have these C signatures in libsandbox
        // (../shared/docs/seatbelt-format.md section 5).
        unsafe {
            Ok(Libsandbox {
                apply: std::mem::transmute::<*mut c_void, ApplyFn>(apply),
                compile_string: std::mem::transmute::<*mut c_void, CompileStringFn>(compile),
                free_profile: std::mem::transmute::<*mut c_void, FreeProfileFn>(free),
            })
        }
    }

    /// Applies a compiled blob to the calling process. Called in the forked
    /// child: the one call there that is not a raw syscall, since Seatbelt has
    /// no syscall-level interface for it.
    pub fn apply_blob(&self, blob: &[u8]) -> Result<(), ApplyError> {
        let profile = SandboxProfile {
            builtin: std::ptr::null(),
            data: blob.as_ptr(),
            size: blob.len(),
        };
        // SAFETY: `profile` points at `blob`, alive for the call.
        let rc = unsafe { (self.apply)(&profile) };
        if rc == 0 {
            return Ok(());
        }
        let errno = super::linux::errno();
        if errno == libc::EPERM {
            return Err(ApplyError::NotPermitted(
                "the process is already sandboxed, or SIP / missing entitlements forbid applying a profile".into(),
            ));
        }
        Err(ApplyError::Sys {
            call: "sandbox_apply",
            errno,
        })
    }

    /// Compiles SBPL with Apple's compiler, for comparison with ours.
    pub fn compile(&self, sbpl: &str) -> Result<Vec<u8>, ApplyError> {
        let src =
            CString::new(sbpl).map_err(|_| ApplyError::Library("SBPL contains NUL".into()))?;
        let mut err: *mut c_char = std::ptr::null_mut();
        // SAFETY: src is a C string; params may be NULL; err receives a
        // malloc'd message on failure.
        let p = unsafe { (self.compile_string)(src.as_ptr(), std::ptr::null_mut(), &mut err) };
        if p.is_null() {
            let msg = if err.is_null() {
                "unknown error".to_owned()
            } else {
                // SAFETY: non-null error strings are NUL-terminated and malloc'd.
                let m = unsafe { CStr::from_ptr(err) }
                    .to_string_lossy()
                    .into_owned();
                // SAFETY: allocated by libsandbox with malloc.
                unsafe { libc::free(err.cast()) };
                m
            };
            return Err(ApplyError::Library(format!(
                "sandbox_compile_string: {msg}"
            )));
        }
        // SAFETY: p is a live profile; data/size describe its bytecode.
        let bytes = unsafe { std::slice::from_raw_parts((*p).data, (*p).size) }.to_vec();
        // SAFETY: p came from sandbox_compile_string and is freed once.
        unsafe { (self.free_profile)(p) };
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_struct_is_24_bytes() {
        assert_eq!(std::mem::size_of::<SandboxProfile>(), 24);
    }

    #[cfg(not(target_os = "macos"))]
    #[test]
    fn missing_library_is_a_clear_error() {
        let e = Libsandbox::load(LIBSANDBOX).err().unwrap();
        assert!(
            e.to_string()
                .starts_with("libsandbox: cannot load /usr/lib/libsandbox.1.dylib"),
            "{e}"
        );
    }

    #[cfg(not(target_os = "macos"))]
    #[test]
    fn library_without_the_symbols_is_named() {
        // libc is loadable everywhere and has no sandbox_apply.
        let e = Libsandbox::load("libc.so.6").err().unwrap();
        assert_eq!(
            e.to_string(),
            "libsandbox: libc.so.6 has no symbol sandbox_apply"
        );
    }
}
