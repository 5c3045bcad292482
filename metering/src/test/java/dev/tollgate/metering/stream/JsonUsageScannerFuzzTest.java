package dev.tollgate.metering.stream;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.tollgate.config.EndpointFamily;
import dev.tollgate.metering.TokenCounter;
import dev.tollgate.metering.Usage;

/**
 * Fuzzes the usage scanner of non-streamed bodies with the bytes a provider sends, cut where the network cuts
 * them. Plain test runs replay {@code JsonUsageScannerFuzzTestInputs/<method>/}; {@code bin/fuzz} fuzzes.
 *
 * <p>Input layout: the last 8 bytes seed the cuts (see {@link FuzzInput}), the rest is the body.
 */
class JsonUsageScannerFuzzTest {
    private static final TokenCounter COUNTER = TokenCounter.forEncoding("o200k_base");

    /**
     * Whatever the body: feeding it never throws, what it reads does not depend on where the body was cut, and
     * the usage it gives for every endpoint family is never negative, whatever a provider wrote in it.
     */
    @FuzzTest
    void usageIsTheSameHoweverTheBodyIsCutAndNeverNegative(FuzzedDataProvider data) {
        FuzzInput input = FuzzInput.of(data);
        byte[] body = input.stream();
        JsonUsageScanner whole = new JsonUsageScanner(COUNTER);
        whole.feed(body, 0, body.length);
        whole.end();
        JsonUsageScanner cut = new JsonUsageScanner(COUNTER);
        for (int from = 0; from < body.length; ) {
            int length = Math.min(body.length - from, Math.max(1, input.nextChunkLength()));
            int offset = input.nextOffset();
            byte[] piece = new byte[offset + length + 3];
            System.arraycopy(body, from, piece, offset, length);
            cut.feed(piece, offset, length);
            from += length;
        }
        cut.end();
        for (EndpointFamily family : EndpointFamily.values()) {
            assertThat(cut.usage().complete(family)).as(family + ": reported").isEqualTo(whole.usage().complete(family));
            Usage usage = cut.usage().toUsage(family, 7, cut.outputTokensCounted());
            assertThat(usage).as(family.name()).isEqualTo(whole.usage().toUsage(family, 7, whole.outputTokensCounted()));
            assertThat(usage.promptTokens()).isNotNegative();
            assertThat(usage.outputTokens()).isNotNegative();
        }
        assertThat(cut.errorBody()).isEqualTo(whole.errorBody());
        assertThat(cut.outputTokensCounted()).isEqualTo(whole.outputTokensCounted()).isNotNegative();
    }
}
