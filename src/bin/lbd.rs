//! `lbd`, the director daemon.

fn main() {
    eprintln!("lbd: not implemented yet");
    std::process::exit(1);
}
