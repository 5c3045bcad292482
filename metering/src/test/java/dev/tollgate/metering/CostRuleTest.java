package dev.tollgate.metering;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tollgate.config.ModelRow;
import java.math.BigInteger;
import java.math.RoundingMode;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Invariant 5: integer money, one rounding rule (sum every kind of token, then round up once per request). */
class CostRuleTest {
    private static final BigInteger MILLION = BigInteger.valueOf(1_000_000);
    private static final BigInteger LONG_MAX = BigInteger.valueOf(Long.MAX_VALUE);

    @Test
    void handWorkedExamples() {
        ModelRow mini = TestRows.gpt4oMini(); // 150000 in, 75000 cached, 150000 write, 600000 out
        // 1000 * 0.15 + 500 * 0.60 = 150 + 300 = 450 micros, exactly.
        assertThat(CostRule.costMicros(mini, new Usage(1_000, 0, 0, 500, 0))).isEqualTo(450);
        // 1 * 0.15 + 1 * 0.075 + 1 * 0.60 = 0.825 micros: one micro, not three.
        assertThat(CostRule.costMicros(mini, new Usage(1, 1, 0, 1, 0))).isEqualTo(1);
        // 2000 cached tokens: 2000 * 0.075 = 150 micros exactly; plus 7 input = 1.05 -> 151.05 -> 152.
        assertThat(CostRule.costMicros(mini, new Usage(7, 2_000, 0, 0, 0))).isEqualTo(152);
        assertThat(CostRule.costMicros(mini, Usage.ZERO)).isZero();
        // Reasoning tokens are informational: already inside output, never billed again.
        assertThat(CostRule.costMicros(mini, new Usage(1_000, 0, 0, 500, 400))).isEqualTo(450);

        ModelRow haiku = TestRows.claudeHaiku(); // 1 in, 0.10 read, 1.25 write, 5 out (micros per token)
        // 100 * 1 + 2000 * 0.1 + 300 * 1.25 + 50 * 5 = 100 + 200 + 375 + 250 = 925.
        assertThat(CostRule.costMicros(haiku, new Usage(100, 2_000, 300, 50, 0))).isEqualTo(925);
        // 3 cache writes = 3.75 micros -> 4.
        assertThat(CostRule.costMicros(haiku, new Usage(0, 0, 3, 0, 0))).isEqualTo(4);
    }

    /** A long prompt reprices the whole request, the threshold counting every prompt token: at it, base; one above, all at the tier. */
    @Test
    void aPromptAboveATiersThresholdBillsTheWholeRequestAtTheTier() {
        ModelRow sonnet = TestRows.claudeSonnetTiered();
        // 199,000 cache reads + 999 writes + 1 input = 200,000: at the threshold, the row's own prices.
        // 1 * 3 + 199,000 * 0.3 + 999 * 3.75 + 100 * 15 = 3 + 59,700 + 3,746.25 + 1,500 = 64,949.25 -> 64,950
        assertThat(CostRule.costMicros(sonnet, new Usage(1, 199_000, 999, 100, 0))).isEqualTo(64_950);
        // One prompt token more, and every token is priced at the tier:
        // 2 * 6 + 199,000 * 0.6 + 999 * 7.5 + 100 * 22.5 = 12 + 119,400 + 7,492.5 + 2,250 = 129,154.5 -> 129,155
        assertThat(CostRule.costMicros(sonnet, new Usage(2, 199_000, 999, 100, 0))).isEqualTo(129_155);
        // One below: 199,999 plain input tokens at $3 = 599,997 micros, plus nothing else.
        assertThat(CostRule.costMicros(sonnet, new Usage(199_999, 0, 0, 0, 0))).isEqualTo(599_997);
        assertThat(sonnet.tierFor(200_000)).isNull();
        assertThat(sonnet.tierFor(200_001)).isEqualTo(sonnet.tiers().getFirst());
        // The worst case of a prompt that may reach the tier takes its prices, of one that cannot the row's.
        assertThat(sonnet.maxInputMicrosPerMillionTokens(200_000)).isEqualTo(3_750_000);
        assertThat(sonnet.maxInputMicrosPerMillionTokens(200_001)).isEqualTo(7_500_000);
        assertThat(sonnet.maxOutputMicrosPerMillionTokens(200_001)).isEqualTo(22_500_000);
        assertThat(CostRule.promptTokens(new Usage(Long.MAX_VALUE, 5, 5, 0, 0))).isEqualTo(Long.MAX_VALUE);
    }

