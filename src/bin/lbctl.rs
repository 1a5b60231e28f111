//! `lbctl`, the operator's command-line tool.

fn main() {
    eprintln!("lbctl: not implemented yet");
    std::process::exit(1);
}
