package dev.tollgate.bench.load;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ResponseCheckTest {

    /** Feeds {@code text} in pieces of {@code piece} bytes, each with its own time; returns the event times seen. */
    private static List<Long> feed(ResponseCheck check, String text, int piece) {
        List<Long> events = new ArrayList<>();
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        for (int at = 0, time = 0; at < bytes.length; at += piece, time++) {
            ByteBuf chunk = Unpooled.wrappedBuffer(bytes, at, Math.min(piece, bytes.length - at));
            check.feed(chunk, time, events::add);
            chunk.release();
        }
        return events;
    }

    private static String jsonReason(String body, int piece) {
        ResponseCheck check = new ResponseCheck();
        check.reset(false);
        feed(check, body, piece);
        return check.incompleteReason();
    }

    @Test
    void aWholeJsonBodyWithUsageIsComplete() {
        String body = "{\"a\":\"x}{\\\"\",\"b\":[1,{\"c\":2}],\"usage\":{\"prompt_tokens\":3}}\n";
        for (int piece = 1; piece <= body.length(); piece++) {
            assertThat(jsonReason(body, piece)).as("piece %d", piece).isNull();
        }
    }

    @Test
    void aCutOrMalformedJsonBodyIsNot() {
        assertThat(jsonReason("{\"usage\":{\"prompt_tokens\":3}", 4)).isEqualTo("JSON body not complete");
        assertThat(jsonReason("{\"usage\":\"}", 4)).isEqualTo("JSON body not complete");
        assertThat(jsonReason("{\"usage\":1}}", 4)).isEqualTo("bytes after the JSON value");
        assertThat(jsonReason("{\"usage\":1} x", 4)).isEqualTo("bytes after the JSON value");
        assertThat(jsonReason("{\"choices\":[]}", 4)).isEqualTo("JSON body without usage");
        assertThat(jsonReason("", 4)).isEqualTo("JSON body not complete");
    }

    @Test
    void anOpenAiStreamIsCompleteWithItsDoneEvent() {
        String stream = "data: {\"a\":1}\n\ndata: {\"usage\":{}}\n\ndata: [DONE]\n\n";
        for (int piece = 1; piece <= stream.length(); piece++) {
            ResponseCheck check = new ResponseCheck();
            check.reset(true);
            List<Long> events = feed(check, stream, piece);
            assertThat(check.incompleteReason()).as("piece %d", piece).isNull();
            assertThat(check.events()).isEqualTo(3);
            assertThat(events).hasSize(3).isSorted();
        }
    }

    @Test
    void anAnthropicStreamIsCompleteWithMessageStopAndCrLfLinesWork() {
        String stream = "event: message_start\r\ndata: {}\r\n\r\nevent: ping\ndata: {}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
        ResponseCheck check = new ResponseCheck();
        check.reset(true);
        feed(check, stream, 7);
        assertThat(check.incompleteReason()).isNull();
        assertThat(check.events()).isEqualTo(3);
    }

    @Test
    void aStreamWithoutItsTerminalEventOrWithAnErrorIsNot() {
        ResponseCheck check = new ResponseCheck();
        check.reset(true);
        feed(check, "data: {\"a\":1}\n\ndata: [DONE]\n", 5);
        assertThat(check.incompleteReason()).isEqualTo("stream ended without its terminal event after 1 events");

        check.reset(true);
        feed(check, "event: error\ndata: {\"type\":\"error\"}\n\nevent: message_stop\ndata: {}\n\n", 5);
        assertThat(check.incompleteReason()).isEqualTo("stream carried an error event");

        check.reset(true);
        feed(check, "data: [DONE]\n\ndata: {\"late\":1}\n\n", 5);
        assertThat(check.incompleteReason()).isEqualTo("data after the terminal event");

        // A long line is fine: only its first bytes are looked at.
        check.reset(true);
        feed(check, "data: {\"text\":\"" + "x".repeat(5000) + "\"}\n\ndata: [DONE]\n\n", 100);
        assertThat(check.incompleteReason()).isNull();
        assertThat(check.events()).isEqualTo(2);
    }
}
