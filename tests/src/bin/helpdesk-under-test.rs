//! The `helpdesk` binary, built inside the tests package so the tests can start it as a child
//! process (and kill it) by `CARGO_BIN_EXE_helpdesk-under-test`.

fn main() -> std::process::ExitCode {
    helpdesk::cli::main()
}
