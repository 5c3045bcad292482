package dev.tollgate.metering.stream;

import java.nio.charset.StandardCharsets;

/**
 * A pull tokenizer over one JSON document in a byte range, made for metering SSE events on the hot
 * path: it allocates nothing while scanning (field names are compared as bytes, numbers parsed in
 * place); only {@link #stringValue()} makes a String, for the tokenizer. Malformed input yields
 * {@link #ERROR} rather than an exception. Reusable: {@link #reset} starts the next document.
 */
final class JsonScanner {
    static final int END = 0;
    static final int START_OBJECT = 1;
    static final int END_OBJECT = 2;
    static final int START_ARRAY = 3;
    static final int END_ARRAY = 4;
    static final int FIELD_NAME = 5;
    static final int STRING = 6;
    static final int NUMBER = 7;
    static final int LITERAL = 8;
    static final int ERROR = 9;

    private static final int MAX_DEPTH = 64;

    private byte[] bytes;
    private int position;
    private int end;
    /** For each open container: true for an object. */
    private final boolean[] inObject = new boolean[MAX_DEPTH];
    private int depth;
    /** In an object, whether the next string is a field name. */
    private boolean expectName;
    private int token;
    private int valueStart;
    private int valueEnd;
    private boolean valueEscaped;
    private char[] chars = new char[128];

    void reset(byte[] source, int offset, int length) {
        bytes = source;
        position = offset;
        end = offset + length;
        depth = 0;
        expectName = false;
        token = END;
    }

    int token() {
        return token;
    }

    /** The offset just after what was scanned last: after a skipped container, its end. */
    int position() {
        return position;
    }

    /** True when the current STRING ends with {@code suffix} (unescaped ASCII). */
    boolean stringEndsWith(byte[] suffix) {
        int length = valueEnd - valueStart;
        if (valueEscaped || length < suffix.length) {
            return false;
        }
        for (int i = 0; i < suffix.length; i++) {
            if (bytes[valueEnd - suffix.length + i] != suffix[i]) {
                return false;
            }
        }
        return true;
    }

    /** Depth of containers around the current token: 1 inside the top-level object. */
    int depth() {
        return depth;
    }

    int next() {
        skipWhitespaceAndSeparators();
        if (position >= end) {
            return token = depth == 0 ? END : ERROR;
        }
        byte b = bytes[position];
        switch (b) {
            case '{' -> {
                position++;
                return push(true, START_OBJECT);
            }
            case '[' -> {
                position++;
                return push(false, START_ARRAY);
            }
            case '}', ']' -> {
                position++;
                if (depth == 0 || inObject[depth - 1] != (b == '}')) {
                    return token = ERROR;
                }
                depth--;
                expectName = depth > 0 && inObject[depth - 1];
                return token = b == '}' ? END_OBJECT : END_ARRAY;
            }
            case '"' -> {
                if (!scanString()) {
                    return token = ERROR;
                }
                if (depth > 0 && inObject[depth - 1] && expectName) {
                    skipWhitespace();
                    if (position >= end || bytes[position] != ':') {
                        return token = ERROR;
                    }
                    position++;
                    expectName = false;
                    return token = FIELD_NAME;
                }
                afterValue();
                return token = STRING;
            }
            default -> {
                valueStart = position;
                while (position < end && isScalarByte(bytes[position])) {
                    position++;
                }
                valueEnd = position;
                if (valueEnd == valueStart) {
                    return token = ERROR;
                }
                afterValue();
                return token = (b == '-' || (b >= '0' && b <= '9')) ? NUMBER : LITERAL;
            }
        }
    }

    private int push(boolean object, int tokenType) {
        if (depth == MAX_DEPTH) {
            return token = ERROR;
        }
        inObject[depth++] = object;
        expectName = object;
        return token = tokenType;
    }

    private void afterValue() {
        expectName = depth > 0 && inObject[depth - 1];
    }

