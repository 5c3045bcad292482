package dev.tollgate.metering;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** A provider's report beyond what the request could have used is billed at the bound, never above it. */
class UsageBoundsTest {

    @Test
    void aReportWithinTheBoundsIsBilledAsReported() {
        UsageBounds bounds = UsageBounds.of(1_000, 256, 1);
        Usage reported = new Usage(700, 200, 100, 256, 40);
        assertThat(bounds.apply(reported)).isEqualTo(new UsageBounds.Bounded(reported, false));
    }

    @Test
    void absurdOutputForASmallCapIsBilledAtTheCap() {
        // The report that debited a whole balance: 1e12 output tokens for max_tokens 256.
        UsageBounds.Bounded bounded = UsageBounds.of(1_000, 256, 1).apply(new Usage(12, 0, 0, 1_000_000_000_000L, 0));
        assertThat(bounded.drifted()).isTrue();
        assertThat(bounded.billed()).isEqualTo(new Usage(12, 0, 0, 256, 0));
    }

    @Test
    void choicesMultiplyTheOutputBoundAndTheProductSaturates() {
        assertThat(UsageBounds.of(10, 100, 3).outputTokens()).isEqualTo(300);
        assertThat(UsageBounds.of(10, Long.MAX_VALUE / 2, 3).outputTokens()).isEqualTo(Long.MAX_VALUE);
        assertThat(UsageBounds.of(-1, -5, 0)).isEqualTo(new UsageBounds(0, 0));
    }

    @Test
    void aPromptBeyondItsBoundIsCutCheapestReadingFirst() {
        UsageBounds.Bounded bounded = UsageBounds.of(100, 50, 1).apply(new Usage(500, 60, 70, 10, 0));
        assertThat(bounded.drifted()).isTrue();
        assertThat(bounded.billed()).isEqualTo(new Usage(0, 60, 40, 10, 0));
        // Reasoning is part of the output and is cut with it.
        assertThat(UsageBounds.of(100, 50, 1).apply(new Usage(1, 0, 0, 900, 800)).billed()).isEqualTo(new Usage(1, 0, 0, 50, 50));
    }

    @Test
    void aPromptWhoseKindsOverflowWhenSummedIsOutOfBounds() {
        UsageBounds.Bounded bounded = UsageBounds.of(100, 50, 1).apply(new Usage(Long.MAX_VALUE, Long.MAX_VALUE, 0, 0, 0));
        assertThat(bounded.drifted()).isTrue();
        assertThat(bounded.billed()).isEqualTo(new Usage(0, 100, 0, 0, 0));
    }

    @Test
    void randomReportsAreNeverBilledBeyondTheBoundsOrTheReport() {
        long seed = Seeds.seed("UsageBoundsTest.randomReportsAreNeverBilledBeyondTheBoundsOrTheReport");
        SplittableRandom random = new SplittableRandom(seed);
        for (int i = 0; i < 100_000; i++) {
            UsageBounds bounds = UsageBounds.of(count(random), count(random), random.nextInt(1, 5));
            Usage reported = new Usage(count(random), count(random), count(random), count(random), 0);
            UsageBounds.Bounded bounded = bounds.apply(reported);
            Usage billed = bounded.billed();
            String at = "seed " + seed + " case " + i + ": " + reported + " within " + bounds;
            assertThat(billed.inputTokens()).as(at).isLessThanOrEqualTo(reported.inputTokens());
            assertThat(billed.cacheReadTokens()).as(at).isLessThanOrEqualTo(reported.cacheReadTokens());
            assertThat(billed.cacheWriteTokens()).as(at).isLessThanOrEqualTo(reported.cacheWriteTokens());
            assertThat(billed.outputTokens()).as(at).isLessThanOrEqualTo(Math.min(reported.outputTokens(), bounds.outputTokens()));
            assertThat(java.math.BigInteger.valueOf(billed.inputTokens()).add(java.math.BigInteger.valueOf(billed.cacheReadTokens()))
                    .add(java.math.BigInteger.valueOf(billed.cacheWriteTokens()))).as(at)
                    .isLessThanOrEqualTo(java.math.BigInteger.valueOf(bounds.promptTokens()));
            assertThat(bounded.drifted()).as(at).isEqualTo(!billed.equals(reported));
        }
    }

    private static long count(SplittableRandom random) {
        return switch (random.nextInt(4)) {
            case 0 -> 0;
            case 1 -> random.nextLong(0, 5_000);
            case 2 -> random.nextLong(0, 1_000_000_000_000L);
            default -> random.nextLong(0, Long.MAX_VALUE);
        };
    }

    @Test
    void serverToolCallsBeyondTheirBoundAreCutToItAndAnUndeclaredToolIsDropped() {
        UsageBounds bounds = new UsageBounds(1_000, 100).withServerToolCalls(java.util.Map.of("web_search", 3L, "code_execution", 0L));
        Usage within = new Usage(10, 0, 0, 5, 0).withServerToolCalls(java.util.Map.of("web_search", 3L, "web_fetch", 9L));
        assertThat(bounds.apply(within)).isEqualTo(new UsageBounds.Bounded(within, false)); // web_fetch has no bound: it costs nothing
        Usage beyond = new Usage(10, 0, 0, 5, 0).withServerToolCalls(java.util.Map.of("web_search", 7L, "code_execution", 2L, "web_fetch", 9L));
        assertThat(bounds.apply(beyond)).isEqualTo(new UsageBounds.Bounded(
                new Usage(10, 0, 0, 5, 0).withServerToolCalls(java.util.Map.of("web_search", 3L, "web_fetch", 9L)), true));
        // Cut tokens keep their parts within what is left of each kind, and the calls are bounded as well.
        Usage tokensBeyond = new Usage(2_000, 0, 50, 500, 0).withParts(40, 1_500, 0, 450, 0).withServerToolCalls(java.util.Map.of("web_search", 4L));
        Usage billed = bounds.apply(tokensBeyond).billed();
        assertThat(billed).isEqualTo(new Usage(950, 0, 50, 100, 0).withParts(40, 950, 0, 100, 0).withServerToolCalls(java.util.Map.of("web_search", 3L)));
    }
}
