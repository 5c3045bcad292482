package dev.tollgate.metering.stream;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Fuzzes the SSE framer with the bytes an upstream sends, split where the network splits them.
 * Plain test runs replay {@code SseFramerFuzzTestInputs/<method>/}; {@code bin/fuzz} fuzzes.
 *
 * <p>Input layout (how {@link FuzzedDataProvider} reads it): the last 8 bytes seed the chunk
 * boundaries, the rest is the stream.
 */
class SseFramerFuzzTest {

    /**
     * However the stream is chunked: the events re-join to exactly the input, each is non-empty,
     * each but the last ends with a blank line, and they are the events a whole-stream reference
     * framer finds.
     */
    @FuzzTest
    void eventsRejoinToTheInputHoweverItIsChunked(FuzzedDataProvider data) {
        FuzzInput input = FuzzInput.of(data);
        byte[] stream = input.stream();
        List<byte[]> events = frameInChunks(stream, input);

        assertThat(concat(events)).as("events re-joined").isEqualTo(stream);
        List<byte[]> expected = referenceEvents(stream);
        assertThat(events).as("events").hasSameSizeAs(expected);
        for (int i = 0; i < events.size(); i++) {
            assertThat(events.get(i)).as("event %d", i).isNotEmpty().isEqualTo(expected.get(i));
            if (i < events.size() - 1) {
                assertThat(endsWithBlankLine(events.get(i))).as("event %d ends with a blank line", i).isTrue();
            }
        }
    }

    /** A sink that stops framing gets no further event, and the framer says it stopped. */
    @FuzzTest
    void aSinkThatStopsGetsNothingMore(FuzzedDataProvider data) {
        int stopAt = data.consumeInt(0, 32);
        byte[] stream = data.consumeRemainingAsBytes();
        SseFramer framer = new SseFramer();
        int[] seen = {0};
        int next = framer.frame(stream, 0, stream.length, true, (bytes, start, end) -> {
            assertThat(seen[0]).as("events after the sink stopped").isLessThanOrEqualTo(stopAt);
            return seen[0]++ < stopAt;
        });
        int total = referenceEvents(stream).size();
        if (total > stopAt) {
            assertThat(next).isEqualTo(-1);
            assertThat(seen[0]).isEqualTo(stopAt + 1);
        } else {
            assertThat(next).isEqualTo(stream.length);
            assertThat(seen[0]).isEqualTo(total);
        }
    }

    /**
     * Feeds the stream as the proxy's relay does: the unreported bytes stay in a buffer (here at a
     * fuzzed offset, after bytes that belong to nobody), new bytes are appended, and each call
     * frames from the first unreported byte.
     */
    static List<byte[]> frameInChunks(byte[] stream, FuzzInput input) {
        SseFramer framer = new SseFramer();
        List<byte[]> events = new ArrayList<>();
        byte[] pending = new byte[0];
        int position = 0;
        while (true) {
            int length = Math.min(stream.length - position, input.nextChunkLength());
            boolean endOfBody = position + length == stream.length;
            int offset = input.nextOffset();
            byte[] buffer = new byte[offset + pending.length + length + input.nextOffset()];
            Arrays.fill(buffer, (byte) '\n'); // bytes outside [start, end) that a framer must not look at
            System.arraycopy(pending, 0, buffer, offset, pending.length);
            System.arraycopy(stream, position, buffer, offset + pending.length, length);
            position += length;
            int end = offset + pending.length + length;
            int[] expectedStart = {offset};
            int next = framer.frame(buffer, offset, end, endOfBody, (bytes, start, stop) -> {
                assertThat(start).as("event start").isEqualTo(expectedStart[0]);
                assertThat(stop).as("event end").isGreaterThan(start).isLessThanOrEqualTo(end);
                events.add(Arrays.copyOfRange(bytes, start, stop));
                expectedStart[0] = stop;
                return true;
            });
            assertThat(next).as("first unreported byte").isEqualTo(expectedStart[0]);
            pending = Arrays.copyOfRange(buffer, next, end);
            if (endOfBody) {
                assertThat(pending).as("unreported bytes at the end of the body").isEmpty();
                return events;
            }
        }
    }

    /**
     * The SSE framing rule applied to the whole stream at once: lines end with CRLF, LF or CR; an
     * empty line ends an event; whatever is left at the end of the body is a last event.
     */
    static List<byte[]> referenceEvents(byte[] stream) {
        List<byte[]> events = new ArrayList<>();
        int eventStart = 0;
        int lineStart = 0;
        int i = 0;
        while (i < stream.length) {
            byte b = stream[i];
            if (b != '\n' && b != '\r') {
                i++;
                continue;
            }
            int lineEnd = i + 1;
            if (b == '\r' && lineEnd < stream.length && stream[lineEnd] == '\n') {
                lineEnd++;
            }
            if (i == lineStart) {
                events.add(Arrays.copyOfRange(stream, eventStart, lineEnd));
                eventStart = lineEnd;
            }
            lineStart = lineEnd;
            i = lineEnd;
        }
        if (eventStart < stream.length) {
            events.add(Arrays.copyOfRange(stream, eventStart, stream.length));
        }
        return events;
    }

    private static boolean endsWithBlankLine(byte[] event) {
        int n = event.length;
        // The last line is empty: its terminator follows another terminator (or is the whole event).
        int terminator = n >= 2 && event[n - 2] == '\r' && event[n - 1] == '\n' ? 2 : 1;
        byte last = event[n - 1];
        if (last != '\n' && last != '\r') {
            return false;
        }
        int before = n - terminator - 1;
        return before < 0 || event[before] == '\n' || event[before] == '\r';
    }

    static byte[] concat(List<byte[]> parts) {
        int total = 0;
        for (byte[] part : parts) {
            total += part.length;
        }
        byte[] all = new byte[total];
        int at = 0;
        for (byte[] part : parts) {
            System.arraycopy(part, 0, all, at, part.length);
            at += part.length;
        }
        return all;
    }
}
