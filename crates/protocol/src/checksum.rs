//! Checksums the protocols use, computed bitwise: frames are short, tables are not worth it.

/// CRC-16/ARC (a.k.a. CRC-16/IBM, poly 0xA001 reflected, init 0): Teltonika, Wialon IPS 2.0.
pub fn crc16_arc(data: &[u8]) -> u16 {
    crc16_reflected(data, 0xA001, 0x0000, 0x0000)
}

/// CRC-16/X-25 (poly 0x8408 reflected, init 0xFFFF, xorout 0xFFFF): Concox GT06.
pub fn crc16_x25(data: &[u8]) -> u16 {
    crc16_reflected(data, 0x8408, 0xFFFF, 0xFFFF)
}

/// CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, not reflected): Queclink binary.
pub fn crc16_ccitt_false(data: &[u8]) -> u16 {
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

fn crc16_reflected(data: &[u8], poly: u16, init: u16, xorout: u16) -> u16 {
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
}