    /** Random usages under a row with two tiers: the cost is the exact rational at the tier of the whole prompt, rounded up. */
    @Test
    void randomUsagesAcrossTiersCostTheExactRationalOfTheirTier() {
        long seed = Seeds.seed("CostRuleTest.randomUsagesAcrossTiers");
        SplittableRandom random = new SplittableRandom(seed);
        ModelRow row = new ModelRow("p", "m", java.util.Set.of(dev.tollgate.config.EndpointFamily.CHAT_COMPLETIONS), "cl100k_base", 1_000_000, 100_000,
                1_000_000, 100_000, 1_250_000, 4_000_000, java.time.LocalDate.of(2026, 1, 1), java.net.URI.create("https://example.com"),
                java.util.List.of(new dev.tollgate.config.PriceTier(1_000, 2_000_000, 200_000, 2_500_000, 6_000_000),
                        new dev.tollgate.config.PriceTier(5_000, 3_000_000, 300_000, 3_750_000, 9_000_000)));
        for (int i = 0; i < 10_000; i++) {
            Usage usage = new Usage(random.nextLong(0, 4_000), random.nextLong(0, 3_000), random.nextLong(0, 2_000), random.nextLong(0, 10_000), 0);
            long prompt = usage.inputTokens() + usage.cacheReadTokens() + usage.cacheWriteTokens();
            long[] prices = prompt > 5_000 ? new long[] {3_000_000, 300_000, 3_750_000, 9_000_000}
                    : prompt > 1_000 ? new long[] {2_000_000, 200_000, 2_500_000, 6_000_000} : new long[] {1_000_000, 100_000, 1_250_000, 4_000_000};
            java.math.BigInteger exact = java.math.BigInteger.valueOf(usage.inputTokens() * prices[0] + usage.cacheReadTokens() * prices[1]
                    + usage.cacheWriteTokens() * prices[2] + usage.outputTokens() * prices[3]);
            java.math.BigInteger[] qr = exact.divideAndRemainder(java.math.BigInteger.valueOf(1_000_000));
            long expected = qr[0].longValue() + (qr[1].signum() > 0 ? 1 : 0);
            assertThat(CostRule.costMicros(row, usage)).as("seed %d, %s", seed, usage).isEqualTo(expected);
        }
    }

    @Test
    void roundsOnceAfterSummingNeverPerKind() {
        ModelRow row = TestRows.row("p", "m", java.util.Set.of(dev.tollgate.config.EndpointFamily.CHAT_COMPLETIONS), "cl100k_base",
                1_000, 100, 333_333, 333_333, 333_333, 1);
        // Each kind alone is a third of a micro (rounds up to 1); together 0.999999 + 1e-6 = 1 micro exactly.
        assertThat(CostRule.costMicros(row, new Usage(1, 1, 1, 1, 0))).isEqualTo(1);
        assertThat(CostRule.costMicros(1, 333_333)).isEqualTo(1);
        assertThat(CostRule.costMicros(3, 333_333)).isEqualTo(1);   // 0.999999
        assertThat(CostRule.costMicros(4, 250_000)).isEqualTo(1);   // exactly 1: not rounded to 2
        assertThat(CostRule.costMicros(5, 250_000)).isEqualTo(2);   // 1.25
        assertThat(CostRule.costMicros(0, 10_000_000_000L)).isZero();
        assertThat(CostRule.costMicros(1_000_000, 0)).isZero();
    }

    @Test
    void randomUsagesCostTheExactRationalRoundedUp() {
        long seed = Seeds.seed("CostRuleTest.randomUsagesCostTheExactRationalRoundedUp");
        SplittableRandom random = new SplittableRandom(seed);
        for (int i = 0; i < 200_000; i++) {
            long[] prices = new long[4];
            for (int k = 0; k < 4; k++) {
                prices[k] = switch (random.nextInt(4)) {
                    case 0 -> 0;
                    case 1 -> random.nextLong(1, 1_000);
                    case 2 -> random.nextLong(1, 100_000_000);
                    default -> random.nextLong(0, ModelRow.MAX_PRICE_MICROS_PER_MILLION_TOKENS + 1);
                };
            }
            long[] tokens = new long[4];
            for (int k = 0; k < 4; k++) {
                tokens[k] = random.nextBoolean() ? random.nextLong(0, 10_000) : random.nextLong(0, ModelRow.MAX_CONTEXT_WINDOW_TOKENS + 1);
            }
            ModelRow row = TestRows.row("p", "m", java.util.Set.of(dev.tollgate.config.EndpointFamily.CHAT_COMPLETIONS), "cl100k_base",
                    1_000, 100, prices[0], prices[1], prices[2], prices[3]);
            Usage usage = new Usage(tokens[0], tokens[1], tokens[2], tokens[3], 0);
            BigInteger exactNumerator = BigInteger.ZERO;
            long separatelyRounded = 0;
            for (int k = 0; k < 4; k++) {
                BigInteger part = BigInteger.valueOf(tokens[k]).multiply(BigInteger.valueOf(prices[k]));
                exactNumerator = exactNumerator.add(part);
                separatelyRounded += CostRule.costMicros(tokens[k], prices[k]);
            }
            long expected = new java.math.BigDecimal(exactNumerator).divide(new java.math.BigDecimal(MILLION), 0, RoundingMode.CEILING)
                    .longValueExact();
            long cost = CostRule.costMicros(row, usage);
            assertThat(cost).as("seed " + seed + " case " + i + ": " + usage + " at " + java.util.Arrays.toString(prices)).isEqualTo(expected);
            // Never more than a micro above the exact cost, and never more than rounding each kind on its own.
            assertThat(BigInteger.valueOf(cost).multiply(MILLION).subtract(exactNumerator)).isLessThan(MILLION).isNotNegative();
            assertThat(cost).isLessThanOrEqualTo(separatelyRounded);
        }
    }

