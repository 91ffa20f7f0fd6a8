//! The macOS backend: Apple's libsandbox, loaded at run time so this module
//! builds (and its error paths are tested) on every platform.
//!
//! A compiled blob is applied as `struct sandbox_profile { builtin = NULL,
//! data, size }` passed to `sandbox_apply`. Apple's own compiler
//! (`sandbox_compile_string` / `sandbox_compile_file`, with parameters) is
//! there to compare its output with ours, and `sandbox_check` asks the
//! kernel what it would decide for a process.

use crate::apply::ApplyError;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::path::Path;

pub const LIBSANDBOX: &str = "/usr/lib/libsandbox.1.dylib";

/// `struct sandbox_profile` (24 bytes on LP64).
#[repr(C)]
pub struct SandboxProfile {
    pub builtin: *const c_char,
    pub data: *const u8,
    pub size: usize,
}

type ApplyFn = unsafe extern "C" fn(*const SandboxProfile) -> c_int;
type CompileFn =
    unsafe extern "C" fn(*const c_char, *mut c_void, *mut *mut c_char) -> *mut SandboxProfile;
type FreeProfileFn = unsafe extern "C" fn(*mut SandboxProfile);
type CheckFn = unsafe extern "C" fn(libc::pid_t, *const c_char, c_int, ...) -> c_int;
type CreateParamsFn = unsafe extern "C" fn() -> *mut c_void;
type SetParamFn = unsafe extern "C" fn(*mut c_void, *const c_char, *const c_char) -> c_int;
type FreeParamsFn = unsafe extern "C" fn(*mut c_void);

/// `sandbox_check`'s filter type for a path argument (its own enum, not the
/// compiled filter ids).
const SANDBOX_FILTER_PATH: c_int = 1;

/// The parameter functions, present in every libsandbox we know of but
/// optional here: without them only parameter-free compiles work.
#[derive(Clone, Copy)]
struct ParamFns {
    create: CreateParamsFn,
    set: SetParamFn,
    free: FreeParamsFn,
}

/// libsandbox's entry points, resolved before `fork()`.
pub struct Libsandbox {
    path: String,
    apply: ApplyFn,
    compile_string: CompileFn,
    compile_file: CompileFn,
    free_profile: FreeProfileFn,
    check: Check,
    params: Option<ParamFns>,
}