    private static boolean isScalarByte(byte b) {
        return b != ',' && b != '}' && b != ']' && b != ' ' && b != '\n' && b != '\r' && b != '\t' && b != ':';
    }

    private void skipWhitespace() {
        while (position < end) {
            byte b = bytes[position];
            if (b == ' ' || b == '\n' || b == '\r' || b == '\t') {
                position++;
            } else {
                return;
            }
        }
    }

    private void skipWhitespaceAndSeparators() {
        while (position < end) {
            byte b = bytes[position];
            if (b == ' ' || b == '\n' || b == '\r' || b == '\t' || b == ',') {
                position++;
            } else {
                return;
            }
        }
    }

    /** Scans a string starting at the opening quote; the value is bytes [valueStart, valueEnd). */
    private boolean scanString() {
        position++;
        valueStart = position;
        valueEscaped = false;
        while (position < end) {
            byte b = bytes[position];
            if (b == '"') {
                valueEnd = position++;
                return true;
            }
            if (b == '\\') {
                valueEscaped = true;
                position += 2;
            } else {
                position++;
            }
        }
        return false;
    }

    /** True when the current field name (or string) is exactly {@code name} (unescaped ASCII). */
    boolean nameEquals(byte[] name) {
        if (valueEscaped || valueEnd - valueStart != name.length) {
            return false;
        }
        for (int i = 0; i < name.length; i++) {
            if (bytes[valueStart + i] != name[i]) {
                return false;
            }
        }
        return true;
    }

    /**
     * The current NUMBER as a long; -1 if it is not a non-negative integer that fits a long
     * (a sign, a fraction, an exponent or more than {@code Long.MAX_VALUE}: none is a count).
     */
    long longValue() {
        long value = 0;
        for (int i = valueStart; i < valueEnd; i++) {
            byte b = bytes[i];
            if (b < '0' || b > '9') {
                return -1;
            }
            int digit = b - '0';
            if (value > (Long.MAX_VALUE - digit) / 10) {
                return -1;
            }
            value = value * 10 + digit;
        }
        return value;
    }

    /** True when the current LITERAL is {@code null}. */
    boolean isNull() {
        return token == LITERAL && valueEnd - valueStart == 4 && bytes[valueStart] == 'n';
    }

    /** The current STRING, unescaped. The one allocation of the scanner, made for the tokenizer. */
    String stringValue() {
        if (!valueEscaped) {
            return new String(bytes, valueStart, valueEnd - valueStart, StandardCharsets.UTF_8);
        }
        String raw = new String(bytes, valueStart, valueEnd - valueStart, StandardCharsets.UTF_8);
        if (chars.length < raw.length()) {
            chars = new char[raw.length()];
        }
        int length = 0;
        for (int i = 0; i < raw.length(); i++) {
            char c = raw.charAt(i);
            if (c != '\\' || i + 1 >= raw.length()) {
                chars[length++] = c;
                continue;
            }
            char escaped = raw.charAt(++i);
            switch (escaped) {
                case 'n' -> chars[length++] = '\n';
                case 't' -> chars[length++] = '\t';
                case 'r' -> chars[length++] = '\r';
                case 'b' -> chars[length++] = '\b';
                case 'f' -> chars[length++] = '\f';
                case 'u' -> {
                    if (i + 4 < raw.length()) {
                        chars[length++] = (char) Integer.parseInt(raw, i + 1, i + 5, 16);
                        i += 4;
                    }
                }
                default -> chars[length++] = escaped; // \" \\ \/
            }
        }
        return new String(chars, 0, length);
    }

    /** Skips the value the scanner stands on (all of it, if it is a container). */
    void skipValue() {
        if (token != START_OBJECT && token != START_ARRAY) {
            return;
        }
        int target = depth - 1;
        while (depth > target) {
            int next = next();
            if (next == ERROR || next == END) {
                return;
            }
        }
    }
}