    /** A row with every token class priced apart, a fee per web search and per request, and an image unit price. */
    private static ModelRow rowWithClasses(long[] kinds, java.util.Map<dev.tollgate.config.TokenClass, Long> classes, long searchMicros, long requestFee) {
        ModelRow base = TestRows.row("p", "m", java.util.Set.of(dev.tollgate.config.EndpointFamily.CHAT_COMPLETIONS), "cl100k_base",
                1_000, 100, kinds[0], kinds[1], kinds[2], kinds[3]);
        return new ModelRow(base.provider(), base.model(), base.endpoints(), base.encoding(), base.contextWindowTokens(), base.maxOutputTokens(),
                kinds[0], kinds[1], kinds[2], kinds[3], base.asOf(), base.source(), java.util.List.of(), java.util.List.of(), java.util.Map.of(), null,
                classes, java.util.Map.of("web_search", new dev.tollgate.config.ServerToolFee(searchMicros, 20)), requestFee,
                java.util.Map.of("image.1024x1024.high", 167_000L), null, null);
    }

    @Test
    void eachTokenClassIsPricedOnceAtItsOwnPriceAndTheFeesAreAddedAfterTheRounding() {
        java.util.Map<dev.tollgate.config.TokenClass, Long> classes = new java.util.EnumMap<>(dev.tollgate.config.TokenClass.class);
        classes.put(dev.tollgate.config.TokenClass.CACHE_WRITE_1H, 2_000_000L);
        classes.put(dev.tollgate.config.TokenClass.AUDIO_INPUT, 10_000_000L);
        classes.put(dev.tollgate.config.TokenClass.AUDIO_OUTPUT, 20_000_000L);
        classes.put(dev.tollgate.config.TokenClass.REASONING, 7_000_000L);
        ModelRow row = rowWithClasses(new long[] {1_000_000, 100_000, 1_250_000, 5_000_000}, classes, 10_000, 3);
        // 100 input of which 7 audio, 10 cache reads, 9 writes of which 4 one-hour, 50 output of which 6 audio and 11 reasoning;
        // 2 searches and 1 image.
        Usage usage = new Usage(100, 10, 9, 50, 11).withParts(4, 7, 0, 6, 0).withServerToolCalls(java.util.Map.of("web_search", 2L))
                .withUnits(java.util.Map.of("image.1024x1024.high", 1L));
        long numerator = 93 * 1_000_000L + 7 * 10_000_000L + 10 * 100_000L + 5 * 1_250_000L + 4 * 2_000_000L + 33 * 5_000_000L + 11 * 7_000_000L
                + 6 * 20_000_000L;
        assertThat(numerator).isEqualTo(540_250_000L);
        long fees = 2 * 10_000 + 167_000 + 3;
        assertThat(CostRule.costMicros(row, usage)).isEqualTo(541 + fees); // 540.25 rounded up once, then the whole fees
        assertThat(CostRule.tokensMicros(row, usage, 100)).isEqualTo(541);
        assertThat(CostRule.costMicros(row, usage, 50)).as("a tier's percent scales the tokens, not the fees").isEqualTo(271 + fees);
        // The same usage without the parts is priced at the kinds: the classes are what changed it.
        assertThat(CostRule.costMicros(row, usage.kinds())).isEqualTo(Math.ceilDiv(100 * 1_000_000L + 10 * 100_000L + 9 * 1_250_000L
                + 39 * 5_000_000L + 11 * 7_000_000L, 1_000_000L) + 3);
        // A tool or unit the row does not price costs nothing here (re-rating reports it).
        assertThat(CostRule.feesMicros(row, Usage.ZERO.withServerToolCalls(java.util.Map.of("code_execution", 9L)))).isEqualTo(3);
    }

