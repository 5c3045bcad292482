package dev.tollgate.metering.stream;

import static org.assertj.core.api.Assertions.assertThat;

import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;
import dev.tollgate.config.EndpointFamily;
import dev.tollgate.metering.TokenCounter;
import dev.tollgate.metering.Usage;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Streams with broken events and provider errors in the middle: each is a counted, typed outcome,
 * the stream goes on being metered, and what is logged says nothing of the content.
 */
class MalformedStreamTest {
    private static final Encoding O200K = Encodings.newDefaultEncodingRegistry().getEncoding(EncodingType.O200K_BASE);

    private static byte[] bytes(String stream) {
        return stream.getBytes(StandardCharsets.UTF_8);
    }

    private static List<StreamMeter.Verdict> feed(StreamMeter meter, String stream) {
        return StreamMeterTest.feed(meter, StreamMeterTest.blocks(bytes(stream)));
    }

    @Test
    void malformedEventsAreCountedForwardedAndTheRestIsStillMetered() {
        StreamMeter meter = StreamMeter.forFamily(EndpointFamily.CHAT_COMPLETIONS, TokenCounter.forEncoding("o200k_base"), true);
        List<StreamMeter.Verdict> verdicts = feed(meter, ""
                + "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n"
                + "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo \\uZZZZ\"}}]}\n\n"
                + "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\" there\"}}]} trailing\n\n"
                + "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\" world\"}}]}\n\n"
                + "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":4,\"total_tokens\":9}}\n\n"
                + "data: [DONE]\n\n");
        assertThat(verdicts).hasSize(6).containsOnly(StreamMeter.Verdict.FORWARD);
        assertThat(meter.malformedEvents()).as("the bad escape and the trailing bytes; [DONE] is no JSON and no fault").isEqualTo(2);
        // The bad escape stops that event's reading; the one with trailing bytes was read whole before them.
        assertThat(meter.outputTokensCounted()).isEqualTo(O200K.countTokens("Hel") + O200K.countTokens(" there") + O200K.countTokens(" world"));
        assertThat(meter.completed()).isTrue();
        assertThat(meter.usage().toUsage(EndpointFamily.CHAT_COMPLETIONS, 0, 0)).isEqualTo(new Usage(5, 0, 0, 4, 0));
    }

    @Test
    void everyFamilyCountsABadEscapeAndDoesNotThrow() {
        String[] streams = {
            "data: {\"choices\":[{\"delta\":{\"content\":\"\\uZZZZ\"}}]}\n\n",
            "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"\\uZZZZ\"}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"\\uZZZZ\"}}\n\n",
        };
        EndpointFamily[] families = {EndpointFamily.CHAT_COMPLETIONS, EndpointFamily.RESPONSES, EndpointFamily.MESSAGES};
        for (int i = 0; i < families.length; i++) {
            StreamMeter meter = StreamMeter.forFamily(families[i], TokenCounter.forEncoding("o200k_base"), false);
            assertThat(feed(meter, streams[i])).as(families[i].name()).containsOnly(StreamMeter.Verdict.FORWARD);
            assertThat(meter.malformedEvents()).as(families[i].name()).isEqualTo(1);
        }
    }

    @Test
    void aMeterThatFailsOnAnEventCountsItAndMetersTheNext() {
        StreamMeter meter = new FailingMeter();
        assertThat(feed(meter, "data: {\"boom\":1}\n\ndata: {\"ok\":1}\n\ndata: {\"boom\":2}\n\n")).containsOnly(StreamMeter.Verdict.FORWARD);
        assertThat(meter.malformedEvents()).isEqualTo(2);
        assertThat(meter.outputTokensCounted()).as("the event between was metered").isEqualTo(1);
    }

    @Test
    void theFirstMalformedEventIsLoggedOnceWithoutItsContent() {
        String secret = "sk-proj-PROMPT-SECRET-1234";
        String stream = "data: {\"choices\":[{\"delta\":{\"content\":\"" + secret + " \\uZZZZ\"}}]}\n\n"
                + "data: {\"choices\":[{\"delta\":{\"content\":\"" + secret + "\"}}]} " + secret + "\n\n"
                + "data: {\"boom\":\"" + secret + "\"}\n\n";
        PrintStream original = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        String log;
        try {
            System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
            StreamMeter first = StreamMeter.forFamily(EndpointFamily.CHAT_COMPLETIONS, TokenCounter.forEncoding("o200k_base"), false);
            feed(first, stream);
            assertThat(first.malformedEvents()).isEqualTo(2);
            FailingMeter second = new FailingMeter();
            feed(second, "data: {\"boom\":\"" + secret + "\"}\n\n" + stream);
            assertThat(second.malformedEvents()).isEqualTo(4);
        } finally {
            System.setErr(original);
            log = captured.toString(StandardCharsets.UTF_8);
        }
        assertThat(log.lines().filter(line -> line.contains("malformed event"))).as(log).hasSize(2); // once per stream
        assertThat(log).contains("WARN").contains("CHAT_COMPLETIONS").contains("IllegalStateException");
        assertThat(log).doesNotContain(secret).doesNotContain("PROMPT");
    }

    // ------------------------------------------------------------------ provider errors