/// `sandbox_check` is variadic: only a stand-in (for tests) can be a plain
/// Rust function, since Rust cannot define variadic functions.
#[derive(Clone, Copy)]
enum Check {
    Lib(CheckFn),
    #[cfg(test)]
    Fake(fn(libc::pid_t, &CStr, &CStr) -> c_int),
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
        let find = |name: &str| -> Option<*mut c_void> {
            let n = CString::new(name).ok()?;
            // SAFETY: handle is a live dlopen handle; n is a C string.
            let p = unsafe { libc::dlsym(handle, n.as_ptr()) };
            (!p.is_null()).then_some(p)
        };
        let sym = |name: &str| {
            find(name).ok_or_else(|| ApplyError::Library(format!("{path} has no symbol {name}")))
        };
        let (apply, string, file, free, check) = (
            sym("sandbox_apply")?,
            sym("sandbox_compile_string")?,
            sym("sandbox_compile_file")?,
            sym("sandbox_free_profile")?,
            sym("sandbox_check")?,
        );
        let params = match (
            find("sandbox_create_params"),
            find("sandbox_set_param"),
            find("sandbox_free_params"),
        ) {
            // SAFETY: these symbols have these C signatures in libsandbox
            // (../shared/docs/seatbelt-format.md section 5).
            (Some(c), Some(s), Some(f)) => Some(unsafe {
                ParamFns {
                    create: std::mem::transmute::<*mut c_void, CreateParamsFn>(c),
                    set: std::mem::transmute::<*mut c_void, SetParamFn>(s),
                    free: std::mem::transmute::<*mut c_void, FreeParamsFn>(f),
                }
            }),
            _ => None,
        };
        // SAFETY: as above, for the entry points.
        unsafe {
            Ok(Libsandbox {
                path: path.to_owned(),
                apply: std::mem::transmute::<*mut c_void, ApplyFn>(apply),
                compile_string: std::mem::transmute::<*mut c_void, CompileFn>(string),
                compile_file: std::mem::transmute::<*mut c_void, CompileFn>(file),
                free_profile: std::mem::transmute::<*mut c_void, FreeProfileFn>(free),
                check: Check::Lib(std::mem::transmute::<*mut c_void, CheckFn>(check)),
                params,
            })
        }
    }

    /// Applies a compiled blob to the calling process; the errno on
    /// failure. For the forked child: no allocation here (Seatbelt has no
    /// syscall-level interface, so this one call is libsandbox's).
    pub fn apply_raw(&self, blob: &[u8]) -> Result<(), i32> {
        let profile = SandboxProfile {
            builtin: std::ptr::null(),
            data: blob.as_ptr(),
            size: blob.len(),
        };
        // SAFETY: `profile` points at `blob`, alive for the call.
        let rc = unsafe { (self.apply)(&profile) };
        if rc == 0 {
            Ok(())
        } else {
            Err(crate::apply::sys::errno())
        }
    }

    /// Applies a compiled blob to the calling process.
    pub fn apply_blob(&self, blob: &[u8]) -> Result<(), ApplyError> {
        self.apply_raw(blob)
            .map_err(|e| crate::apply::apply_error("sandbox_apply", e))
    }

    /// Compiles SBPL with Apple's compiler, for comparison with ours.
    pub fn compile(&self, sbpl: &str, params: &[(String, String)]) -> Result<Vec<u8>, ApplyError> {
        let src =
            CString::new(sbpl).map_err(|_| ApplyError::Library("SBPL contains NUL".into()))?;
        self.compile_with(self.compile_string, "sandbox_compile_string", &src, params)
    }

    /// Compiles an SBPL file with Apple's compiler (which wants an absolute
    /// path).
    pub fn compile_file(
        &self,
        path: &Path,
        params: &[(String, String)],
    ) -> Result<Vec<u8>, ApplyError> {
        let abs = std::path::absolute(path)
            .map_err(|e| ApplyError::Library(format!("{}: {e}", path.display())))?;
        let c = CString::new(abs.as_os_str().as_encoded_bytes())
            .map_err(|_| ApplyError::Library(format!("{}: path contains NUL", path.display())))?;
        self.compile_with(self.compile_file, "sandbox_compile_file", &c, params)
            .map_err(|e| match e {
                ApplyError::Library(m) => ApplyError::Library(format!("{}: {m}", path.display())),
                other => other,
            })
    }

    fn compile_with(
        &self,
        f: CompileFn,
        name: &str,
        arg: &CStr,
        params: &[(String, String)],
    ) -> Result<Vec<u8>, ApplyError> {
        let handle = self.make_params(params)?;
        let mut err: *mut c_char = std::ptr::null_mut();
        // SAFETY: arg is a C string; params is NULL or a live parameter set;
        // err receives a malloc'd message on failure.
        let p = unsafe {
            f(
                arg.as_ptr(),
                handle.unwrap_or(std::ptr::null_mut()),
                &mut err,
            )
        };
        if let (Some(h), Some(fns)) = (handle, self.params) {
            // SAFETY: h came from sandbox_create_params and is freed once.
            unsafe { (fns.free)(h) };
        }
        if p.is_null() {
            return Err(ApplyError::Library(format!(
                "{name}: {}",
                take_message(err)
            )));
        }
        // SAFETY: p is a live profile; data/size describe its bytecode.
        let bytes = unsafe {
            if (*p).data.is_null() {
                Vec::new()
            } else {
                std::slice::from_raw_parts((*p).data, (*p).size).to_vec()
            }
        };
        // SAFETY: p came from the compiler and is freed once.
        unsafe { (self.free_profile)(p) };
        Ok(bytes)
    }

    /// A parameter set for `params` (`None` when there are none).
    fn make_params(&self, params: &[(String, String)]) -> Result<Option<*mut c_void>, ApplyError> {
        if params.is_empty() {
            return Ok(None);
        }
        let fns = self.params.ok_or_else(|| {
            ApplyError::Library(format!("{} has no sandbox_create_params", self.path))
        })?;
        let c = |s: &str| {
            CString::new(s)
                .map_err(|_| ApplyError::Library(format!("parameter {s:?} contains NUL")))
        };
        // SAFETY: sandbox_create_params takes nothing; NULL means failure.
        let h = unsafe { (fns.create)() };
        if h.is_null() {
            return Err(ApplyError::Library("sandbox_create_params failed".into()));
        }
        for (k, v) in params {
            let (ck, cv) = match (c(k), c(v)) {
                (Ok(ck), Ok(cv)) => (ck, cv),
                (Err(e), _) | (_, Err(e)) => {
                    // SAFETY: h is live and freed once.
                    unsafe { (fns.free)(h) };
                    return Err(e);
                }
            };
            // SAFETY: h is live; key and value are C strings (libsandbox
            // copies them).
            if unsafe { (fns.set)(h, ck.as_ptr(), cv.as_ptr()) } != 0 {
                // SAFETY: as above.
                unsafe { (fns.free)(h) };
                return Err(ApplyError::Library(format!(
                    "sandbox_set_param {k}: failed"
                )));
            }
        }
        Ok(Some(h))
    }

    /// Whether the sandbox of process `pid` would deny `operation` on
    /// `path` (`sandbox_check` returns 1 for deny, 0 for allow).
    pub fn would_deny(&self, pid: i32, operation: &str, path: &str) -> Result<bool, ApplyError> {
        let bad = |what: &str| ApplyError::Library(format!("sandbox_check: {what} contains NUL"));
        let op = CString::new(operation).map_err(|_| bad("operation"))?;
        let p = CString::new(path).map_err(|_| bad("path"))?;
        let rc = match self.check {
            // SAFETY: op and p are C strings; a path filter takes one more
            // (variadic) argument, the path.
            Check::Lib(f) => unsafe { f(pid, op.as_ptr(), SANDBOX_FILTER_PATH, p.as_ptr()) },
            #[cfg(test)]
            Check::Fake(f) => f(pid, &op, &p),
        };
        match rc {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(ApplyError::Sys {
                call: "sandbox_check",
                errno: crate::apply::sys::errno(),
            }),
        }
    }
}