    @Test
    void randomUsagesWithPartsCostTheExactRationalOfTheirClassesPlusTheFees() {
        long seed = Seeds.seed("CostRuleTest.randomUsagesWithPartsCostTheExactRationalOfTheirClassesPlusTheFees");
        SplittableRandom random = new SplittableRandom(seed);
        dev.tollgate.config.TokenClass[] all = dev.tollgate.config.TokenClass.values();
        for (int i = 0; i < 50_000; i++) {
            long[] kinds = new long[4];
            for (int k = 0; k < 4; k++) {
                kinds[k] = random.nextLong(0, random.nextBoolean() ? 10_000_000 : ModelRow.MAX_PRICE_MICROS_PER_MILLION_TOKENS + 1);
            }
            java.util.Map<dev.tollgate.config.TokenClass, Long> classes = new java.util.EnumMap<>(dev.tollgate.config.TokenClass.class);
            for (dev.tollgate.config.TokenClass tokenClass : all) {
                if (random.nextBoolean()) {
                    classes.put(tokenClass, random.nextLong(0, ModelRow.MAX_PRICE_MICROS_PER_MILLION_TOKENS + 1));
                }
            }
            long search = random.nextLong(0, 10_000_001);
            long requestFee = random.nextLong(0, 10_000_001);
            ModelRow row = rowWithClasses(kinds, classes, search, requestFee);
            long max = random.nextBoolean() ? 10_000 : ModelRow.MAX_CONTEXT_WINDOW_TOKENS;
            Usage usage = new Usage(random.nextLong(0, max + 1), random.nextLong(0, max + 1), random.nextLong(0, max + 1), random.nextLong(0, max + 1),
                    random.nextLong(0, max + 1)).withParts(random.nextLong(0, max + 1), random.nextLong(0, max + 1), random.nextLong(0, max + 1),
                    random.nextLong(0, max + 1), random.nextLong(0, max + 1));
            long searches = random.nextLong(0, 100);
            if (searches > 0) {
                usage = usage.withServerToolCalls(java.util.Map.of("web_search", searches));
            }
            // By hand: every token in exactly one class, each class at its own price or its kind's.
            long plainInput = usage.inputTokens() - usage.audioInputTokens() - usage.imageInputTokens();
            long otherOutput = usage.outputTokens() - usage.audioOutputTokens() - usage.imageOutputTokens();
            long reasoning = Math.min(usage.reasoningTokens(), otherOutput);
            long[][] terms = {
                {plainInput, kinds[0]},
                {usage.audioInputTokens(), classes.getOrDefault(dev.tollgate.config.TokenClass.AUDIO_INPUT, kinds[0])},
                {usage.imageInputTokens(), classes.getOrDefault(dev.tollgate.config.TokenClass.IMAGE_INPUT, kinds[0])},
                {usage.cacheReadTokens(), kinds[1]},
                {usage.cacheWriteTokens() - usage.cacheWrite1hTokens(), kinds[2]},
                {usage.cacheWrite1hTokens(), classes.getOrDefault(dev.tollgate.config.TokenClass.CACHE_WRITE_1H, kinds[2])},
                {otherOutput - reasoning, kinds[3]},
                {reasoning, classes.getOrDefault(dev.tollgate.config.TokenClass.REASONING, kinds[3])},
                {usage.audioOutputTokens(), classes.getOrDefault(dev.tollgate.config.TokenClass.AUDIO_OUTPUT, kinds[3])},
                {usage.imageOutputTokens(), classes.getOrDefault(dev.tollgate.config.TokenClass.IMAGE_OUTPUT, kinds[3])}};
            BigInteger numerator = BigInteger.ZERO;
            long tokens = 0;
            for (long[] term : terms) {
                numerator = numerator.add(BigInteger.valueOf(term[0]).multiply(BigInteger.valueOf(term[1])));
                tokens += term[0];
            }
            assertThat(tokens).as("each token in one class").isEqualTo(usage.promptTokens() + usage.outputTokens());
            BigInteger expected = new java.math.BigDecimal(numerator).divide(new java.math.BigDecimal(MILLION), 0, RoundingMode.CEILING).toBigInteger()
                    .add(BigInteger.valueOf(requestFee + searches * search));
            assertThat(CostRule.costMicros(row, usage)).as("seed %d case %d: %s at %s %s", seed, i, usage, java.util.Arrays.toString(kinds), classes)
                    .isEqualTo(expected.min(BigInteger.valueOf(Long.MAX_VALUE)).longValueExact());
        }
    }

