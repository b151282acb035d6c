//! Redis Cluster's key-to-slot rule, computed here so tests need no server.

/// The cluster slot of `key`: CRC16 (XMODEM) mod 16384 of the key, or of
/// its hash tag, the part between the first `{` and the next `}` when that
/// part is not empty. `weir:{QUEUE}:pending` lands on the slot of `QUEUE`.
pub fn key_slot(key: &str) -> u16 {
    let bytes = key.as_bytes();
    let hashed = bytes
        .iter()
        .position(|&b| b == b'{')
        .and_then(|open| {
            let tag = &bytes[open + 1..];
            tag.iter().position(|&b| b == b'}').filter(|&len| len > 0).map(|len| &tag[..len])
        })
        .unwrap_or(bytes);
    crc16(hashed) % 16384
}

fn crc16(bytes: &[u8]) -> u16 {
    bytes.iter().fold(0u16, |mut crc, &byte| {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
        }
        crc
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_the_cluster_spec() {
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(key_slot("foo"), 12182);
        assert_eq!(key_slot("weir:{critical}:pending"), key_slot("critical"));
        // An empty tag does not count: the whole key is hashed.
        assert_eq!(key_slot("a{}b"), crc16(b"a{}b") % 16384);
        // Only the first `{` and the `}` after it.
        assert_eq!(key_slot("x{a}{b}"), key_slot("a"));
    }
}
