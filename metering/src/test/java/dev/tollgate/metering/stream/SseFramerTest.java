package dev.tollgate.metering.stream;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class SseFramerTest {

    /** Feeds {@code stream} in random chunks the way the proxy does (unreported bytes kept, new bytes appended). */
    private static List<String> frame(String stream, SplittableRandom random) {
        byte[] all = stream.getBytes(StandardCharsets.UTF_8);
        SseFramer framer = new SseFramer();
        List<String> events = new ArrayList<>();
        ByteArrayOutputStream pending = new ByteArrayOutputStream();
        int position = 0;
        while (position <= all.length) {
            int length = Math.min(all.length - position, random.nextInt(12));
            pending.write(all, position, length);
            position += length;
            boolean endOfBody = position == all.length;
            byte[] bytes = pending.toByteArray();
            int next = framer.frame(bytes, 0, bytes.length, endOfBody, (b, start, end) -> {
                events.add(new String(b, start, end - start, StandardCharsets.UTF_8));
                return true;
            });
            pending.reset();
            pending.write(bytes, next, bytes.length - next);
            if (endOfBody) {
                break;
            }
        }
        return events;
    }

    @Test
    void reportsTheSameEventsHoweverTheStreamIsChunked() {
        long seed = Long.getLong("tollgate.seed", 20261127L);
        System.out.println("SseFramerTest seed=" + seed);
        SplittableRandom random = new SplittableRandom(seed);
        for (String newline : new String[] {"\n", "\r\n", "\r"}) {
            String one = "event: a" + newline + "data: {\"x\":1}" + newline + newline;
            String two = ": comment" + newline + "data: two" + newline + "data: lines" + newline + newline;
            String last = "data: [DONE]" + newline + newline;
            for (int round = 0; round < 200; round++) {
                assertThat(frame(one + two + last, random)).containsExactly(one, two, last);
            }
        }
    }

    @Test
    void theEndOfTheBodyCompletesAnUnterminatedLastEvent() {
        assertThat(frame("data: a\n\ndata: b", new SplittableRandom(1))).containsExactly("data: a\n\n", "data: b");
        assertThat(frame("data: a\r", new SplittableRandom(1))).containsExactly("data: a\r");
    }

    @Test
    void aSinkThatStopsEndsFraming() {
        byte[] bytes = "data: a\n\ndata: b\n\n".getBytes(StandardCharsets.UTF_8);
        List<String> seen = new ArrayList<>();
        int next = new SseFramer().frame(bytes, 0, bytes.length, false, (b, start, end) -> {
            seen.add(new String(b, start, end - start, StandardCharsets.UTF_8));
            return false;
        });
        assertThat(next).isEqualTo(-1);
        assertThat(seen).containsExactly("data: a\n\n");
    }
}