    @Test
    void overflowSaturatesInsteadOfWrappingOrThrowing() {
        // A provider can report any count; the cost of an absurd one must still be a number, so the
        // request gets its outcome (usage bounds keep such counts from reaching here in the proxy).
        ModelRow dear = TestRows.row("p", "m", java.util.Set.of(dev.tollgate.config.EndpointFamily.CHAT_COMPLETIONS), "cl100k_base",
                1_000, 100, ModelRow.MAX_PRICE_MICROS_PER_MILLION_TOKENS, 1, 1, ModelRow.MAX_PRICE_MICROS_PER_MILLION_TOKENS);
        assertThat(CostRule.costMicros(dear, new Usage(Long.MAX_VALUE / 2, 0, 0, 0, 0))).isEqualTo(Long.MAX_VALUE);
        assertThat(CostRule.costMicros(dear, new Usage(Long.MAX_VALUE, Long.MAX_VALUE, Long.MAX_VALUE, Long.MAX_VALUE, 0))).isEqualTo(Long.MAX_VALUE);
        // Each product fits but their sum does not.
        long half = Long.MAX_VALUE / ModelRow.MAX_PRICE_MICROS_PER_MILLION_TOKENS;
        assertThat(CostRule.costMicros(dear, new Usage(half, 0, 0, half, 0))).isEqualTo(
                ceilDivMillion(BigInteger.valueOf(half).multiply(BigInteger.valueOf(2 * ModelRow.MAX_PRICE_MICROS_PER_MILLION_TOKENS))).longValueExact());
        assertThat(CostRule.costMicros(Long.MAX_VALUE, 2)).isEqualTo(ceilDivMillion(BigInteger.valueOf(Long.MAX_VALUE).shiftLeft(1)).longValueExact());
        // 1e14 output tokens: the numerator overflows a long, the cost in micros does not; it is exact.
        long tokens = 100_000_000_000_000L;
        assertThat(CostRule.costMicros(dear, new Usage(0, 0, 0, tokens, 0)))
                .isEqualTo(BigInteger.valueOf(tokens).multiply(BigInteger.valueOf(ModelRow.MAX_PRICE_MICROS_PER_MILLION_TOKENS)).divide(MILLION).longValueExact());
        // Beyond even that, the cost saturates at the largest amount.
        assertThat(CostRule.costMicros(Long.MAX_VALUE, ModelRow.MAX_PRICE_MICROS_PER_MILLION_TOKENS)).isEqualTo(Long.MAX_VALUE);
        // The largest catalog-legal request fits: a full context window at the highest legal price, both ways.
        long window = ModelRow.MAX_CONTEXT_WINDOW_TOKENS;
        assertThat(CostRule.costMicros(dear, new Usage(window, 0, 0, window, 0))).isEqualTo(2 * window * 10_000L);
    }

    @Test
    void tokensAffordableEdges() {
        assertThat(CostRule.tokensAffordable(0, 600_000)).isZero();
        assertThat(CostRule.tokensAffordable(-5, 600_000)).isZero();
        assertThat(CostRule.tokensAffordable(1, 0)).isEqualTo(Long.MAX_VALUE);
        assertThat(CostRule.tokensAffordable(450, 600_000)).isEqualTo(750);
        assertThat(CostRule.tokensAffordable(1, 600_000)).isEqualTo(1);      // 1.666 tokens -> 1
        assertThat(CostRule.tokensAffordable(1, 1_000_001)).isZero();       // one token costs more than a micro
        assertThat(CostRule.tokensAffordable(Long.MAX_VALUE, 1)).isEqualTo(Long.MAX_VALUE);
    }

    @Test
    void tokensAffordableIsExactAgainstBigInteger() {
        long seed = Seeds.seed("CostRuleTest.tokensAffordableIsExactAgainstBigInteger");
        SplittableRandom random = new SplittableRandom(seed);
        for (int i = 0; i < 500_000; i++) {
            long micros = switch (random.nextInt(4)) {
                case 0 -> random.nextLong(-10, 10_000);
                case 1 -> random.nextLong(0, 1_000_000_000_000L);
                case 2 -> Long.MAX_VALUE - random.nextLong(0, 1_000_000_000_000_000L);
                default -> random.nextLong(0, Long.MAX_VALUE);
            };
            long price = switch (random.nextInt(5)) {
                case 0 -> random.nextLong(0, 1_000);
                case 1 -> random.nextLong(1, ModelRow.MAX_PRICE_MICROS_PER_MILLION_TOKENS + 1);
                case 2 -> random.nextLong(1, 10);
                case 3 -> 1_000_000L * random.nextLong(1, 10_000);
                default -> random.nextLong(1, Long.MAX_VALUE); // beyond any catalog price: still exact
            };
            long expected;
            if (micros <= 0) {
                expected = 0;
            } else if (price == 0) {
                expected = Long.MAX_VALUE;
            } else {
                expected = BigInteger.valueOf(micros).multiply(MILLION).divide(BigInteger.valueOf(price)).min(LONG_MAX).longValueExact();
            }
            long tokens = CostRule.tokensAffordable(micros, price);
            String at = "seed " + seed + " case " + i + ": tokensAffordable(" + micros + ", " + price + ")";
            assertThat(tokens).as(at).isEqualTo(expected);
            if (micros > 0 && price > 0 && tokens < Long.MAX_VALUE) {
                // What it says is affordable is affordable under the request rounding rule, and one more token is not.
                BigInteger costOf = BigInteger.valueOf(tokens).multiply(BigInteger.valueOf(price));
                assertThat(ceilDivMillion(costOf)).as(at).isLessThanOrEqualTo(BigInteger.valueOf(micros));
                BigInteger costOfOneMore = BigInteger.valueOf(tokens + 1).multiply(BigInteger.valueOf(price));
                assertThat(ceilDivMillion(costOfOneMore)).as(at).isGreaterThan(BigInteger.valueOf(micros));
            }
        }
    }

