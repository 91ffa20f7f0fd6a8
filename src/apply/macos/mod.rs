//! The macOS backend: Apple's libsandbox applies the blob and Apple's kernel
//! enforces it. Built on every platform (loaded at run time), so its error
//! paths are tested on Linux too.

pub mod seatbelt;
