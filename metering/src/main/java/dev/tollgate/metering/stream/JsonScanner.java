package dev.tollgate.metering.stream;

import java.nio.charset.StandardCharsets;

/**
 * A pull tokenizer over one JSON document in a byte range, made for metering SSE events on the hot
 * path: it allocates nothing while scanning (field names are compared as bytes, numbers parsed in
 * place); only {@link #stringValue()} makes a String, for the tokenizer. Reusable: {@link #reset}
 * starts the next document.
 *
 * <p>The bytes come from a provider and are untrusted, so no input makes it throw. Malformed input
 * has one typed outcome: {@link #ERROR}, after which every {@link #next} is {@code ERROR} again and
 * {@link #failed()} is true. Malformed means: not exactly one JSON value (trailing bytes, nothing
 * after a comma, a missing comma or colon), mismatched brackets, nesting beyond {@value #MAX_DEPTH},
 * an unterminated string, an escape other than JSON's (<code>&#92;uZZZZ</code>, {@code \x}), a number that
 * is not JSON's number grammar, or a literal other than {@code true}/{@code false}/{@code null}. Two
 * leniencies, neither of which changes what is read: raw control characters inside strings are taken
 * as they are, and invalid UTF-8 in a string becomes U+FFFD in {@link #stringValue()}.
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

    static final int MAX_DEPTH = 64;

    private byte[] bytes;
    private int position;
    private int end;
    /** For each open container: true for an object. */
    private final boolean[] inObject = new boolean[MAX_DEPTH];
    private int depth;
    /** In an object, whether the next string is a field name. */
    private boolean expectName;
    /** A value just ended inside the current container (or at the top): next comes a comma or the close. */
    private boolean valueEnded;
    /** The current container was just opened: it may close at once. */
    private boolean justOpened;
    /** The one top-level value is complete: only whitespace may follow. */
    private boolean documentEnded;
    private boolean startedWithObject;
    private boolean failed;
    private boolean reachedEnd;
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
        valueEnded = false;
        justOpened = false;
        documentEnded = false;
        startedWithObject = false;
        failed = false;
        reachedEnd = false;
        token = END;
    }

    int token() {
        return token;
    }

    /** True once the input turned out malformed (see the class comment); it stays so until {@link #reset}. */
    boolean failed() {
        return failed;
    }

    /**
     * Scans what is left of the document and says whether the whole input was exactly one
     * well-formed JSON object: what a metered event's data must be.
     */
    boolean wholeObject() {
        while (!failed && !reachedEnd) {
            next();
        }
        return !failed && documentEnded && startedWithObject;
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
        if (failed) {
            return ERROR;
        }
        skipWhitespace();
        if (position >= end) {
            if (depth > 0) {
                return fail();
            }
            reachedEnd = true;
            return token = END;
        }
        if (documentEnded) {
            return fail(); // a second value after the document
        }
        byte b = bytes[position];
        if (valueEnded) {
            if (b == ',') {
                position++;
                valueEnded = false;
                skipWhitespace();
                if (position >= end) {
                    return fail();
                }
                b = bytes[position];
                if (b == '}' || b == ']') {
                    return fail(); // nothing after the comma
                }
            } else if (b != '}' && b != ']') {
                return fail(); // two values without a comma
            }
        }
        boolean nameExpected = depth > 0 && inObject[depth - 1] && expectName;
        switch (b) {
            case '{', '[' -> {
                position++;
                return nameExpected ? fail() : push(b == '{');
            }
            case '}', ']' -> {
                position++;
                if (depth == 0 || inObject[depth - 1] != (b == '}') || !(valueEnded || justOpened)) {
                    return fail(); // a stray close, the wrong one, or a field without its value
                }
                depth--;
                valueDone();
                return token = b == '}' ? END_OBJECT : END_ARRAY;
            }
            case '"' -> {
                if (!scanString()) {
                    return fail();
                }
                if (nameExpected) {
                    skipWhitespace();
                    if (position >= end || bytes[position] != ':') {
                        return fail();
                    }
                    position++;
                    expectName = false;
                    justOpened = false;
                    return token = FIELD_NAME;
                }
                valueDone();
                return token = STRING;
            }
            default -> {
                valueStart = position;
                while (position < end && isScalarByte(bytes[position])) {
                    position++;
                }
                valueEnd = position;
                if (nameExpected || valueEnd == valueStart) {
                    return fail();
                }
                boolean number = b == '-' || (b >= '0' && b <= '9');
                if (number ? !isJsonNumber() : !isLiteral()) {
                    return fail();
                }
                valueDone();
                return token = number ? NUMBER : LITERAL;
            }
        }
    }

    private int fail() {
        failed = true;
        return token = ERROR;
    }

    private int push(boolean object) {
        if (depth == MAX_DEPTH) {
            return fail();
        }
        if (depth == 0) {
            startedWithObject = object;
        }
        inObject[depth++] = object;
        expectName = object;
        justOpened = true;
        valueEnded = false;
        return token = object ? START_OBJECT : START_ARRAY;
    }

    /** A value (or a whole container) just ended in the container now current. */
    private void valueDone() {
        valueEnded = true;
        justOpened = false;
        expectName = depth > 0 && inObject[depth - 1];
        documentEnded = depth == 0;
    }

    private static boolean isScalarByte(byte b) {
        return b != ',' && b != '}' && b != ']' && b != '{' && b != '[' && b != '"' && b != ' ' && b != '\n' && b != '\r'
                && b != '\t' && b != ':';
    }

    /** JSON's number grammar over [valueStart, valueEnd): {@code -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?}. */
    private boolean isJsonNumber() {
        int i = valueStart;
        if (bytes[i] == '-') {
            i++;
        }
        if (i >= valueEnd) {
            return false;
        }
        if (bytes[i] == '0') {
            i++;
        } else {
            int digits = digits(i);
            if (digits == 0) {
                return false;
            }
            i += digits;
        }
        if (i < valueEnd && bytes[i] == '.') {
            int digits = digits(i + 1);
            if (digits == 0) {
                return false;
            }
            i += 1 + digits;
        }
        if (i < valueEnd && (bytes[i] == 'e' || bytes[i] == 'E')) {
            i++;
            if (i < valueEnd && (bytes[i] == '+' || bytes[i] == '-')) {
                i++;
            }
            int digits = digits(i);
            if (digits == 0) {
                return false;
            }
            i += digits;
        }
        return i == valueEnd;
    }

    private int digits(int from) {
        int i = from;
        while (i < valueEnd && bytes[i] >= '0' && bytes[i] <= '9') {
            i++;
        }
        return i - from;
    }

    private boolean isLiteral() {
        return literalIs(TRUE) || literalIs(FALSE) || literalIs(NULL);
    }

    private static final byte[] TRUE = {'t', 'r', 'u', 'e'};
    private static final byte[] FALSE = {'f', 'a', 'l', 's', 'e'};
    private static final byte[] NULL = {'n', 'u', 'l', 'l'};

    private boolean literalIs(byte[] literal) {
        if (valueEnd - valueStart != literal.length) {
            return false;
        }
        for (int i = 0; i < literal.length; i++) {
            if (bytes[valueStart + i] != literal[i]) {
                return false;
            }
        }
        return true;
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

    /**
     * Scans a string starting at the opening quote; the value is bytes [valueStart, valueEnd). False
     * when it is unterminated or has an escape JSON does not have, so {@link #stringValue} never meets one.
     */
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
                if (position + 1 >= end) {
                    return false;
                }
                byte escaped = bytes[position + 1];
                if (escaped == 'u') {
                    if (position + 6 > end) {
                        return false;
                    }
                    for (int i = position + 2; i < position + 6; i++) {
                        if (hexValue(bytes[i]) < 0) {
                            return false;
                        }
                    }
                    position += 6;
                } else if (escaped == '"' || escaped == '\\' || escaped == '/' || escaped == 'b' || escaped == 'f' || escaped == 'n'
                        || escaped == 'r' || escaped == 't') {
                    position += 2;
                } else {
                    return false;
                }
            } else {
                position++;
            }
        }
        return false;
    }

    private static int hexValue(int c) {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        if (c >= 'a' && c <= 'f') {
            return c - 'a' + 10;
        }
        if (c >= 'A' && c <= 'F') {
            return c - 'A' + 10;
        }
        return -1;
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
        return token == LITERAL && literalIs(NULL);
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
                    // scanString checked four hex digits follow; ASCII, so the same in the decoded String
                    int code = 0;
                    for (int k = i + 1; k <= i + 4 && k < raw.length(); k++) {
                        code = code << 4 | Math.max(0, hexValue(raw.charAt(k)));
                    }
                    chars[length++] = (char) code;
                    i = Math.min(i + 4, raw.length() - 1);
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
