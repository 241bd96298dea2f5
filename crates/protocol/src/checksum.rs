//! Checksums the protocols use. The CRCs go through tables built at compile time: a
//! Teltonika packet of 10 records is about 500 bytes, and the bitwise loop over them was 4 %
//! of the server's CPU under load (BENCHMARKS.md). The reflected ones, which check every
//! Teltonika, Wialon and GT06 frame, take eight bytes a step (slice-by-8): a byte a step,
//! each lookup waited for the register the one before had left, and decoding Teltonika was a
//! fifth slower.

/// CRC-16/ARC (a.k.a. CRC-16/IBM, poly 0xA001 reflected, init 0): Teltonika, Wialon IPS 2.0.
pub fn crc16_arc(data: &[u8]) -> u16 {
    reflected(&ARC, data, 0x0000)
}

/// CRC-16/X-25 (poly 0x8408 reflected, init 0xFFFF, xorout 0xFFFF): Concox GT06.
pub fn crc16_x25(data: &[u8]) -> u16 {
    reflected(&X25, data, 0xFFFF) ^ 0xFFFF
}

/// CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, not reflected): Queclink binary.
pub fn crc16_ccitt_false(data: &[u8]) -> u16 {
    data.iter().fold(0xFFFF, |crc: u16, &b| {
        (crc << 8) ^ CCITT[usize::from((crc >> 8) as u8 ^ b)]
    })
}

static ARC: [[u16; 256]; 8] = sliced(reflected_table(0xA001));
static X25: [[u16; 256]; 8] = sliced(reflected_table(0x8408));
static CCITT: [u16; 256] = normal_table(0x1021);

fn reflected(tables: &[[u16; 256]; 8], data: &[u8], init: u16) -> u16 {
    let [t0, t1, t2, t3, t4, t5, t6, t7] = tables;
    let (blocks, rest) = data.as_chunks::<8>();
    let crc = blocks.iter().fold(init, |crc, b| {
        // The register holds the first two bytes' worth; each byte after them is looked up
        // in the table of the zero bytes that still follow it in the block.
        let [lo, hi] = (crc ^ u16::from_le_bytes([b[0], b[1]])).to_le_bytes();
        t7[usize::from(lo)]
            ^ t6[usize::from(hi)]
            ^ t5[usize::from(b[2])]
            ^ t4[usize::from(b[3])]
            ^ t3[usize::from(b[4])]
            ^ t2[usize::from(b[5])]
            ^ t1[usize::from(b[6])]
            ^ t0[usize::from(b[7])]
    });
    rest.iter()
        .fold(crc, |crc, &b| (crc >> 8) ^ t0[usize::from(crc as u8 ^ b)])
}

/// Table `k` is the register after byte `i` and then `k` zero bytes: what byte `i` adds to
/// the register when `k` bytes follow it in a block of eight.
const fn sliced(first: [u16; 256]) -> [[u16; 256]; 8] {
    let mut tables = [first; 8];
    let mut k = 1;
    while k < 8 {
        let mut i = 0;
        while i < 256 {
            let before = tables[k - 1][i];
            tables[k][i] = (before >> 8) ^ first[(before & 0xFF) as usize];
            i += 1;
        }
        k += 1;
    }
    tables
}

/// Entry `i` is the CRC register after shifting byte `i` through it bit by bit (LSB first).
const fn reflected_table(poly: u16) -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u16;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ poly
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

/// Entry `i` is the CRC register after shifting byte `i` through it bit by bit (MSB first).
const fn normal_table(poly: u16) -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ poly
            } else {
                crc << 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

/// XOR of all bytes: JT808, H02 binary variants.
pub fn xor(data: &[u8]) -> u8 {
    data.iter().fold(0, |acc, b| acc ^ b)
}

/// Sum of all bytes modulo 256: Meitrack (as two hex digits).
pub fn sum8(data: &[u8]) -> u8 {
    data.iter().fold(0u8, |acc, b| acc.wrapping_add(*b))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Check values of the CRC catalogue: the CRC of ASCII "123456789".
    #[test]
    fn catalogue_check_values() {
        assert_eq!(crc16_arc(b"123456789"), 0xBB3D);
        assert_eq!(crc16_x25(b"123456789"), 0x906E);
        assert_eq!(crc16_ccitt_false(b"123456789"), 0x29B1);
        assert_eq!(xor(&[0x01, 0x02, 0x04]), 0x07);
        assert_eq!(sum8(&[0xFF, 0x02]), 0x01);
    }

    /// The catalogue's definitions, a bit at a time, as the tables must reproduce them.
    fn bitwise_reflected(data: &[u8], poly: u16, init: u16, xorout: u16) -> u16 {
        let mut crc = init;
        for &b in data {
            crc ^= u16::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ poly
                } else {
                    crc >> 1
                };
            }
        }
        crc ^ xorout
    }

    fn bitwise_ccitt_false(data: &[u8]) -> u16 {
        let mut crc: u16 = 0xFFFF;
        for &b in data {
            crc ^= u16::from(b) << 8;
            for _ in 0..8 {
                crc = if crc & 0x8000 != 0 {
                    (crc << 1) ^ 0x1021
                } else {
                    crc << 1
                };
            }
        }
        crc
    }

    proptest::proptest! {
        #[test]
        fn tables_agree_with_the_bitwise_definitions(data in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            proptest::prop_assert_eq!(crc16_arc(&data), bitwise_reflected(&data, 0xA001, 0, 0));
            proptest::prop_assert_eq!(crc16_x25(&data), bitwise_reflected(&data, 0x8408, 0xFFFF, 0xFFFF));
            proptest::prop_assert_eq!(crc16_ccitt_false(&data), bitwise_ccitt_false(&data));
        }
    }
}