    private static BigInteger ceilDivMillion(BigInteger value) {
        BigInteger[] qr = value.divideAndRemainder(MILLION);
        return qr[1].signum() > 0 ? qr[0].add(BigInteger.ONE) : qr[0];
    }

    private static ModelRow withServiceTiers(ModelRow row, java.util.Map<String, Integer> serviceTiers) {
        return new ModelRow(row.provider(), row.model(), row.endpoints(), row.encoding(), row.contextWindowTokens(), row.maxOutputTokens(),
                row.inputMicrosPerMillionTokens(), row.cacheReadMicrosPerMillionTokens(), row.cacheWriteMicrosPerMillionTokens(),
                row.outputMicrosPerMillionTokens(), row.asOf(), row.source(), row.tiers(), row.timeWindows(), serviceTiers);
    }

    /** A service tier's percent multiplies the exact cost, and the product is rounded up once: no price, no kind of token rounded on its own. */
    @Test
    void aServiceTiersPercentMultipliesTheExactCostBeforeTheOneRounding() {
        ModelRow mini = withServiceTiers(TestRows.gpt4oMini(), java.util.Map.of("flex", 50, "priority", 200, "scale", 1_000));
        // 7 * 0.15 + 2000 * 0.075 = 151.05 micros: flex 75.525 -> 76, priority 302.1 -> 303.
        assertThat(CostRule.costMicros(mini, new Usage(7, 2_000, 0, 0, 0), mini.servicePercent("flex"))).isEqualTo(76);
        assertThat(CostRule.costMicros(mini, new Usage(7, 2_000, 0, 0, 0), mini.servicePercent("priority"))).isEqualTo(303);
        assertThat(CostRule.costMicros(mini, new Usage(7, 2_000, 0, 0, 0), mini.servicePercent("default"))).isEqualTo(152);
        assertThat(CostRule.costMicros(mini, new Usage(7, 2_000, 0, 0, 0), mini.servicePercent(null))).isEqualTo(152);
        // 0.825 micros at 1000% is 8.25 -> 9; rounding the request first and multiplying after would say 10.
        assertThat(CostRule.costMicros(mini, new Usage(1, 1, 0, 1, 0), 1_000)).isEqualTo(9);
        ModelRow haiku = TestRows.claudeHaiku();
        // 925 micros at 150% = 1387.5 -> 1388; 3 cache writes = 3.75 at 50% = 1.875 -> 2, at 33% = 1.2375 -> 2, at 1% -> 1.
        assertThat(CostRule.costMicros(haiku, new Usage(100, 2_000, 300, 50, 0), 150)).isEqualTo(1_388);
        assertThat(CostRule.costMicros(haiku, new Usage(0, 0, 3, 0, 0), 50)).isEqualTo(2);
        assertThat(CostRule.costMicros(haiku, new Usage(0, 0, 3, 0, 0), 33)).isEqualTo(2);
        assertThat(CostRule.costMicros(haiku, new Usage(0, 0, 3, 0, 0), 1)).isEqualTo(1);
        assertThat(CostRule.costMicros(haiku, Usage.ZERO, 1_000)).isZero();
        assertThat(mini.maxServicePercent()).isEqualTo(1_000);
        assertThat(CostRule.costMicros(1_000, 600_000, 50)).isEqualTo(300);
        assertThat(CostRule.costMicros(1, 600_000, 50)).isEqualTo(1); // 0.3 -> 1
    }

