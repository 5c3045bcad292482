package dev.tollgate.bench.load;

import io.netty.buffer.ByteBuf;
import io.netty.util.ByteProcessor;

/**
 * Incremental checks that a response body arrived whole, fed chunk by chunk as it arrives, without
 * keeping the body: one instance per connection, {@link #reset} before each response.
 *
 * <ul>
 *   <li>JSON: the body is one complete JSON value (objects and arrays balanced outside strings,
 *       nothing but white space after it) and has a {@code "usage"} key somewhere.</li>
 *   <li>SSE: events are counted (a blank line ends one) with the time each was completed, and the
 *       stream is complete when its terminal event arrived whole: {@code data: [DONE]} (OpenAI) or
 *       {@code event: message_stop} (Anthropic), and no {@code event: error} came before it.</li>
 * </ul>
 */
final class ResponseCheck implements ByteProcessor {

    /** Told when an SSE event completes, with the time of the read that completed it. */
    interface EventListener {
        void onEvent(long nowNs);
    }

    private static final byte[] USAGE = "\"usage\"".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    private static final int LINE_PREFIX = 24;
    private static final byte[] DONE = "data: [DONE]".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    private static final byte[] MESSAGE_STOP = "event: message_stop".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    private static final byte[] ERROR_EVENT = "event: error".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

    private boolean sse;
    private long feedNowNs;
    private EventListener feedListener;

    // JSON state
    private int depth;
    private boolean inString;
    private boolean escaped;
    private boolean valueClosed;
    private boolean trailingGarbage;
    private int usageMatched;
    private boolean sawUsage;

    // SSE state
    private final byte[] line = new byte[LINE_PREFIX];
    private int lineLength;
    private boolean eventHasData;
    private boolean terminalInEvent;
    private boolean errorInEvent;
    private int events;
    private boolean terminated;
    private boolean errorEvent;
    private boolean dataAfterTerminal;

    void reset(boolean sse) {
        this.sse = sse;
        depth = 0;
        inString = false;
        escaped = false;
        valueClosed = false;
        trailingGarbage = false;
        usageMatched = 0;
        sawUsage = false;
        lineLength = 0;
        eventHasData = false;
        terminalInEvent = false;
        errorInEvent = false;
        events = 0;
        terminated = false;
        errorEvent = false;
        dataAfterTerminal = false;
    }

    void feed(ByteBuf content, long nowNs, EventListener listener) {
        this.feedNowNs = nowNs;
        this.feedListener = listener;
        content.forEachByte(this);
        this.feedListener = null;
    }

    @Override
    public boolean process(byte value) {
        if (sse) {
            sseByte(value, feedNowNs, feedListener);
        } else {
            jsonByte(value);
        }
        return true;
    }

    int events() {
        return events;
    }

    /** Why the body is not complete, or null if it is. */
    String incompleteReason() {
        if (sse) {
            if (errorEvent) {
                return "stream carried an error event";
            }
            if (!terminated) {
                return "stream ended without its terminal event after " + events + " events";
            }
            if (dataAfterTerminal || lineLength > 0 || eventHasData) {
                return "data after the terminal event";
            }
            return null;
        }
        if (!valueClosed || depth != 0 || inString) {
            return "JSON body not complete";
        }
        if (trailingGarbage) {
            return "bytes after the JSON value";
        }
        if (!sawUsage) {
            return "JSON body without usage";
        }
        return null;
    }

    private void jsonByte(byte b) {
        if (usageMatched < USAGE.length) {
            usageMatched = b == USAGE[usageMatched] ? usageMatched + 1 : (b == USAGE[0] ? 1 : 0);
            if (usageMatched == USAGE.length) {
                sawUsage = true;
            }
        }
        if (valueClosed) {
            if (b != ' ' && b != '\n' && b != '\r' && b != '\t') {
                trailingGarbage = true;
            }
            return;
        }
        if (inString) {
            if (escaped) {
                escaped = false;
            } else if (b == '\\') {
                escaped = true;
            } else if (b == '"') {
                inString = false;
            }
            return;
        }
        switch (b) {
            case '"' -> inString = true;
            case '{', '[' -> depth++;
            case '}', ']' -> {
                depth--;
                if (depth == 0) {
                    valueClosed = true;
                } else if (depth < 0) {
                    trailingGarbage = true;
                    valueClosed = true;
                }
            }
            default -> { }
        }
    }

    private void sseByte(byte b, long nowNs, EventListener listener) {
        if (b != '\n') {
            if (lineLength < LINE_PREFIX) {
                line[lineLength] = b;
            }
            lineLength++;
            return;
        }
        int length = lineLength;
        if (length > 0 && length <= LINE_PREFIX && line[length - 1] == '\r') {
            length--;
        } else if (length > LINE_PREFIX) {
            length = LINE_PREFIX;
        }
        lineLength = 0;
        if (length == 0) {
            if (eventHasData || terminalInEvent || errorInEvent) {
                events++;
                if (terminated) {
                    dataAfterTerminal = true;
                }
                if (errorInEvent) {
                    errorEvent = true;
                }
                if (terminalInEvent) {
                    terminated = true;
                }
                listener.onEvent(nowNs);
            }
            eventHasData = false;
            terminalInEvent = false;
            errorInEvent = false;
            return;
        }
        if (startsWith(length, DONE) || startsWith(length, MESSAGE_STOP)) {
            terminalInEvent = true;
        } else if (startsWith(length, ERROR_EVENT)) {
            errorInEvent = true;
        }
        if (startsWith(length, DATA)) {
            eventHasData = true;
        }
    }

    private static final byte[] DATA = "data:".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

    private boolean startsWith(int length, byte[] prefix) {
        if (length < prefix.length) {
            return false;
        }
        for (int i = 0; i < prefix.length; i++) {
            if (line[i] != prefix[i]) {
                return false;
            }
        }
        return true;
    }
}
