package dev.tollgate.metering.stream;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tollgate.config.EndpointFamily;
import dev.tollgate.metering.TokenCounter;
import dev.tollgate.metering.Usage;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The service tier that served a request, read where each provider writes it, streamed and not, with the counts unchanged. */
class ServiceTierExtractionTest {

    private static StreamMeter metered(EndpointFamily family, String stream) {
        StreamMeter meter = StreamMeter.forFamily(family, TokenCounter.forEncoding("o200k_base"), true);
        StreamMeterTest.feed(meter, StreamMeterTest.blocks(stream.getBytes(StandardCharsets.UTF_8)));
        return meter;
    }

    private static String resource(String name) {
        return new String(StreamMeterTest.resource(name), StandardCharsets.UTF_8);
    }

    @Test
    void openAiChatChunksNameTheTierAtTheirTopLevelAndTheLastOneWins() {
        String recorded = resource("openai-chat.sse");
        assertThat(metered(EndpointFamily.CHAT_COMPLETIONS, recorded).usage().serviceTier()).isEqualTo("default");
        StreamMeter flex = metered(EndpointFamily.CHAT_COMPLETIONS, recorded.replace("\"service_tier\":\"default\"", "\"service_tier\":\"flex\""));
        assertThat(flex.usage().serviceTier()).isEqualTo("flex");
        assertThat(flex.usage().toUsage(EndpointFamily.CHAT_COMPLETIONS, 0, 0)).isEqualTo(new Usage(93, 1_024, 0, 13, 0));
        int last = recorded.lastIndexOf("\"service_tier\":\"default\"");
        String changedAtTheEnd = recorded.substring(0, last) + "\"service_tier\":\"priority\"" + recorded.substring(last + "\"service_tier\":\"default\"".length());
        assertThat(metered(EndpointFamily.CHAT_COMPLETIONS, changedAtTheEnd).usage().serviceTier()).isEqualTo("priority");
        String absent = recorded.replace("\"service_tier\":\"default\",", "");
        assertThat(metered(EndpointFamily.CHAT_COMPLETIONS, absent).usage().serviceTier()).isNull();
        assertThat(metered(EndpointFamily.CHAT_COMPLETIONS, recorded.replace("\"service_tier\":\"default\"", "\"service_tier\":null")).usage().serviceTier())
                .isNull();
    }

    @Test
    void openAiResponsesStreamsNameTheTierOnTheResponseAndTheTerminalOneWins() {
        String recorded = resource("openai-responses.sse");
        assertThat(metered(EndpointFamily.RESPONSES, recorded).usage().serviceTier()).isNull();
        String[] tiers = {"auto", "auto", "flex"}; // response.created, response.in_progress, response.completed
        StringBuilder stream = new StringBuilder(recorded);
        int from = 0;
        for (String tier : tiers) {
            int at = stream.indexOf("\"store\":true", from);
            String field = "\"service_tier\":\"" + tier + "\",";
            stream.insert(at, field);
            from = at + field.length() + 1;
        }
        StreamMeter meter = metered(EndpointFamily.RESPONSES, stream.toString());
        assertThat(meter.usage().serviceTier()).isEqualTo("flex");
        assertThat(meter.usage().toUsage(EndpointFamily.RESPONSES, 0, 0)).isEqualTo(metered(EndpointFamily.RESPONSES, recorded).usage()
                .toUsage(EndpointFamily.RESPONSES, 0, 0));
        // Cut before the terminal event: the tier response.created named.
        String cut = stream.substring(0, stream.indexOf("event: response.in_progress"));
        assertThat(metered(EndpointFamily.RESPONSES, cut).usage().serviceTier()).isEqualTo("auto");
    }

    @Test
    void anthropicStreamsNameTheTierInsideTheUsage() {
        String recorded = resource("anthropic-messages.sse");
        assertThat(metered(EndpointFamily.MESSAGES, recorded).usage().serviceTier()).isEqualTo("standard");
        StreamMeter priority = metered(EndpointFamily.MESSAGES, recorded.replace("\"service_tier\":\"standard\"", "\"service_tier\":\"priority\""));
        assertThat(priority.usage().serviceTier()).isEqualTo("priority");
        assertThat(priority.usage().toUsage(EndpointFamily.MESSAGES, 0, 0))
                .isEqualTo(metered(EndpointFamily.MESSAGES, recorded).usage().toUsage(EndpointFamily.MESSAGES, 0, 0));
        assertThat(priority.usage().malformed()).isFalse();
    }

    @Test
    void jsonBodiesNameTheTierAtTheTopLevelOrInsideTheUsage() {
        JsonUsageScanner chat = JsonUsageScannerTest.scan(JsonUsageScannerTest.CHAT.replace("\"default\"", "\"flex\"").getBytes(StandardCharsets.UTF_8),
                new int[] {10, 400, 500});
        assertThat(chat.usage().serviceTier()).isEqualTo("flex");
        assertThat(chat.usageMalformed()).isFalse();
        assertThat(JsonUsageScannerTest.scan(JsonUsageScannerTest.MESSAGES.getBytes(StandardCharsets.UTF_8), new int[] {7}).usage().serviceTier())
                .isEqualTo("standard");
        JsonUsageScanner messages = JsonUsageScannerTest.scan(JsonUsageScannerTest.MESSAGES.replace("\"standard\"", "\"batch\"")
                .getBytes(StandardCharsets.UTF_8), new int[0]);
        assertThat(messages.usage().serviceTier()).isEqualTo("batch");
        assertThat(messages.usageMalformed()).isFalse();
        assertThat(messages.usage().toUsage(EndpointFamily.MESSAGES, 0, 0)).isEqualTo(new Usage(25, 3_400, 1_200, 40, 0));
        String responses = JsonUsageScannerTest.RESPONSES.replace("\"store\":true", "\"service_tier\":\"priority\",\"store\":true");
        assertThat(JsonUsageScannerTest.scan(responses.getBytes(StandardCharsets.UTF_8), new int[] {3}).usage().serviceTier()).isEqualTo("priority");
        assertThat(JsonUsageScannerTest.scan(JsonUsageScannerTest.RESPONSES.getBytes(StandardCharsets.UTF_8), new int[0]).usage().serviceTier()).isNull();
        // A service_tier anywhere else (inside a choice, in metadata) is not the response's.
        String nested = "{\"choices\":[{\"service_tier\":\"priority\"}],\"metadata\":{\"service_tier\":\"priority\"},"
                + "\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1,\"total_tokens\":2}}";
        assertThat(JsonUsageScannerTest.scan(nested.getBytes(StandardCharsets.UTF_8), new int[0]).usage().serviceTier()).isNull();
        assertThat(List.of(chat.usage().toUsage(EndpointFamily.CHAT_COMPLETIONS, 0, 0))).containsExactly(new Usage(93, 1_024, 0, 13, 0));
    }
}
