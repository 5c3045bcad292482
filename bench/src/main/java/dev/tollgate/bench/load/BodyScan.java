package dev.tollgate.bench.load;

import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;

/**
 * Reads the few things the mock needs from a request body by scanning its bytes, without parsing
 * the JSON: a mock that parsed every body would spend its CPU where the system under test should.
 *
 * <p>It looks for {@code "name"}, optional white space, {@code :}, optional white space and the
 * value. A key's spelling inside a string value would be escaped ({@code \"stream\"}) and so does
 * not match; a top-level field and the same name nested deeper are not told apart, which the
 * request shapes the harness sends never need.
 */
final class BodyScan {

    static final int ABSENT = -1;

    private BodyScan() {
    }

    /** True if {@code "name": true} occurs. */
    static boolean booleanField(ByteBuf body, String name) {
        int value = valueStart(body, name);
        return value >= 0 && startsWith(body, value, "true");
    }

    /** A non-negative integer field, or {@link #ABSENT}. */
    static int intField(ByteBuf body, String name) {
        int value = valueStart(body, name);
        return value < 0 ? ABSENT : digits(body, value);
    }

    /** The raw (still escaped) content of a string field, at most {@code maxBytes} long, or null. */
    static String stringField(ByteBuf body, String name, int maxBytes) {
        int value = valueStart(body, name);
        if (value < 0 || body.getByte(value) != '"') {
            return null;
        }
        int end = body.writerIndex();
        for (int i = value + 1; i < end && i - value - 1 <= maxBytes; i++) {
            byte b = body.getByte(i);
            if (b == '\\') {
                i++;
            } else if (b == '"') {
                return body.toString(value + 1, i - value - 1, StandardCharsets.UTF_8);
            }
        }
        return null;
    }

    /** The number of a directive such as {@code [sim:events=20]} ({@code prefix} = {@code "[sim:events="}), or {@link #ABSENT}. */
    static int directive(ByteBuf body, String prefix) {
        int at = indexOf(body, body.readerIndex(), prefix);
        return at < 0 ? ABSENT : digits(body, at + prefix.length());
    }

    /** Where the value of {@code "name":} starts, or -1. */
    private static int valueStart(ByteBuf body, String name) {
        String quoted = "\"" + name + "\"";
        int from = body.readerIndex();
        int end = body.writerIndex();
        while (true) {
            int at = indexOf(body, from, quoted);
            if (at < 0) {
                return -1;
            }
            int i = skipSpace(body, at + quoted.length(), end);
            if (i < end && body.getByte(i) == ':') {
                i = skipSpace(body, i + 1, end);
                return i < end ? i : -1;
            }
            from = at + 1;
        }
    }

    private static int skipSpace(ByteBuf body, int from, int end) {
        int i = from;
        while (i < end) {
            byte b = body.getByte(i);
            if (b != ' ' && b != '\t' && b != '\n' && b != '\r') {
                break;
            }
            i++;
        }
        return i;
    }

    /** At most 9 digits, so the value fits an int; no digit is {@link #ABSENT}. */
    private static int digits(ByteBuf body, int from) {
        int end = body.writerIndex();
        int value = 0;
        int i = from;
        while (i < end && i - from < 9) {
            byte b = body.getByte(i);
            if (b < '0' || b > '9') {
                break;
            }
            value = value * 10 + (b - '0');
            i++;
        }
        return i == from ? ABSENT : value;
    }

    private static boolean startsWith(ByteBuf body, int at, String text) {
        if (at + text.length() > body.writerIndex()) {
            return false;
        }
        for (int i = 0; i < text.length(); i++) {
            if (body.getByte(at + i) != text.charAt(i)) {
                return false;
            }
        }
        return true;
    }

    static int indexOf(ByteBuf body, int from, String needle) {
        int last = body.writerIndex() - needle.length();
        byte first = (byte) needle.charAt(0);
        for (int i = from; i <= last; i++) {
            if (body.getByte(i) == first && startsWith(body, i, needle)) {
                return i;
            }
        }
        return -1;
    }
}
