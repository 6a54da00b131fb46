//! Entry point: everything lives in the library so the end-to-end tests run the same code.

fn main() -> std::process::ExitCode {
    helpdesk::cli::main()
}
