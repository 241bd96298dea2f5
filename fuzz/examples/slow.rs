//! Times the fuzz harness on long streams made of one protocol's start bytes, the inputs that
//! make a framer rescan its buffer: a framer that searches the whole buffer for a frame's end
//! and then skips a byte or two costs a pass over the buffer per skip. libFuzzer's inputs stay
//! a few KiB long and never show it; a gateway's buffer does not.
//!
//! `cargo run --release --example slow`: prints the cases slower than 50 ms, slowest first.

use std::time::{Duration, Instant};

use trackd_protocol::Protocol;

const LEN: usize = 64 * 1024;

fn main() {
    let starts: &[&[u8]] = &[
        b"\x00",
        b"\xff",
        b"\x78\x78",
        b"\x79\x79",
        b"\x7e",
        b"*",
        b"$",
        b"#",
        b"+",
        b"-",
        b"@",
        b"(",
        b"\r\n",
        b",",
        b"X",
        b"1",
        b"GET ",
        b"*HQ,",
        b"$$A",
        b"+RESP:GT",
        b"#D#",
        b"\x00\x00\x00\x00",
        b"\x00\x0f",
    ];
    let mut slow: Vec<(Duration, String)> = Vec::new();
    for protocol in Protocol::ALL {
        for start in starts {
            // Each transport, strict and relaxed (control bytes 0-2 and 4).
            for control in [0u8, 1, 4] {
                let mut data = vec![control];
                data.extend(start.iter().copied().cycle().take(LEN));
                let began = Instant::now();
                trackd_protocol_fuzz::run(protocol, &data);
                let took = began.elapsed();
                if took > Duration::from_millis(50) {
                    let what = format!("{protocol} \"{}\" control {control}", start.escape_ascii());
                    slow.push((took, what));
                }
            }
        }
    }
    slow.sort_by_key(|(took, _)| std::cmp::Reverse(*took));
    for (took, what) in &slow {
        println!("{took:>12.1?}  {what}");
    }
    if slow.is_empty() {
        println!("nothing slower than 50 ms on {LEN}-byte streams");
    }
}
