//! The API's clock is trackd's one clock (see [`trackd_core::clock`]), shared with the
//! gateway so receive times and "now" agree.

pub use trackd_core::clock::Clock;
