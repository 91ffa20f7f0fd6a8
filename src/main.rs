//! The `sbcheck` command line; its definition and each subcommand live in
//! `sbcheck::cli`.

fn main() -> std::process::ExitCode {
    sbcheck::cli::main()
}
