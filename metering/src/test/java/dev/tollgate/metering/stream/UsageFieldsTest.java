package dev.tollgate.metering.stream;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tollgate.config.EndpointFamily;
import dev.tollgate.metering.Usage;
import org.junit.jupiter.api.Test;

class UsageFieldsTest {

    private static UsageFields fields(Object... pathsAndValues) {
        UsageFields fields = new UsageFields();
        for (int i = 0; i < pathsAndValues.length; i += 2) {
            fields.set((String) pathsAndValues[i], ((Number) pathsAndValues[i + 1]).longValue());
        }
        return fields;
    }

    @Test
    void openAiChat() {
        UsageFields f = fields("prompt_tokens", 1_000, "completion_tokens", 50, "total_tokens", 1_050,
                "prompt_tokens_details.cached_tokens", 200, "completion_tokens_details.reasoning_tokens", 10,
                "prompt_tokens_details.audio_tokens", 0, "completion_tokens_details.accepted_prediction_tokens", 3);
        assertThat(f.any()).isTrue();
        assertThat(f.complete(EndpointFamily.CHAT_COMPLETIONS)).isTrue();
        assertThat(f.promptKnown(EndpointFamily.CHAT_COMPLETIONS)).isTrue();
        assertThat(f.outputTokens(EndpointFamily.CHAT_COMPLETIONS)).isEqualTo(50);
        assertThat(f.toUsage(EndpointFamily.CHAT_COMPLETIONS, 0, 0)).isEqualTo(new Usage(800, 200, 0, 50, 10));
        assertThat(f.toUsage(EndpointFamily.COMPLETIONS, 0, 0)).isEqualTo(new Usage(800, 200, 0, 50, 10));
    }

    @Test
    void geminiThinkingCountedOnlyInTheTotal() {
        UsageFields f = fields("prompt_tokens", 100, "completion_tokens", 20, "total_tokens", 170);
        assertThat(f.toUsage(EndpointFamily.CHAT_COMPLETIONS, 0, 0)).isEqualTo(new Usage(100, 0, 0, 70, 0));
    }

    @Test
    void deepSeekPromptCacheHitTokens() {
        // DeepSeek: prompt_tokens = hit + miss, the hits reported as prompt_cache_hit_tokens.
        UsageFields f = fields("prompt_tokens", 1_000, "prompt_cache_hit_tokens", 300, "prompt_cache_miss_tokens", 700,
                "completion_tokens", 20, "total_tokens", 1_020);
        assertThat(f.toUsage(EndpointFamily.CHAT_COMPLETIONS, 0, 0)).isEqualTo(new Usage(700, 300, 0, 20, 0));
        // Where both are present the standard field wins; a zero there is still an answer.
        f.set("prompt_tokens_details.cached_tokens", 0);
        assertThat(f.toUsage(EndpointFamily.CHAT_COMPLETIONS, 0, 0)).isEqualTo(new Usage(1_000, 0, 0, 20, 0));
    }

    @Test
    void embeddings() {
        UsageFields f = fields("prompt_tokens", 8, "total_tokens", 8);
        assertThat(f.complete(EndpointFamily.EMBEDDINGS)).isTrue();
        assertThat(f.outputTokens(EndpointFamily.EMBEDDINGS)).isZero();
        assertThat(f.toUsage(EndpointFamily.EMBEDDINGS, 0, 0)).isEqualTo(new Usage(8, 0, 0, 0, 0));
        assertThat(f.toUsage(EndpointFamily.EMBEDDINGS, 0, 99)).as("an embedding generates nothing").isEqualTo(new Usage(8, 0, 0, 0, 0));
        assertThat(new UsageFields().toUsage(EndpointFamily.EMBEDDINGS, 42, 0)).isEqualTo(new Usage(42, 0, 0, 0, 0));
    }

