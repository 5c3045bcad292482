package dev.tollgate.metering;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** Each token in exactly one priced kind, whichever way the provider counts. */
class UsageTest {

    @Test
    void openAiPromptTokensIncludeTheCachedOnes() {
        // prompt_tokens 1000 of which 200 cached; completion 50 of which 10 reasoning.
        Usage usage = Usage.fromOpenAi(1_000, 200, 50, 1_050, 10);
        assertThat(usage).isEqualTo(new Usage(800, 200, 0, 50, 10));
        assertThat(usage.promptTokens()).isEqualTo(1_000);
    }

    @Test
    void reasoningIsInsideOutputNotAddedToIt() {
        Usage usage = Usage.fromOpenAi(100, 0, 500, 600, 450);
        assertThat(usage.outputTokens()).isEqualTo(500);
        assertThat(usage.reasoningTokens()).isEqualTo(450);
    }

    @Test
    void aTotalAbovePromptPlusCompletionRaisesTheOutput() {
        // Gemini's OpenAI-compatible endpoint leaves thinking out of completion_tokens but counts it in the total.
        assertThat(Usage.fromOpenAi(100, 0, 20, 150, 0)).isEqualTo(new Usage(100, 0, 0, 50, 0));
        assertThat(Usage.fromOpenAi(100, 40, 20, 150, 0)).isEqualTo(new Usage(60, 40, 0, 50, 0));
        // Equal or below: the completion count stands.
        assertThat(Usage.fromOpenAi(100, 0, 20, 120, 0).outputTokens()).isEqualTo(20);
        assertThat(Usage.fromOpenAi(100, 0, 20, 110, 0).outputTokens()).isEqualTo(20);
        // Absent (-1): ignored.
        assertThat(Usage.fromOpenAi(100, 0, 20, -1, 0).outputTokens()).isEqualTo(20);
    }

    @Test
    void openAiOddInputsAreClamped() {
        assertThat(Usage.fromOpenAi(100, 300, 5, -1, 0)).as("cached never exceeds the prompt").isEqualTo(new Usage(0, 100, 0, 5, 0));
        assertThat(Usage.fromOpenAi(-1, -1, -1, -1, -1)).isEqualTo(Usage.ZERO);
        assertThat(Usage.fromOpenAi(10, -3, 4, -1, -2)).isEqualTo(new Usage(10, 0, 0, 4, 0));
    }

    @Test
    void anthropicInputTokensExcludeCacheReadsAndWrites() {
        Usage usage = Usage.fromAnthropic(25, 3_400, 1_200, 15);
        assertThat(usage).isEqualTo(new Usage(25, 3_400, 1_200, 15, 0));
        assertThat(usage.promptTokens()).isEqualTo(4_625);
        assertThat(Usage.fromAnthropic(-1, -1, -1, -1)).isEqualTo(Usage.ZERO);
    }

    @Test
    void negativeCountsAreRefused() {
        assertThatThrownBy(() -> new Usage(-1, 0, 0, 0, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Usage(0, -1, 0, 0, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Usage(0, 0, -1, 0, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Usage(0, 0, 0, -1, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Usage(0, 0, 0, 0, -1)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void sumsOfHugeCountsSaturateInsteadOfOverflowing() {
        long max = Long.MAX_VALUE;
        assertThat(new Usage(max, max, max, 0, 0).promptTokens()).isEqualTo(max);
        assertThat(new Usage(max, 0, 0, max, 0).totalTokens()).isEqualTo(max);
        assertThat(new Usage(1, 2, 3, 4, 0).totalTokens()).isEqualTo(10);
        // prompt + completion would overflow; a total that cannot exceed it leaves the completion count.
        assertThat(Usage.fromOpenAi(max, 0, 5, max, 0)).isEqualTo(new Usage(max, 0, 0, 5, 0));
        assertThat(Usage.fromOpenAi(max - 1, 0, max, max, 0)).isEqualTo(new Usage(max - 1, 0, 0, max, 0));
        assertThat(Usage.fromOpenAi(5, 0, 1, max, 0).outputTokens()).isEqualTo(max - 5);
        assertThat(Usage.saturatedSum(max, 1)).isEqualTo(max);
        assertThat(Usage.saturatedSum(2, 3)).isEqualTo(5);
    }
}