    /** A numerator that fits a long until the percent multiplies it is still exact, and a cost beyond a long saturates. */
    @Test
    void aServiceTierPercentThatOverflowsALongIsExactOrSaturates() {
        ModelRow mini = TestRows.gpt4oMini();
        // 10^13 output tokens * 600,000 = 6e18 fits a long; * 200 does not: 1.2e21 / 1e8 = 1.2e13 exactly.
        assertThat(CostRule.costMicros(mini, new Usage(0, 0, 0, 10_000_000_000_000L, 0), 200)).isEqualTo(12_000_000_000_000L);
        assertThat(CostRule.costMicros(10_000_000_000_000L, 600_000, 200)).isEqualTo(12_000_000_000_000L);
        // One token more: (6e18 + 600,000) * 200 / 1e8 = 12,000,000,000,001.2 -> rounded up, on the BigInteger path too.
        assertThat(CostRule.costMicros(mini, new Usage(0, 0, 0, 10_000_000_000_001L, 0), 200)).isEqualTo(12_000_000_000_002L);
        assertThat(CostRule.costMicros(mini, new Usage(Long.MAX_VALUE, 0, 0, Long.MAX_VALUE, 0), 1_000)).isEqualTo(Long.MAX_VALUE);
        assertThat(CostRule.costMicros(Long.MAX_VALUE, 600_000, 1_000)).isEqualTo(Long.MAX_VALUE);
        // Random usages: the exact rational times the percent, rounded up, against BigInteger arithmetic.
        SplittableRandom random = new SplittableRandom(Seeds.seed("CostRuleTest.servicePercent"));
        for (int i = 0; i < 10_000; i++) {
            Usage usage = new Usage(random.nextLong(1L << random.nextInt(1, 62)), random.nextLong(1L << random.nextInt(1, 40)),
                    random.nextLong(1L << random.nextInt(1, 40)), random.nextLong(1L << random.nextInt(1, 62)), 0);
            int percent = random.nextInt(1, 1_001);
            BigInteger numerator = BigInteger.valueOf(usage.inputTokens()).multiply(BigInteger.valueOf(150_000))
                    .add(BigInteger.valueOf(usage.cacheReadTokens()).multiply(BigInteger.valueOf(75_000)))
                    .add(BigInteger.valueOf(usage.cacheWriteTokens()).multiply(BigInteger.valueOf(150_000)))
                    .add(BigInteger.valueOf(usage.outputTokens()).multiply(BigInteger.valueOf(600_000))).multiply(BigInteger.valueOf(percent));
            BigInteger exact = new java.math.BigDecimal(numerator).divide(java.math.BigDecimal.valueOf(100_000_000), 0, RoundingMode.CEILING).toBigInteger();
            assertThat(CostRule.costMicros(mini, usage, percent)).as("%s at %d%%", usage, percent).isEqualTo(exact.min(LONG_MAX).longValueExact());
        }
    }

    /** What a sum of money affords at a percent is the most tokens whose cost at that percent stays within it. */
    @Test
    void tokensAffordableAtAPercentIsTheMostTheMoneyCovers() {
        assertThat(CostRule.tokensAffordable(300, 600_000, 50)).isEqualTo(1_000);
        assertThat(CostRule.tokensAffordable(299, 600_000, 200)).isEqualTo(249); // 249 * 1.2 = 298.8; 250 would be 300
        assertThat(CostRule.tokensAffordable(0, 600_000, 200)).isZero();
        assertThat(CostRule.tokensAffordable(5, 0, 200)).isEqualTo(Long.MAX_VALUE);
        assertThat(CostRule.tokensAffordable(Long.MAX_VALUE, 600_000, 1)).isEqualTo(Long.MAX_VALUE);
        SplittableRandom random = new SplittableRandom(Seeds.seed("CostRuleTest.tokensAffordableAtAPercent"));
        for (int i = 0; i < 10_000; i++) {
            long micros = random.nextLong(1L << random.nextInt(1, 63));
            long price = random.nextLong(1, ModelRow.MAX_PRICE_MICROS_PER_MILLION_TOKENS + 1);
            int percent = random.nextInt(1, 1_001);
            long tokens = CostRule.tokensAffordable(micros, price, percent);
            if (tokens < Long.MAX_VALUE) {
                assertThat(CostRule.costMicros(tokens, price, percent)).as("%d micros at %d, %d%%", micros, price, percent).isLessThanOrEqualTo(micros);
                assertThat(CostRule.costMicros(tokens + 1, price, percent)).as("%d micros at %d, %d%%", micros, price, percent).isGreaterThan(micros);
            }
        }
    }

