package dev.tollgate.metering.stream;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tollgate.metering.Seeds;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class SseEventTest {
    private static final byte[] DONE = "[DONE]".getBytes(StandardCharsets.US_ASCII);

    static SseEvent parse(String block) {
        byte[] bytes = block.getBytes(StandardCharsets.UTF_8);
        return new SseEvent().parse(bytes, 0, bytes.length);
    }

    @Test
    void singleDataLineWithLf() {
        SseEvent event = parse("data: {\"a\":1}\n\n");
        assertThat(event.name()).isNull();
        assertThat(event.hasData()).isTrue();
        assertThat(event.dataAsString()).isEqualTo("{\"a\":1}");
        assertThat(event.dataOffset()).as("referenced where it lies, after 'data: '").isEqualTo(6);
        assertThat(event.dataLength()).isEqualTo(7);
    }

    @Test
    void crlfAndLoneCr() {
        SseEvent crlf = parse("event: message_start\r\ndata: {\"type\":\"message_start\"}\r\n\r\n");
        assertThat(crlf.name()).isEqualTo("message_start");
        assertThat(crlf.dataAsString()).isEqualTo("{\"type\":\"message_start\"}");
        SseEvent cr = parse("event: ping\rdata: x\r\r");
        assertThat(cr.name()).isEqualTo("ping");
        assertThat(cr.dataAsString()).isEqualTo("x");
    }

    @Test
    void noTrailingNewline() {
        SseEvent event = parse("event: e\ndata: last");
        assertThat(event.name()).isEqualTo("e");
        assertThat(event.dataAsString()).isEqualTo("last");
    }

    @Test
    void multiLineDataIsJoinedWithNewlines() {
        SseEvent event = parse("data: first\ndata: second\r\ndata:third\ndata\n\n");
        assertThat(event.dataAsString()).isEqualTo("first\nsecond\nthird\n");
        assertThat(event.hasData()).isTrue();
    }

    @Test
    void longMultiLineDataGrowsTheJoinBuffer() {
        String a = "a".repeat(300);
        String b = "b".repeat(700);
        String c = "c".repeat(5_000);
        SseEvent event = parse("data: " + a + "\ndata: " + b + "\ndata: " + c + "\n\n");
        assertThat(event.dataAsString()).isEqualTo(a + "\n" + b + "\n" + c);
        assertThat(event.dataLength()).isEqualTo(a.length() + b.length() + c.length() + 2);
    }

    @Test
    void commentsAndUnknownFieldsAreIgnored() {
        SseEvent keepAlive = parse(": keep-alive\n\n");
        assertThat(keepAlive.hasData()).isFalse();
        assertThat(keepAlive.name()).isNull();
        assertThat(keepAlive.dataAsString()).isNull();
        assertThat(keepAlive.dataEquals(DONE)).isFalse();

        SseEvent mixed = parse(": OPENROUTER PROCESSING\nid: 7\nretry: 1000\nevent: delta\n:data: not this\ndata: {}\ndatum: nor this\n\n");
        assertThat(mixed.name()).isEqualTo("delta");
        assertThat(mixed.dataAsString()).isEqualTo("{}");
    }

    @Test
    void onlyOneSpaceAfterTheColonIsDropped() {
        assertThat(parse("data:x\n").dataAsString()).isEqualTo("x");
        assertThat(parse("data:  x\n").dataAsString()).isEqualTo(" x");
        assertThat(parse("data: \n").dataAsString()).isEmpty();
        assertThat(parse("data\n").dataAsString()).as("a field with no colon has an empty value").isEmpty();
        assertThat(parse("event:e\n").name()).isEqualTo("e");
        assertThat(parse("data: a: b\n").dataAsString()).isEqualTo("a: b");
    }

    @Test
    void doneMarker() {
        assertThat(parse("data: [DONE]\n\n").dataEquals(DONE)).isTrue();
        assertThat(parse("data: [DONE]\r\n\r\n").dataEquals(DONE)).isTrue();
        assertThat(parse("data: [DONE] \n\n").dataEquals(DONE)).isFalse();
        assertThat(parse("data: [DONE\n\n").dataEquals(DONE)).isFalse();
        assertThat(parse("data: {\"x\":1}\n\n").dataEquals(DONE)).isFalse();
    }

    @Test
    void utf8Data() {
        assertThat(parse("data: {\"text\":\"héllo 世界 🙂\"}\n\n").dataAsString()).isEqualTo("{\"text\":\"héllo 世界 🙂\"}");
    }

    @Test
    void parsesASliceOfALargerBuffer() {
        byte[] buffer = "data: one\n\nevent: two\ndata: 2\n\ndata: three\n\n".getBytes(StandardCharsets.UTF_8);
        SseEvent event = new SseEvent();
        event.parse(buffer, 11, 20);
        assertThat(event.name()).isEqualTo("two");
        assertThat(event.dataAsString()).isEqualTo("2");
        assertThat(event.data()).isSameAs(buffer);
        assertThat(event.dataOffset()).isEqualTo(28);
    }

    @Test
    void reuseForgetsTheLastEvent() {
        SseEvent event = new SseEvent();
        byte[] first = "event: a\ndata: 1\ndata: 2\n\n".getBytes(StandardCharsets.UTF_8);
        event.parse(first, 0, first.length);
        assertThat(event.dataAsString()).isEqualTo("1\n2");
        byte[] second = "data: only\n\n".getBytes(StandardCharsets.UTF_8);
        event.parse(second, 0, second.length);
        assertThat(event.name()).isNull();
        assertThat(event.dataAsString()).isEqualTo("only");
        byte[] third = ": nothing\n\n".getBytes(StandardCharsets.UTF_8);
        event.parse(third, 0, third.length);
        assertThat(event.hasData()).isFalse();
        byte[] fourth = "data: x\ndata: y\ndata: z\n\n".getBytes(StandardCharsets.UTF_8);
        event.parse(fourth, 0, fourth.length);
        assertThat(event.dataAsString()).isEqualTo("x\ny\nz");
    }

    /** The SSE specification's field rules, written as plainly as possible, to compare against. */
    private static String[] reference(String block) {
        String name = null;
        StringBuilder data = null;
        for (String line : block.split("\r\n|\r|\n", -1)) {
            if (line.isEmpty() || line.startsWith(":")) {
                continue;
            }
            int colon = line.indexOf(':');
            String field = colon < 0 ? line : line.substring(0, colon);
            String value = colon < 0 ? "" : line.substring(colon + 1);
            if (value.startsWith(" ")) {
                value = value.substring(1);
            }
            if (field.equals("event")) {
                name = value;
            } else if (field.equals("data")) {
                data = data == null ? new StringBuilder(value) : data.append('\n').append(value);
            }
        }
        return new String[] {name, data == null ? null : data.toString()};
    }

    @Test
    void randomBlocksMatchTheReference() {
        long seed = Seeds.seed("SseEventTest.randomBlocksMatchTheReference");
        SplittableRandom random = new SplittableRandom(seed);
        String[] endings = {"\n", "\r\n", "\r"};
        String[] values = {"", " ", "x", " {\"a\": \"b: c\"}", "  two spaces", "héllo 🙂", "[DONE]", "data: inner", ":colon"};
        SseEvent event = new SseEvent();
        for (int i = 0; i < 20_000; i++) {
            List<String> lines = new ArrayList<>();
            int count = random.nextInt(0, 8);
            for (int l = 0; l < count; l++) {
                String value = values[random.nextInt(values.length)];
                if (random.nextInt(4) == 0) {
                    value = value + "z".repeat(random.nextInt(0, 600));
                }
                lines.add(switch (random.nextInt(6)) {
                    case 0 -> "event:" + value;
                    case 1 -> ": comment" + value;
                    case 2 -> "id:" + value;
                    case 3 -> "data";
                    default -> "data:" + value;
                });
            }
            StringBuilder block = new StringBuilder();
            for (String line : lines) {
                block.append(line).append(endings[random.nextInt(endings.length)]);
            }
            byte[] prefix = new byte[random.nextInt(0, 4)];
            byte[] body = block.toString().getBytes(StandardCharsets.UTF_8);
            byte[] buffer = new byte[prefix.length + body.length + 3];
            System.arraycopy(body, 0, buffer, prefix.length, body.length);
            buffer[buffer.length - 1] = 'X'; // outside the slice: must not be read
            event.parse(buffer, prefix.length, body.length);
            String[] expected = reference(block.toString());
            String at = "seed " + seed + " case " + i + ": " + block.toString().replace("\r", "\\r").replace("\n", "\\n");
            assertThat(event.name()).as(at).isEqualTo(expected[0]);
            assertThat(event.dataAsString()).as(at).isEqualTo(expected[1]);
            assertThat(event.hasData()).as(at).isEqualTo(expected[1] != null);
        }
    }
}
