package dev.tollgate.metering.stream;

import java.nio.charset.StandardCharsets;

/**
 * One server-sent event, parsed in place from the bytes of its block (the lines before the blank
 * line that ends it). Reused from event to event: {@link #parse} overwrites it.
 *
 * <p>Per the SSE format: {@code event:} names the event, {@code data:} lines are joined with a
 * newline, one optional space after the colon is dropped, lines starting with {@code :} are
 * comments. A single data line (the usual case) is referenced where it lies, not copied.
 */
public final class SseEvent {
    private static final byte[] EVENT = "event".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] DATA = "data".getBytes(StandardCharsets.US_ASCII);

    /**
     * Event names the providers send on every stream: returned as these constants rather than a new
     * String per event.
     */
    private static final String[] KNOWN_NAMES = {"message_start", "content_block_start", "content_block_delta", "content_block_stop",
        "message_delta", "message_stop", "ping", "error", "response.created", "response.in_progress", "response.output_item.added",
        "response.content_part.added", "response.output_text.delta", "response.output_text.done", "response.content_part.done",
        "response.output_item.done", "response.completed", "response.incomplete", "response.failed",
        "response.function_call_arguments.delta", "response.reasoning_summary_text.delta"};
    private static final byte[][] KNOWN_NAME_BYTES = new byte[KNOWN_NAMES.length][];

    static {
        for (int i = 0; i < KNOWN_NAMES.length; i++) {
            KNOWN_NAME_BYTES[i] = KNOWN_NAMES[i].getBytes(StandardCharsets.US_ASCII);
        }
    }

    private String name;
    private byte[] data;
    private int dataOffset;
    private int dataLength;
    private byte[] joined = new byte[256];

    /** The {@code event:} name, or null when the block has none (OpenAI chat streams). */
    public String name() {
        return name;
    }

    public byte[] data() {
        return data;
    }

    public int dataOffset() {
        return dataOffset;
    }

    public int dataLength() {
        return dataLength;
    }

    public boolean hasData() {
        return data != null;
    }

    /** True when the data is exactly {@code text} (for example OpenAI's {@code [DONE]}). */
    public boolean dataEquals(byte[] text) {
        if (data == null || dataLength != text.length) {
            return false;
        }
        for (int i = 0; i < text.length; i++) {
            if (data[dataOffset + i] != text[i]) {
                return false;
            }
        }
        return true;
    }

    public String dataAsString() {
        return data == null ? null : new String(data, dataOffset, dataLength, StandardCharsets.UTF_8);
    }

    public SseEvent parse(byte[] block, int offset, int length) {
        name = null;
        data = null;
        dataOffset = 0;
        dataLength = 0;
        int joinedLength = -1;
        int end = offset + length;
        int lineStart = offset;
        while (lineStart < end) {
            int lineEnd = lineStart;
            while (lineEnd < end && block[lineEnd] != '\n' && block[lineEnd] != '\r') {
                lineEnd++;
            }
            if (lineEnd > lineStart && block[lineStart] != ':') {
                int colon = lineStart;
                while (colon < lineEnd && block[colon] != ':') {
                    colon++;
                }
                int valueStart = colon < lineEnd ? colon + 1 : lineEnd;
                if (valueStart < lineEnd && block[valueStart] == ' ') {
                    valueStart++;
                }
                int fieldLength = colon - lineStart;
                if (matches(block, lineStart, fieldLength, EVENT)) {
                    name = eventName(block, valueStart, lineEnd - valueStart);
                } else if (matches(block, lineStart, fieldLength, DATA)) {
                    if (data == null) {
                        data = block;
                        dataOffset = valueStart;
                        dataLength = lineEnd - valueStart;
                    } else {
                        if (joinedLength < 0) {
                            joinedLength = append(0, data, dataOffset, dataLength);
                        }
                        joinedLength = append(joinedLength, new byte[] {'\n'}, 0, 1);
                        joinedLength = append(joinedLength, block, valueStart, lineEnd - valueStart);
                        data = joined;
                        dataOffset = 0;
                        dataLength = joinedLength;
                    }
                }
            }
            lineStart = lineEnd;
            if (lineStart < end && block[lineStart] == '\r') {
                lineStart++;
            }
            if (lineStart < end && block[lineStart] == '\n') {
                lineStart++;
            }
        }
        return this;
    }

    private static String eventName(byte[] block, int offset, int length) {
        for (int i = 0; i < KNOWN_NAME_BYTES.length; i++) {
            if (matches(block, offset, length, KNOWN_NAME_BYTES[i])) {
                return KNOWN_NAMES[i];
            }
        }
        return new String(block, offset, length, StandardCharsets.UTF_8);
    }

    private int append(int at, byte[] source, int offset, int length) {
        if (at + length > joined.length) {
            byte[] bigger = new byte[Math.max(joined.length * 2, at + length)];
            System.arraycopy(joined, 0, bigger, 0, at);
            if (data == joined) {
                data = bigger;
            }
            joined = bigger;
        }
        System.arraycopy(source, offset, joined, at, length);
        return at + length;
    }

    private static boolean matches(byte[] block, int offset, int length, byte[] field) {
        if (length != field.length) {
            return false;
        }
        for (int i = 0; i < length; i++) {
            if (block[offset + i] != field[i]) {
                return false;
            }
        }
        return true;
    }
}