/// The message of a failed compile, freed.
fn take_message(err: *mut c_char) -> String {
    if err.is_null() {
        return "unknown error".to_owned();
    }
    // SAFETY: non-null error strings are NUL-terminated and malloc'd.
    let m = unsafe { CStr::from_ptr(err) }
        .to_string_lossy()
        .into_owned();
    // SAFETY: allocated by libsandbox with malloc, freed once.
    unsafe { libc::free(err.cast()) };
    m
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
        let e = Libsandbox::load("bad\0path").err().unwrap();
        assert!(e.to_string().contains("bad path"), "{e}");
    }

    // A stand-in libsandbox, to drive every error path on any platform.

    fn set_errno(e: i32) {
        // SAFETY: the errno slot of this thread is writable.
        #[cfg(target_os = "linux")]
        unsafe {
            *libc::__errno_location() = e
        };
        // SAFETY: as above.
        #[cfg(target_os = "macos")]
        unsafe {
            *libc::__error() = e
        };
    }

    unsafe extern "C" fn apply_eperm(_: *const SandboxProfile) -> c_int {
        set_errno(libc::EPERM);
        -1
    }
    unsafe extern "C" fn apply_einval(_: *const SandboxProfile) -> c_int {
        set_errno(libc::EINVAL);
        -1
    }
    unsafe extern "C" fn apply_ok(p: *const SandboxProfile) -> c_int {
        // SAFETY: the caller passes a live profile.
        let p = unsafe { &*p };
        if p.builtin.is_null() && p.size == 3 {
            0
        } else {
            -1
        }
    }
    unsafe extern "C" fn compile_fails(
        _: *const c_char,
        _: *mut c_void,
        err: *mut *mut c_char,
    ) -> *mut SandboxProfile {
        // SAFETY: err is writable; strdup returns a malloc'd copy.
        unsafe { *err = libc::strdup(c"unbound variable: foo".as_ptr()) };
        std::ptr::null_mut()
    }
    static COMPILED: [u8; 4] = [1, 2, 3, 4];
    unsafe extern "C" fn compile_ok(
        _: *const c_char,
        params: *mut c_void,
        _: *mut *mut c_char,
    ) -> *mut SandboxProfile {
        let p = Box::new(SandboxProfile {
            builtin: std::ptr::null(),
            data: COMPILED.as_ptr(),
            size: if params.is_null() { 4 } else { 2 },
        });
        Box::into_raw(p)
    }
    unsafe extern "C" fn free_profile(p: *mut SandboxProfile) {
        // SAFETY: p came from Box::into_raw in compile_ok.
        drop(unsafe { Box::from_raw(p) });
    }
    fn check_fn(_: libc::pid_t, op: &CStr, path: &CStr) -> c_int {
        match (op.to_bytes(), path.to_bytes()) {
            (b"file-read-data", b"/etc/hosts") => 0,
            (b"file-read-data", _) => 1,
            _ => {
                set_errno(libc::EINVAL);
                -1
            }
        }
    }
    unsafe extern "C" fn create_params() -> *mut c_void {
        std::ptr::NonNull::<u8>::dangling().as_ptr().cast()
    }
    unsafe extern "C" fn set_param(_: *mut c_void, k: *const c_char, _: *const c_char) -> c_int {
        // SAFETY: k is a C string.
        i32::from(unsafe { CStr::from_ptr(k) }.to_bytes() == b"BAD")
    }
    unsafe extern "C" fn free_params(_: *mut c_void) {}

    fn fake(apply: ApplyFn, compile: CompileFn, params: bool) -> Libsandbox {
        Libsandbox {
            path: "fake".into(),
            apply,
            compile_string: compile,
            compile_file: compile,
            free_profile,
            check: Check::Fake(check_fn),
            params: params.then_some(ParamFns {
                create: create_params,
                set: set_param,
                free: free_params,
            }),
        }
    }

    #[test]
    fn operation_not_permitted_names_the_likely_cause() {
        let lib = fake(apply_eperm, compile_ok, true);
        let e = lib.apply_blob(b"abc").unwrap_err();
        assert!(matches!(e, ApplyError::NotPermitted(_)));
        let text = e.to_string();
        assert!(
            text.starts_with("sandbox_apply: Operation not permitted"),
            "{text}"
        );
        assert!(
            text.contains("already sandboxed") && text.contains("SIP"),
            "{text}"
        );
        assert_eq!(lib.apply_raw(b"abc"), Err(libc::EPERM));
        let lib = fake(apply_einval, compile_ok, true);
        assert_eq!(
            lib.apply_blob(b"abc").unwrap_err(),
            ApplyError::Sys {
                call: "sandbox_apply",
                errno: libc::EINVAL
            }
        );
        let lib = fake(apply_ok, compile_ok, true);
        assert_eq!(lib.apply_blob(b"abc"), Ok(()));
    }

    #[test]
    fn compile_errors_carry_apples_message() {
        let lib = fake(apply_ok, compile_fails, true);
        let e = lib.compile("(version 1)", &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "libsandbox: sandbox_compile_string: unbound variable: foo"
        );
        let e = lib.compile_file(Path::new("/x/p.sb"), &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "libsandbox: /x/p.sb: sandbox_compile_file: unbound variable: foo"
        );
        assert!(lib.compile("a\0b", &[]).is_err());
    }

    #[test]
    fn compiles_with_and_without_parameters() {
        let lib = fake(apply_ok, compile_ok, true);
        assert_eq!(lib.compile("(version 1)", &[]).unwrap(), [1, 2, 3, 4]);
        let params = [("ROOT".to_owned(), "/tmp".to_owned())];
        assert_eq!(lib.compile("(version 1)", &params).unwrap(), [1, 2]);
        let bad = [("BAD".to_owned(), "x".to_owned())];
        let e = lib.compile("(version 1)", &bad).unwrap_err();
        assert_eq!(e.to_string(), "libsandbox: sandbox_set_param BAD: failed");
        let lib = fake(apply_ok, compile_ok, false);
        let e = lib.compile("(version 1)", &params).unwrap_err();
        assert_eq!(
            e.to_string(),
            "libsandbox: fake has no sandbox_create_params"
        );
    }

    #[test]
    fn check_reports_deny_allow_and_errors() {
        let lib = fake(apply_ok, compile_ok, true);
        assert_eq!(lib.would_deny(1, "file-read-data", "/etc/hosts"), Ok(false));
        assert_eq!(lib.would_deny(1, "file-read-data", "/etc/shadow"), Ok(true));
        assert_eq!(
            lib.would_deny(1, "bogus", "/"),
            Err(ApplyError::Sys {
                call: "sandbox_check",
                errno: libc::EINVAL
            })
        );
        assert!(lib.would_deny(1, "a\0", "/").is_err());
    }
}
