package dev.tollgate.proxy.sim;

import com.knuddels.jtokkit.api.Encoding;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The rules the proxy's metering is checked against: generated words, encodings, directives and caps. */
class TokenAccountingTest {

    @Test
    void everyGeneratedWordIsExactlyOneTokenInBothEncodings() {
        for (String word : SimTokens.OUTPUT_WORDS) {
            assertThat(SimTokens.O200K.countTokensOrdinary(word)).as("o200k '%s'", word).isEqualTo(1);
            assertThat(SimTokens.CL100K.countTokensOrdinary(word)).as("cl100k '%s'", word).isEqualTo(1);
        }
    }

    @Test
    void generatedTextIsTheWordsInOrderCycling() {
        int words = SimTokens.OUTPUT_WORDS.size();
        assertThat(SimTokens.text(3)).isEqualTo(" alpha beta gamma");
        assertThat(SimTokens.word(words)).isEqualTo(SimTokens.word(0));
        assertThat(SimTokens.text(words + 1)).endsWith(SimTokens.word(0));
        assertThat(SimTokens.text(0)).isEmpty();
    }

    @ParameterizedTest
    @CsvSource({
            "gpt-4o, o200k_base", "gpt-4o-mini, o200k_base", "gpt-4.1-nano, o200k_base", "gpt-5, o200k_base",
            "o1-preview, o200k_base", "o3-mini, o200k_base", "o4-mini, o200k_base",
            "gpt-4-turbo, cl100k_base", "gpt-3.5-turbo, cl100k_base", "claude-sonnet-4-5, cl100k_base",
            "text-embedding-3-small, cl100k_base"})
    void encodingFollowsTheModelFamily(String model, String encoding) {
        assertThat(SimTokens.encodingFor(model).getName()).isEqualTo(encoding);
    }

    @Test
    void promptRuleIsTextPlusThreePerMessagePlusThree() {
        Encoding encoding = SimTokens.O200K;
        Prompt prompt = new Prompt().message().text("hello there").message().text("general kenobi");
        int text = encoding.countTokensOrdinary("hello there") + encoding.countTokensOrdinary("general kenobi");
        assertThat(prompt.conversationTokens(encoding)).isEqualTo(text + 2 * 3 + 3);
        assertThat(prompt.textTokens(encoding)).isEqualTo(text);
        assertThat(new Prompt().conversationTokens(encoding)).isEqualTo(3);
        // A special-token lookalike in user text is text, not a special token (and does not throw).
        assertThat(new Prompt().text("<|endoftext|>").textTokens(encoding)).isGreaterThan(1);
    }

    @Test
    void directivesAreParsedAnywhereInAnyPiece() {
        Directives d = Directives.parse(List.of("before [sim:events=7] middle [sim:delay-ms=15]",
                "[sim:first-byte-ms=20][sim:cached=4][sim:cache-write=5][sim:reasoning=6]",
                "[sim:no-usage] [sim:error=503] [sim:fail-after=2] [sim:ignore-max-tokens] [sim:bogus=1]"));
        assertThat(d).isEqualTo(new Directives(7, 15, 20, 4, 5, 6, true, 503, true, Directives.UsageFault.NONE,
                new WireFaults(false, -1, -1, 2, -1, -1, -1, false, WireFaults.RequestIdFault.NONE)));
        assertThat(Directives.parse(List.of("plain text [sim:events=]"))).isEqualTo(Directives.NONE);
        assertThat(Directives.parse(List.of("[sim:events=1] then [sim:events=2]")).events()).isEqualTo(2);
        assertThat(Directives.parse(List.of("[sim:error=42]")).hasError()).isFalse();
        assertThat(Directives.parse(List.of("[sim:usage=beyond-long]")).usageFault()).isEqualTo(Directives.UsageFault.BEYOND_LONG);
        assertThat(Directives.parse(List.of("[sim:usage=fraction] [sim:events=3]")).events()).isEqualTo(3);
        assertThat(Directives.parse(List.of("[sim:usage=bogus]")).usageFault()).isEqualTo(Directives.UsageFault.NONE);
        assertThat(Directives.parse(List.of("[sim:usage=missing]")).usageFault()).isEqualTo(Directives.UsageFault.MISSING);
        assertThat(Directives.parse(List.of("[sim:usage=repeated]")).usageFault()).isEqualTo(Directives.UsageFault.REPEATED);
    }

    @Test
    void wireFaultDirectivesAreParsed() {
        WireFaults wire = Directives.parse(List.of("[sim:hang=before-head] [sim:hang-after=3] [sim:reset-after=4] [sim:fail-after=5]",
                "[sim:error-event=6] [sim:truncate-event=7] [sim:malformed-event=8] [sim:error-body] [sim:request-id=hostile]")).wire();
        assertThat(wire).isEqualTo(new WireFaults(true, 3, 4, 5, 6, 7, 8, true, WireFaults.RequestIdFault.HOSTILE));
        assertThat(Directives.parse(List.of("[sim:hang=forever] [sim:request-id=bogus] [sim:truncate-event=0]")).wire())
                .as("unknown values and event 0 (events count from 1) mean no fault").isEqualTo(WireFaults.NONE);
        assertThat(Directives.parse(List.of("[sim:request-id=long]")).wire().requestId()).isEqualTo(WireFaults.RequestIdFault.LONG);
    }

    @ParameterizedTest(name = "events={0} reasoning={1} cap={2} ignore={3} -> content={4} reasoning={5} truncated={6}")
    @CsvSource({
            // events, reasoning, cap, ignoreCap, content, reasoningOut, truncated
            "10, 0, -1, false, 10, 0, false",
            "10, 0, 10, false, 10, 0, false",
            "10, 0, 4, false, 4, 0, true",
            "10, 3, 8, false, 5, 3, true",
            "10, 9, 8, false, 0, 8, true",
            "0, 0, 0, false, 0, 0, false",
            "5, 0, 0, false, 0, 0, true",
            "10, 3, 4, true, 10, 3, false"})
    void planningCapsReasoningFirstThenContent(int events, int reasoning, int cap, boolean ignoreCap,
                                               int content, int reasoningOut, boolean truncated) {
        Directives directives = new Directives(events, -1, -1, 0, 0, reasoning, false, -1, ignoreCap, Directives.UsageFault.NONE, WireFaults.NONE);
        Turn turn = Turn.plan("gpt-4o", directives, 10, 24, cap);
        assertThat(turn.contentTokens()).isEqualTo(content);
        assertThat(turn.reasoningTokens()).isEqualTo(reasoningOut);
        assertThat(turn.truncated()).isEqualTo(truncated);
        assertThat(turn.outputTokens()).isEqualTo(content + reasoningOut);
        if (cap >= 0 && !ignoreCap) {
            assertThat(turn.outputTokens()).isLessThanOrEqualTo(cap);
        }
    }

    @Test
    void cacheDirectivesShapeEachProvidersInputCount() {
        Directives directives = new Directives(1, -1, -1, 30, 20, 0, false, -1, false, Directives.UsageFault.NONE, WireFaults.NONE);
        Turn turn = Turn.plan("claude-haiku-4-5", directives, 100, 24, Turn.NO_CAP);
        assertThat(turn.openAiPromptTokens()).isEqualTo(100);
        assertThat(turn.anthropicInputTokens()).isEqualTo(50);

        Turn small = Turn.plan("claude-haiku-4-5", directives, 10, 24, Turn.NO_CAP);
        assertThat(small.anthropicInputTokens()).isZero();
        assertThat(small.openAiPromptTokens()).isEqualTo(30);
    }
}