    @Test
    void anOpenAiChatErrorChunkIsATypedProviderError() {
        StreamMeter meter = StreamMeter.forFamily(EndpointFamily.CHAT_COMPLETIONS, TokenCounter.forEncoding("o200k_base"), false);
        feed(meter, "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}],\"error\":null}\n\n");
        assertThat(meter.providerError()).as("\"error\": null is no error").isNull();
        feed(meter, "data: {\"error\":{\"message\":\"Rate limit reached\",\"type\":\"requests\",\"code\":\"rate_limit_exceeded\"}}\n\n"
                + "data: {\"error\":{\"message\":\"a second one\",\"type\":\"server_error\"}}\n\ndata: [DONE]\n\n");
        assertThat(meter.providerError()).as("the first error is kept").isEqualTo(new ProviderError("requests", "Rate limit reached"));
        assertThat(meter.finished()).isTrue();
        assertThat(meter.completed()).as("[DONE] after an error is not a completion").isFalse();
        StreamMeter codeOnly = StreamMeter.forFamily(EndpointFamily.CHAT_COMPLETIONS, TokenCounter.forEncoding("o200k_base"), false);
        feed(codeOnly, "data: {\"error\":{\"code\":\"context_length_exceeded\"}}\n\n");
        assertThat(codeOnly.providerError()).isEqualTo(new ProviderError("context_length_exceeded", "upstream error"));
        StreamMeter bare = StreamMeter.forFamily(EndpointFamily.CHAT_COMPLETIONS, TokenCounter.forEncoding("o200k_base"), false);
        feed(bare, "data: {\"error\":\"upstream timed out\"}\n\n");
        assertThat(bare.providerError()).isEqualTo(new ProviderError("error", "upstream timed out"));
    }

    @Test
    void aResponsesFailedEventIsTerminalButNotCompleted() {
        StreamMeter meter = StreamMeter.forFamily(EndpointFamily.RESPONSES, TokenCounter.forEncoding("o200k_base"), false);
        feed(meter, "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"Hello\"}\n\n"
                + "event: response.failed\ndata: {\"type\":\"response.failed\",\"sequence_number\":3,\"response\":{\"id\":\"resp_1\","
                + "\"status\":\"failed\",\"error\":{\"code\":\"server_error\",\"message\":\"The model failed\"},"
                + "\"usage\":{\"input_tokens\":10,\"output_tokens\":1,\"total_tokens\":11}}}\n\n");
        assertThat(meter.finished()).isTrue();
        assertThat(meter.completed()).isFalse();
        assertThat(meter.providerError()).isEqualTo(new ProviderError("server_error", "The model failed"));
        assertThat(meter.usageFinal()).isTrue();
        assertThat(meter.malformedEvents()).isZero();

        StreamMeter silent = StreamMeter.forFamily(EndpointFamily.RESPONSES, TokenCounter.forEncoding("o200k_base"), false);
        feed(silent, "event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":{\"error\":null}}\n\n");
        assertThat(silent.providerError()).isEqualTo(new ProviderError("response_failed", null));

        StreamMeter completed = StreamMeter.forFamily(EndpointFamily.RESPONSES, TokenCounter.forEncoding("o200k_base"), false);
        feed(completed, "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"error\":null,"
                + "\"usage\":{\"input_tokens\":10,\"output_tokens\":1}}}\n\n");
        assertThat(completed.completed()).isTrue();
        assertThat(completed.providerError()).isNull();
    }

    @Test
    void anAnthropicErrorEventWithoutAnErrorObjectIsStillAnError() {
        StreamMeter meter = StreamMeter.forFamily(EndpointFamily.MESSAGES, TokenCounter.forEncoding("cl100k_base"), false);
        feed(meter, "event: error\ndata: {\"type\":\"error\"}\n\n");
        assertThat(meter.providerError()).isEqualTo(new ProviderError("error", "upstream error"));
        StreamMeter typed = StreamMeter.forFamily(EndpointFamily.MESSAGES, TokenCounter.forEncoding("cl100k_base"), false);
        feed(typed, "data: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"Internal server error\"}}\n\n");
        assertThat(typed.providerError()).isEqualTo(new ProviderError("api_error", "Internal server error"));
    }

    @Test
    void aHostileErrorIsBounded() {
        StreamMeter meter = StreamMeter.forFamily(EndpointFamily.CHAT_COMPLETIONS, TokenCounter.forEncoding("o200k_base"), false);
        String longType = "x".repeat(500) + "\\n<script>";
        String longMessage = "\\ud83d\\ude00".repeat(2_000);
        feed(meter, "data: {\"error\":{\"type\":\"a\\r\\nb " + longType + "\",\"message\":\"" + longMessage + "\"}}\n\n");
        ProviderError error = meter.providerError();
        assertThat(error.type()).startsWith("a__b_x").hasSize(ProviderError.MAX_TYPE_CHARS).matches("[A-Za-z0-9_.:-]+");
        assertThat(error.message().length()).isLessThanOrEqualTo(ProviderError.MAX_MESSAGE_CHARS);
        assertThat(Character.isHighSurrogate(error.message().charAt(error.message().length() - 1))).as("no half a pair").isFalse();
        assertThat(new ProviderError(null, "")).isEqualTo(new ProviderError("error", "upstream error"));
    }

    /** A meter with a fault of its own: it throws on events with a {@code boom} field. */
    private static final class FailingMeter extends StreamMeter {
        FailingMeter() {
            super(EndpointFamily.CHAT_COMPLETIONS, TokenCounter.forEncoding("o200k_base"), false);
        }

        @Override
        protected Verdict meter(SseEvent event) {
            json.next();
            json.next();
            if (json.nameEquals(name("boom"))) {
                throw new IllegalStateException("boom " + new String(event.data(), event.dataOffset(), event.dataLength(), StandardCharsets.UTF_8));
            }
            outputTokensCounted++;
            json.next();
            json.next();
            return Verdict.FORWARD;
        }

        @Override
        public byte[] cutAtCapEvents(Usage billed) {
            return new byte[0];
        }
    }
}
