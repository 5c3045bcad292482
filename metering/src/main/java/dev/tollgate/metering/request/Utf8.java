package dev.tollgate.metering.request;

/**
 * Strict UTF-8 validation (RFC 3629) without decoding: no overlong forms, no encoded surrogates,
 * nothing above U+10FFFF, no truncated sequence. Jackson checks some of this only inside strings it
 * decodes, and an upstream may read bytes it let through differently than Tollgate did.
 */
final class Utf8 {
    private Utf8() {
    }

    /** The index of the first byte of the first invalid sequence in {@code [offset, offset + length)}, or -1 if all is valid. */
    static int firstInvalidByte(byte[] bytes, int offset, int length) {
        int end = offset + length;
        int i = offset;
        while (i < end) {
            int b = bytes[i];
            if (b >= 0) { // ASCII, the common case
                i++;
                continue;
            }
            b &= 0xFF;
            int continuation;
            int min;
            int max;
            int second = i + 1 < end ? bytes[i + 1] & 0xFF : -1;
            if (b >= 0xC2 && b <= 0xDF) {
                continuation = 1;
                min = 0x80;
                max = 0xBF;
            } else if (b >= 0xE0 && b <= 0xEF) {
                continuation = 2;
                min = b == 0xE0 ? 0xA0 : 0x80; // E0 80..9F would be overlong
                max = b == 0xED ? 0x9F : 0xBF; // ED A0..BF would be a surrogate
            } else if (b >= 0xF0 && b <= 0xF4) {
                continuation = 3;
                min = b == 0xF0 ? 0x90 : 0x80; // F0 80..8F would be overlong
                max = b == 0xF4 ? 0x8F : 0xBF; // F4 90.. would be above U+10FFFF
            } else {
                return i; // a continuation byte on its own, C0/C1 (overlong) or F5..FF
            }
            if (second < min || second > max) {
                return i;
            }
            for (int k = 2; k <= continuation; k++) {
                if (i + k >= end || (bytes[i + k] & 0xC0) != 0x80) {
                    return i;
                }
            }
            i += continuation + 1;
        }
        return -1;
    }
}