    @Test
    void responses() {
        UsageFields f = fields("input_tokens", 1_000, "input_tokens_details.cached_tokens", 400, "output_tokens", 300,
                "output_tokens_details.reasoning_tokens", 200, "total_tokens", 1_300);
        assertThat(f.complete(EndpointFamily.RESPONSES)).isTrue();
        assertThat(f.toUsage(EndpointFamily.RESPONSES, 0, 0)).isEqualTo(new Usage(600, 400, 0, 300, 200));
        assertThat(f.complete(EndpointFamily.CHAT_COMPLETIONS)).as("chat field names differ").isFalse();
    }

    @Test
    void anthropicMessages() {
        UsageFields f = fields("input_tokens", 25, "cache_creation_input_tokens", 1_200, "cache_read_input_tokens", 3_400, "output_tokens", 1);
        assertThat(f.promptKnown(EndpointFamily.MESSAGES)).isTrue();
        assertThat(f.complete(EndpointFamily.MESSAGES)).isTrue();
        // message_delta's cumulative usage: the latest value of each field wins.
        f.set("output_tokens", 15);
        assertThat(f.toUsage(EndpointFamily.MESSAGES, 0, 0)).isEqualTo(new Usage(25, 3_400, 1_200, 15, 0));
    }

    @Test
    void unknownPromptAndOutputFloor() {
        UsageFields none = new UsageFields();
        assertThat(none.any()).isFalse();
        for (EndpointFamily family : new EndpointFamily[] {EndpointFamily.CHAT_COMPLETIONS, EndpointFamily.RESPONSES, EndpointFamily.MESSAGES}) {
            assertThat(none.promptKnown(family)).isFalse();
            assertThat(none.complete(family)).isFalse();
            assertThat(none.outputTokens(family)).isEqualTo(-1);
            assertThat(none.toUsage(family, 120, 33)).as(family.name()).isEqualTo(new Usage(120, 0, 0, 33, 0));
        }
        // A stream cut after Anthropic's message_start: the prompt is known, the output is the inline count.
        UsageFields started = fields("input_tokens", 25, "cache_read_input_tokens", 100, "output_tokens", 1);
        assertThat(started.toUsage(EndpointFamily.MESSAGES, 999, 40)).isEqualTo(new Usage(25, 100, 0, 40, 0));
        // A reported output above the inline count stands.
        UsageFields reported = fields("prompt_tokens", 10, "completion_tokens", 80);
        assertThat(reported.toUsage(EndpointFamily.CHAT_COMPLETIONS, 999, 40)).isEqualTo(new Usage(10, 0, 0, 80, 0));
    }

    @Test
    void negativeAndUnknownFieldsAreIgnored() {
        UsageFields f = fields("prompt_tokens", -5, "whatever", 7, "prompt_tokens_details.whatever", 9);
        assertThat(f.any()).isFalse();
        assertThat(f.promptKnown(EndpointFamily.CHAT_COMPLETIONS)).isFalse();
        assertThat(f.malformedCount()).as("the negative count is malformed, unknown fields are not").isEqualTo(1);
        f.reject("whatever");
        assertThat(f.malformedCount()).isEqualTo(1);
    }

    @Test
    void aMalformedLaterValueUnreportsAnEarlierOne() {
        // Anthropic's message_start reports output_tokens 1 as a placeholder; a malformed message_delta
        // count must not leave it standing as the bill.
        UsageFields f = fields("input_tokens", 25, "output_tokens", 1);
        assertThat(f.malformed()).isFalse();
        f.reject("output_tokens");
        assertThat(f.malformed()).isTrue();
        assertThat(f.complete(EndpointFamily.MESSAGES)).isFalse();
        assertThat(f.toUsage(EndpointFamily.MESSAGES, 0, 40)).isEqualTo(new Usage(25, 0, 0, 40, 0));
        f.set("output_tokens", -3);
        assertThat(f.malformedCount()).isEqualTo(2);
        f.rejectReport();
        assertThat(f.malformedCount()).isEqualTo(3);
    }
}