    /**
     * A lane's multiplier scales the tokens' exact cost with the service tier's percent, and the product is rounded up
     * once: 5000 bps is half of the exact cost, rounded up, never half of the rounded list-price cost.
     */
    @Test
    void aLanesMultiplierScalesTheExactTokenCostOnceAndLeavesTheFees() {
        ModelRow mini = TestRows.gpt4oMini();
        // 1000 * 0.15 + 500 * 0.60 = 450 micros exactly: half is 225, to the micro.
        assertThat(CostRule.costMicros(mini, new Usage(1_000, 0, 0, 500, 0), 100, 5_000)).isEqualTo(225);
        assertThat(CostRule.costMicros(mini, new Usage(1_000, 0, 0, 500, 0), 100, 10_000)).isEqualTo(450);
        assertThat(CostRule.costMicros(mini, new Usage(1_000, 0, 0, 500, 0), 100, 100_000)).isEqualTo(4_500);
        // 151.05 micros (152 at the list price): half is 75.525 -> 76, not 152 / 2 = 76 by luck: at 3333 bps 50.34... -> 51.
        assertThat(CostRule.costMicros(mini, new Usage(7, 2_000, 0, 0, 0), 100, 5_000)).isEqualTo(76);
        assertThat(CostRule.costMicros(mini, new Usage(7, 2_000, 0, 0, 0), 100, 3_333)).isEqualTo(51);
        // With a service tier at 200%: 151.05 * 2 * 0.5 = 151.05 -> 152, one rounding for both.
        assertThat(CostRule.costMicros(mini, new Usage(7, 2_000, 0, 0, 0), 200, 5_000)).isEqualTo(152);
        // 0.825 micros at 1 bps: 0.0000825 -> 1: rounding up never lets a request cost nothing that used tokens.
        assertThat(CostRule.costMicros(mini, new Usage(1, 1, 0, 1, 0), 100, 1)).isEqualTo(1);
        // 10 input * 1 + 20 output * 5 = 110 micros of tokens, half of it 55; two searches and the request fee stay whole.
        ModelRow withFees = rowWithClasses(new long[] {1_000_000, 100_000, 1_250_000, 5_000_000}, java.util.Map.of(), 10_000, 3);
        Usage fed = new Usage(10, 0, 0, 20, 0).withServerToolCalls(java.util.Map.of("web_search", 2L));
        assertThat(CostRule.costMicros(withFees, fed, 100, 10_000)).isEqualTo(110 + 2 * 10_000 + 3);
        assertThat(CostRule.costMicros(withFees, fed, 100, 5_000)).as("the fees are not discounted").isEqualTo(55 + 2 * 10_000 + 3);
        assertThat(CostRule.costMicros(1_000, 600_000, 100, 5_000)).isEqualTo(300);
        assertThat(CostRule.costMicros(1, 600_000, 100, 5_000)).isEqualTo(1); // 0.3 -> 1
        // Random usages, percents and multipliers against BigInteger arithmetic, the long and the BigInteger paths both.
        SplittableRandom random = new SplittableRandom(Seeds.seed("CostRuleTest.multiplier"));
        for (int i = 0; i < 10_000; i++) {
            Usage usage = new Usage(random.nextLong(1L << random.nextInt(1, 62)), random.nextLong(1L << random.nextInt(1, 40)),
                    random.nextLong(1L << random.nextInt(1, 40)), random.nextLong(1L << random.nextInt(1, 62)), 0);
            int percent = random.nextInt(1, 1_001);
            int bps = random.nextInt(1, 100_001);
            BigInteger numerator = BigInteger.valueOf(usage.inputTokens()).multiply(BigInteger.valueOf(150_000))
                    .add(BigInteger.valueOf(usage.cacheReadTokens()).multiply(BigInteger.valueOf(75_000)))
                    .add(BigInteger.valueOf(usage.cacheWriteTokens()).multiply(BigInteger.valueOf(150_000)))
                    .add(BigInteger.valueOf(usage.outputTokens()).multiply(BigInteger.valueOf(600_000)))
                    .multiply(BigInteger.valueOf(percent)).multiply(BigInteger.valueOf(bps));
            BigInteger exact = new java.math.BigDecimal(numerator).divide(java.math.BigDecimal.valueOf(1_000_000_000_000L), 0, RoundingMode.CEILING)
                    .toBigInteger();
            assertThat(CostRule.costMicros(mini, usage, percent, bps)).as("%s at %d%%, %d bps", usage, percent, bps)
                    .isEqualTo(exact.min(LONG_MAX).longValueExact());
        }
    }

    /** What a sum of money affords in a lane is the most tokens whose cost there stays within it, so a reservation's output cap is never more than it pays for. */
    @Test
    void tokensAffordableInALaneIsTheMostTheMoneyCovers() {
        assertThat(CostRule.tokensAffordable(300, 600_000, 100, 5_000)).isEqualTo(1_000);
        assertThat(CostRule.tokensAffordable(300, 600_000, 100, 20_000)).isEqualTo(250);
        SplittableRandom random = new SplittableRandom(Seeds.seed("CostRuleTest.tokensAffordableInALane"));
        for (int i = 0; i < 10_000; i++) {
            long micros = random.nextLong(1L << random.nextInt(1, 63));
            long price = random.nextLong(1, ModelRow.MAX_PRICE_MICROS_PER_MILLION_TOKENS + 1);
            int percent = random.nextInt(1, 1_001);
            int bps = random.nextInt(1, 100_001);
            long tokens = CostRule.tokensAffordable(micros, price, percent, bps);
            if (tokens < Long.MAX_VALUE) {
                assertThat(CostRule.costMicros(tokens, price, percent, bps)).as("%d micros at %d, %d%%, %d bps", micros, price, percent, bps)
                        .isLessThanOrEqualTo(micros);
                assertThat(CostRule.costMicros(tokens + 1, price, percent, bps)).as("%d micros at %d, %d%%, %d bps", micros, price, percent, bps)
                        .isGreaterThan(micros);
            }
        }
    }
}
