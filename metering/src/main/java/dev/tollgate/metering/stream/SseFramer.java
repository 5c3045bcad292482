package dev.tollgate.metering.stream;

/**
 * Splits a byte stream into server-sent events as the bytes arrive: an event is a block of lines
 * ended by an empty line, with LF, CRLF or CR line ends. Keeps where it stopped scanning, so bytes
 * are looked at once however the stream is chunked. Allocation-free; one per stream.
 */
public final class SseFramer {

    /** Receives each complete event as the range {@code [start, end)} of the array being framed (its blank line included). */
    public interface Sink {
        /** @return false to stop framing (the stream was cut); the framer then reports nothing more */
        boolean event(byte[] bytes, int start, int end);
    }

    /** Bytes of the current (incomplete) event already scanned. */
    private int scannedBytes;
    /** Where the current line starts, relative to the current event's start. */
    private int lineStartOffset;

    /**
     * Frames the events complete in {@code bytes[start, end)}, where {@code start} is the first byte of
     * the first event not yet reported. At the end of the body the remainder, if any, is reported as a
     * last event. Returns the offset of the first byte not yet reported (the start of an incomplete
     * event), or -1 when the sink stopped framing.
     */
    public int frame(byte[] bytes, int start, int end, boolean endOfBody, Sink sink) {
        int eventStart = start;
        int position = start + scannedBytes;
        int lineStart = start + lineStartOffset;
        while (position < end) {
            byte b = bytes[position];
            if (b != '\n' && b != '\r') {
                position++;
                continue;
            }
            int lineEnd = position + 1;
            if (b == '\r') {
                if (lineEnd == end && !endOfBody) {
                    break; // a CR at the edge may be half of a CRLF: wait for the next byte
                }
                if (lineEnd < end && bytes[lineEnd] == '\n') {
                    lineEnd++;
                }
            }
            if (position == lineStart) {
                if (!sink.event(bytes, eventStart, lineEnd)) {
                    return -1;
                }
                eventStart = lineEnd;
            }
            lineStart = lineEnd;
            position = lineEnd;
        }
        if (endOfBody && eventStart < end) {
            if (!sink.event(bytes, eventStart, end)) {
                return -1;
            }
            eventStart = end;
            position = end;
            lineStart = end;
        }
        scannedBytes = position - eventStart;
        lineStartOffset = lineStart - eventStart;
        return eventStart;
    }
}
