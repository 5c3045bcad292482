package dev.tollgate.metering.request;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tollgate.config.EndpointFamily;
import dev.tollgate.config.Limits;
import dev.tollgate.config.ModelRow;
import dev.tollgate.metering.Balances;
import dev.tollgate.metering.CostRule;
import dev.tollgate.metering.Reservation;
import dev.tollgate.metering.Seeds;
import dev.tollgate.metering.TestRows;
import dev.tollgate.metering.Usage;
import java.io.IOException;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class AdmissionTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** 1,000 prompt tokens per image and at least 16 output tokens. */
    private static final Limits LIMITS = new Limits(32 << 20, 1 << 20, 16, 1_000, 10_000, 600_000, 300_000, 1024, 64);
    private static final Admission ADMISSION = new Admission(LIMITS);
    /** A chat model whose cache write is the dearest input: 0.15 in, 0.075 read, 0.1875 write, 0.60 out per token-micro. */
    private static final ModelRow ROW = TestRows.row("openai", "m", Set.of(EndpointFamily.CHAT_COMPLETIONS, EndpointFamily.RESPONSES,
            EndpointFamily.COMPLETIONS), "o200k_base", 128_000, 16_384, 150_000, 75_000, 187_500, 600_000);

    static InspectedRequest inspect(EndpointFamily family, String json) {
        return RequestInspectorTest.ok(family, json);
    }

    static Balances funded(long micros) {
        Balances balances = new Balances(1);
        balances.credit(0, micros);
        return balances;
    }

    @Test
    void promptBoundIsBytesPlusImageAllowancePlusOverhead() {
        String body = "{\"model\":\"m\",\"max_tokens\":100,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"},"
                + "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://e.com/a.png\"}},{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://e.com/b.png\"}}]}]}";
        InspectedRequest request = inspect(EndpointFamily.CHAT_COMPLETIONS, body);
        Admission.Plan plan = ADMISSION.plan(request, ROW);
        long bound = body.length() + 2 * 1_000 + 64;
        assertThat(plan.promptBoundTokens()).isEqualTo(bound);
        // The prompt's worst case is at the dearest input price, rounded up once.
        assertThat(plan.promptWorstMicros()).isEqualTo(Math.ceilDiv(bound * 187_500, 1_000_000));
        assertThat(plan.outputCapTokens()).isEqualTo(100);
        assertThat(plan.choices()).isEqualTo(1);
        assertThat(plan.worstCaseMicros()).isEqualTo(plan.promptWorstMicros() + 60); // 100 * 0.60
        assertThat(plan.minimumMicros()).isEqualTo(plan.promptWorstMicros() + 10);   // 16 * 0.60 = 9.6 -> 10
    }

    /** The worst case is at the tier the request asks for, or the dearest it may be served at when it asks none. */
    @Test
    void theWorstCaseIsAtTheServiceTierTheRequestCanBeServedAt() {
        ModelRow tiered = new ModelRow(ROW.provider(), ROW.model(), ROW.endpoints(), ROW.encoding(), ROW.contextWindowTokens(), ROW.maxOutputTokens(),
                ROW.inputMicrosPerMillionTokens(), ROW.cacheReadMicrosPerMillionTokens(), ROW.cacheWriteMicrosPerMillionTokens(),
                ROW.outputMicrosPerMillionTokens(), ROW.asOf(), ROW.source(), ROW.tiers(), ROW.timeWindows(), java.util.Map.of("flex", 50, "priority", 200));
        String none = "{\"model\":\"m\",\"max_tokens\":1000,\"messages\":[]}"; // 45 bytes + 64 = 109 prompt tokens
        assertThat(none).hasSize(45);
        Admission.Plan asksNone = ADMISSION.plan(inspect(EndpointFamily.CHAT_COMPLETIONS, none), tiered);
        assertThat(asksNone.servicePercent()).isEqualTo(200);
        // 109 * 0.1875 * 2 = 40.875 -> 41; 1000 * 0.6 * 2 = 1200; the minimum 16 * 0.6 * 2 = 19.2 -> 20.
        assertThat(asksNone).isEqualTo(new Admission.Plan(109, 41, 1_000, 1, 41 + 1_200, 41 + 20, 600_000, 200));
        Admission.Plan flex = ADMISSION.plan(inspect(EndpointFamily.CHAT_COMPLETIONS, none.replace("{", "{\"service_tier\":\"flex\",")), tiered);
        assertThat(flex.servicePercent()).as("flex may be served at the default tier: reserved at 100").isEqualTo(100);
        assertThat(ADMISSION.plan(inspect(EndpointFamily.CHAT_COMPLETIONS, none.replace("{", "{\"service_tier\":\"auto\",")), tiered).servicePercent())
                .isEqualTo(200);
        assertThat(ADMISSION.plan(inspect(EndpointFamily.CHAT_COMPLETIONS, none.replace("{", "{\"service_tier\":\"default\",")), tiered).servicePercent())
                .isEqualTo(100);
        assertThat(ADMISSION.plan(inspect(EndpointFamily.CHAT_COMPLETIONS, none), ROW).servicePercent()).as("a row without tiers").isEqualTo(100);
        // What a held sum affords is at the plan's percent: 600 micros past the prompt buy 500 tokens at 200%.
        assertThat(Admission.affordableOutputTokens(asksNone, tiered, 41 + 600)).isEqualTo(500);
        assertThat(Admission.affordableOutputTokens(flex, tiered, flex.promptWorstMicros() + 300)).isEqualTo(500);
    }

    /** A lane's multiplier prices every amount of the plan as the settlement will: the reservation bounds the debit in a dearer lane, and holds less in a cheaper one. */
    @Test
    void theWorstCaseIsAtTheLanesMultiplier() {
        String body = "{\"model\":\"m\",\"n\":2,\"max_completion_tokens\":1000,\"messages\":[]}"; // 126 prompt tokens, as handWorkedPlan
        Admission.Plan half = ADMISSION.plan(inspect(EndpointFamily.CHAT_COMPLETIONS, body), ROW, 5_000);
        // 126 * 0.1875 * 0.5 = 11.8125 -> 12; 2 * 1000 * 0.6 * 0.5 = 600; the minimum 2 * 16 * 0.6 * 0.5 = 9.6 -> 10.
        assertThat(half).isEqualTo(new Admission.Plan(126, 12, 1_000, 2, 12 + 600, 12 + 10, 600_000, 100, 0, java.util.Map.of(), true, 5_000));
        Admission.Plan triple = ADMISSION.plan(inspect(EndpointFamily.CHAT_COMPLETIONS, body), ROW, 30_000);
        assertThat(triple.worstCaseMicros()).isEqualTo(71 + 3_600); // 70.875 -> 71
        // What a held sum affords is at the multiplier: 300 micros past the prompt buy 1000 tokens at half price, 500 per choice.
        assertThat(Admission.affordableOutputTokens(half, ROW, 12 + 300)).isEqualTo(500);
        assertThat(ADMISSION.plan(inspect(EndpointFamily.CHAT_COMPLETIONS, body), ROW))
                .isEqualTo(ADMISSION.plan(inspect(EndpointFamily.CHAT_COMPLETIONS, body), ROW, 10_000));
    }

    @Test
    void handWorkedPlan() {
        // 62 bytes + 64 = 126 tokens * 0.1875 = 23.625 -> 24 micros; 2 choices * 1000 * 0.6 = 1200 micros.
        String body = "{\"model\":\"m\",\"n\":2,\"max_completion_tokens\":1000,\"messages\":[]}";
        assertThat(body).hasSize(62);
        Admission.Plan plan = ADMISSION.plan(inspect(EndpointFamily.CHAT_COMPLETIONS, body), ROW);
        assertThat(plan).isEqualTo(new Admission.Plan(126, 24, 1_000, 2, 24 + 1_200, 24 + 20, 600_000)); // 2 * 16 * 0.6 = 19.2 -> 20
    }

    @Test
    void promptBoundNeverExceedsTheContextWindow() {
        ModelRow small = TestRows.instruct(); // 4,096-token window
        String body = "{\"model\":\"m\",\"prompt\":\"" + "x".repeat(10_000) + "\"}";
        Admission.Plan plan = ADMISSION.plan(inspect(EndpointFamily.COMPLETIONS, body), small);
        assertThat(plan.promptBoundTokens()).isEqualTo(4_096);
        assertThat(plan.outputCapTokens()).isEqualTo(16);
    }

    @Test
    void storedContextIsBoundedByTheWindowOnly() {
        InspectedRequest request = inspect(EndpointFamily.RESPONSES, "{\"model\":\"m\",\"input\":\"go on\",\"previous_response_id\":\"resp_1\",\"max_output_tokens\":50}");
        Admission.Plan plan = ADMISSION.plan(request, ROW);
        assertThat(plan.promptBoundTokens()).isEqualTo(128_000);
        assertThat(plan.promptWorstMicros()).isEqualTo(24_000); // 128000 * 0.1875
        assertThat(plan.worstCaseMicros()).isEqualTo(24_000 + 30);
    }

    @Test
    void outputCapIsTheRequestOrTheModelsMaximum() {
        assertThat(ADMISSION.plan(inspect(EndpointFamily.CHAT_COMPLETIONS, "{\"model\":\"m\"}"), ROW).outputCapTokens()).isEqualTo(16_384);
        assertThat(ADMISSION.plan(inspect(EndpointFamily.CHAT_COMPLETIONS, "{\"model\":\"m\",\"max_tokens\":1000000}"), ROW).outputCapTokens())
                .isEqualTo(16_384);
        Admission.Plan tiny = ADMISSION.plan(inspect(EndpointFamily.CHAT_COMPLETIONS, "{\"model\":\"m\",\"max_tokens\":3}"), ROW);
        assertThat(tiny.outputCapTokens()).isEqualTo(3);
        assertThat(tiny.minimumMicros()).as("the minimum output never exceeds the cap").isEqualTo(tiny.worstCaseMicros());
    }

    @Test
    void embeddingsReserveTheirPromptOnly() {
        ModelRow embed = TestRows.embeddingSmall();
        String body = "{\"model\":\"text-embedding-3-small\",\"input\":\"hello world\"}";
        Admission.Plan plan = ADMISSION.plan(inspect(EndpointFamily.EMBEDDINGS, body), embed);
        long bound = body.length() + 64;
        assertThat(plan).isEqualTo(new Admission.Plan(bound, Math.ceilDiv(bound * 20_000, 1_000_000), 0, 1,
                Math.ceilDiv(bound * 20_000, 1_000_000), Math.ceilDiv(bound * 20_000, 1_000_000), 0));
    }

    /** A prompt that may be longer than a tier's threshold is reserved at the tier's prices, one that cannot at the row's. */
    @Test
    void theWorstCaseTakesTheDearestTierThePromptBoundReaches() {
        ModelRow sonnet = dev.tollgate.metering.TestRows.claudeSonnetTiered();
        String shortBody = "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":100,\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}";
        Admission.Plan small = ADMISSION.plan(inspect(EndpointFamily.MESSAGES, shortBody), sonnet);
        assertThat(small.outputMicrosPerMillionTokens()).isEqualTo(15_000_000);
        assertThat(small.promptWorstMicros()).isEqualTo(Math.ceilDiv(small.promptBoundTokens() * 3_750_000, 1_000_000));
        String padding = "x".repeat(200_000);
        String longBody = "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":100,\"messages\":[{\"role\":\"user\",\"content\":\"" + padding + "\"}]}";
        Admission.Plan large = ADMISSION.plan(inspect(EndpointFamily.MESSAGES, longBody), sonnet);
        assertThat(large.promptBoundTokens()).isGreaterThan(200_000);
        assertThat(large.outputMicrosPerMillionTokens()).isEqualTo(22_500_000);
        assertThat(large.promptWorstMicros()).isEqualTo(Math.ceilDiv(large.promptBoundTokens() * 7_500_000, 1_000_000));
        assertThat(large.worstCaseMicros()).isEqualTo(large.promptWorstMicros() + Math.ceilDiv(100 * 22_500_000L, 1_000_000));
        // And that worst case bounds every usage within the bound, whichever tier prices it.
        long bound = large.promptBoundTokens();
        for (long prompt : new long[] {bound, 200_001, 200_000, 1}) {
            long cost = dev.tollgate.metering.CostRule.costMicros(sonnet, new dev.tollgate.metering.Usage(0, 0, prompt, 100, 0));
            assertThat(cost).as("prompt %d", prompt).isLessThanOrEqualTo(large.worstCaseMicros());
        }
    }

    @Test
    void aBatchOfEmbeddingInputsIsBoundedByItsBytesNotByOneInputsWindow() {
        // 64 inputs of about 1,600 tokens each: some 100,000 tokens in all, far above the 8,191-token window of one input.
        StringBuilder body = new StringBuilder("{\"model\":\"text-embedding-3-small\",\"input\":[");
        for (int i = 0; i < 64; i++) {
            body.append(i == 0 ? "" : ",").append('"').append("word ".repeat(1_600)).append('"');
        }
        body.append("]}");
        ModelRow embed = TestRows.embeddingSmall();
        InspectedRequest request = inspect(EndpointFamily.EMBEDDINGS, body.toString());
        Admission.Plan plan = ADMISSION.plan(request, embed);
        long tokens = 0;
        dev.tollgate.metering.TokenCounter counter = dev.tollgate.metering.TokenCounter.forEncoding(embed.encoding());
        for (JsonNode input : request.body().get("input")) {
            tokens += counter.count(input.textValue());
        }
        assertThat(tokens).isGreaterThan(embed.contextWindowTokens());
        assertThat(plan.promptBoundTokens()).as("the bound must cover every input of the batch").isGreaterThanOrEqualTo(tokens);
        assertThat(plan.worstCaseMicros()).isGreaterThanOrEqualTo(CostRule.costMicros(embed, new Usage(tokens, 0, 0, 0, 0)));
    }

    @Test
    void fullWorstCaseIsReservedWhenTheBalanceCoversIt() {
        InspectedRequest request = inspect(EndpointFamily.CHAT_COMPLETIONS, "{\"model\":\"m\",\"max_tokens\":1000,\"messages\":[]}");
        Admission.Plan plan = ADMISSION.plan(request, ROW);
        Balances balances = funded(plan.worstCaseMicros() * 3);
        Reservation reservation = reserve(balances, plan);
        assertThat(reservation.heldMicros()).isEqualTo(plan.worstCaseMicros());
        assertThat(balances.availableMicros(0)).isEqualTo(plan.worstCaseMicros() * 2);
        assertThat(Admission.affordableOutputTokens(plan, ROW, reservation.heldMicros())).isEqualTo(1_000);
        assertThat(Admission.rewrite(request, plan, 1_000)).as("nothing to change: the client's bytes go as sent").isNull();
    }

    @Test
    void aPartialBalanceReservesAllOfItAndLowersTheCap() throws IOException {
        InspectedRequest request = inspect(EndpointFamily.CHAT_COMPLETIONS,
                "{\"model\":\"m\",\"max_tokens\":1000,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        Admission.Plan plan = ADMISSION.plan(request, ROW);
        long balance = plan.promptWorstMicros() + 300; // 300 micros of output: 500 tokens at 0.60
        Balances balances = funded(balance);
        Reservation reservation = reserve(balances, plan);
        assertThat(reservation.heldMicros()).isEqualTo(balance);
        assertThat(balances.availableMicros(0)).isZero();
        long affordable = Admission.affordableOutputTokens(plan, ROW, reservation.heldMicros());
        assertThat(affordable).isEqualTo(500);
        byte[] rewritten = Admission.rewrite(request, plan, affordable);
        JsonNode sent = JSON.readTree(rewritten);
        assertThat(sent.get("max_tokens").asLong()).isEqualTo(500);
        assertThat(sent.has("max_completion_tokens")).as("the field the client used, no other").isFalse();
        assertThat(sent.get("messages").get(0).get("content").asText()).isEqualTo("hi");
        assertThat(sent.has("stream_options")).isFalse();
    }

    @Test
    void belowTheMinimumNothingIsReserved() {
        InspectedRequest request = inspect(EndpointFamily.CHAT_COMPLETIONS, "{\"model\":\"m\",\"max_tokens\":1000}");
        Admission.Plan plan = ADMISSION.plan(request, ROW);
        Balances balances = funded(plan.minimumMicros() - 1);
        assertThat(reserve(balances, plan)).isNull();
        assertThat(balances.availableMicros(0)).isEqualTo(plan.minimumMicros() - 1);
        assertThat(balances.reservedMicros(0)).isZero();
        Balances exactly = funded(plan.minimumMicros());
        Reservation reservation = reserve(exactly, plan);
        assertThat(reservation.heldMicros()).isEqualTo(plan.minimumMicros());
        assertThat(Admission.affordableOutputTokens(plan, ROW, reservation.heldMicros())).isGreaterThanOrEqualTo(16);
    }

    @Test
    void theReservationAlwaysCoversTheCapThatIsSent() {
        long seed = Seeds.seed("AdmissionTest.theReservationAlwaysCoversTheCapThatIsSent");
        SplittableRandom random = new SplittableRandom(seed);
        for (int i = 0; i < 20_000; i++) {
            long outputPrice = random.nextLong(1, 80_000_000);
            ModelRow row = TestRows.row("openai", "m", Set.of(EndpointFamily.CHAT_COMPLETIONS, EndpointFamily.COMPLETIONS), "o200k_base",
                    random.nextLong(1_000, 2_000_000), random.nextLong(1, 1_000), random.nextLong(0, 20_000_000), random.nextLong(0, 20_000_000),
                    random.nextLong(0, 20_000_000), outputPrice);
            int n = random.nextInt(1, 6);
            long cap = random.nextLong(1, 2_000);
            InspectedRequest request = inspect(EndpointFamily.COMPLETIONS,
                    "{\"model\":\"m\",\"prompt\":\"" + "y".repeat(random.nextInt(0, 3_000)) + "\",\"n\":" + n + ",\"max_tokens\":" + cap + "}");
            Admission.Plan plan = ADMISSION.plan(request, row);
            long balance = random.nextLong(0, plan.worstCaseMicros() + 1_000);
            Balances balances = funded(balance);
            Reservation reservation = reserve(balances, plan);
            String at = "seed " + seed + " case " + i + ": " + plan + " balance " + balance;
            if (balance < plan.minimumMicros()) {
                assertThat(reservation).as(at).isNull();
                continue;
            }
            assertThat(reservation).as(at).isNotNull();
            assertThat(reservation.heldMicros()).as(at).isEqualTo(Math.min(balance, plan.worstCaseMicros()));
            long affordable = Admission.affordableOutputTokens(plan, row, reservation.heldMicros());
            assertThat(affordable).as(at).isBetween(Math.min(plan.outputCapTokens(), LIMITS.minOutputTokens()), plan.outputCapTokens());
            // The worst the provider can then bill: the prompt bound at its dearest price, and the cap on every choice.
            long bound = plan.promptBoundTokens();
            long output = affordable * plan.choices();
            long dearest = row.maxInputMicrosPerMillionTokens();
            Usage worst = dearest == row.inputMicrosPerMillionTokens() ? new Usage(bound, 0, 0, output, 0)
                    : dearest == row.cacheReadMicrosPerMillionTokens() ? new Usage(0, bound, 0, output, 0)
                    : new Usage(0, 0, bound, output, 0);
            long worstBilled = CostRule.costMicros(row, worst);
            assertThat(worstBilled).as(at + " affordable " + affordable).isLessThanOrEqualTo(reservation.heldMicros());
            if (affordable < plan.outputCapTokens()) {
                long oneMore = plan.promptWorstMicros() + CostRule.costMicros((affordable + 1) * plan.choices(), row.outputMicrosPerMillionTokens());
                assertThat(oneMore).as(at + ": the cap is as high as the reservation allows").isGreaterThan(reservation.heldMicros());
            }
        }
    }

    @Test
    void rewriteAddsIncludeUsageForOpenAiChatAndCompletionsStreamsOnly() throws IOException {
        String chat = "{\"model\":\"m\",\"stream\":true,\"messages\":[]}";
        byte[] rewritten = Admission.rewrite(inspect(EndpointFamily.CHAT_COMPLETIONS, chat), planFor(EndpointFamily.CHAT_COMPLETIONS, chat), 16_384);
        JsonNode sent = JSON.readTree(rewritten);
        assertThat(sent.get("stream_options").get("include_usage").asBoolean()).isTrue();
        assertThat(sent.has("max_completion_tokens")).as("the cap was not lowered, so none is added").isFalse();
        assertThat(sent.get("stream").asBoolean()).isTrue();

        String completions = "{\"model\":\"m\",\"stream\":true,\"prompt\":\"x\",\"max_tokens\":20}";
        JsonNode sentCompletions = JSON.readTree(Admission.rewrite(inspect(EndpointFamily.COMPLETIONS, completions),
                planFor(EndpointFamily.COMPLETIONS, completions), 20));
        assertThat(sentCompletions.get("stream_options").get("include_usage").asBoolean()).isTrue();
        assertThat(sentCompletions.get("max_tokens").asInt()).isEqualTo(20);

        // Existing options are kept; an explicit false is overridden (the meter then drops the usage chunk again).
        String withOptions = "{\"model\":\"m\",\"stream\":true,\"stream_options\":{\"include_usage\":false,\"include_obfuscation\":false}}";
        JsonNode sentWithOptions = JSON.readTree(Admission.rewrite(inspect(EndpointFamily.CHAT_COMPLETIONS, withOptions),
                planFor(EndpointFamily.CHAT_COMPLETIONS, withOptions), 16_384));
        assertThat(sentWithOptions.get("stream_options").get("include_usage").asBoolean()).isTrue();
        assertThat(sentWithOptions.get("stream_options").get("include_obfuscation").asBoolean(true)).isFalse();

        // Nothing to add when the client asked, when it does not stream, or on the other surfaces.
        String asked = "{\"model\":\"m\",\"stream\":true,\"stream_options\":{\"include_usage\":true}}";
        assertThat(Admission.rewrite(inspect(EndpointFamily.CHAT_COMPLETIONS, asked), planFor(EndpointFamily.CHAT_COMPLETIONS, asked), 16_384)).isNull();
        String notStreamed = "{\"model\":\"m\",\"messages\":[]}";
        assertThat(Admission.rewrite(inspect(EndpointFamily.CHAT_COMPLETIONS, notStreamed), planFor(EndpointFamily.CHAT_COMPLETIONS, notStreamed), 16_384))
                .isNull();
        String responses = "{\"model\":\"m\",\"stream\":true,\"input\":\"x\"}";
        assertThat(Admission.rewrite(inspect(EndpointFamily.RESPONSES, responses), planFor(EndpointFamily.RESPONSES, responses), 16_384)).isNull();
        String messages = "{\"model\":\"m\",\"stream\":true,\"max_tokens\":100,\"messages\":[]}";
        assertThat(Admission.rewrite(inspect(EndpointFamily.MESSAGES, messages), planFor(EndpointFamily.MESSAGES, messages), 100)).isNull();

        assertThat(Admission.needsUsageOption(inspect(EndpointFamily.CHAT_COMPLETIONS, chat))).isTrue();
        assertThat(Admission.needsUsageOption(inspect(EndpointFamily.RESPONSES, responses))).isFalse();
    }

    @Test
    void rewriteLowersTheCapOnlyBelowWhatTheProviderWouldOtherwiseAllow() throws IOException {
        // The client set 1000: 999 is lowered, 1000 and above are not.
        String capped = "{\"model\":\"m\",\"max_completion_tokens\":1000}";
        InspectedRequest request = inspect(EndpointFamily.CHAT_COMPLETIONS, capped);
        Admission.Plan plan = ADMISSION.plan(request, ROW);
        assertThat(Admission.rewrite(request, plan, 1_000)).isNull();
        assertThat(Admission.rewrite(request, plan, 5_000)).isNull();
        assertThat(Admission.rewrite(request, plan, 0)).as("never a zero cap").isNull();
        assertThat(JSON.readTree(Admission.rewrite(request, plan, 999)).get("max_completion_tokens").asLong()).isEqualTo(999);

        // No cap from the client: the provider would allow the model's maximum, so only a lower cap is sent, in the current field.
        String uncapped = "{\"model\":\"m\"}";
        InspectedRequest open = inspect(EndpointFamily.CHAT_COMPLETIONS, uncapped);
        Admission.Plan openPlan = ADMISSION.plan(open, ROW);
        assertThat(Admission.rewrite(open, openPlan, 16_384)).isNull();
        JsonNode lowered = JSON.readTree(Admission.rewrite(open, openPlan, 700));
        assertThat(lowered.get("max_completion_tokens").asLong()).isEqualTo(700);
        assertThat(lowered.has("max_tokens")).isFalse();

        // A cap above the model's maximum is what the provider would refuse or clamp: the model's maximum is sent.
        String huge = "{\"model\":\"m\",\"max_tokens\":1000000}";
        InspectedRequest big = inspect(EndpointFamily.CHAT_COMPLETIONS, huge);
        Admission.Plan bigPlan = ADMISSION.plan(big, ROW);
        assertThat(JSON.readTree(Admission.rewrite(big, bigPlan, bigPlan.outputCapTokens())).get("max_tokens").asLong()).isEqualTo(16_384);

        // Each surface's own field.
        String responses = "{\"model\":\"m\",\"input\":\"x\",\"max_output_tokens\":400}";
        assertThat(JSON.readTree(Admission.rewrite(inspect(EndpointFamily.RESPONSES, responses), planFor(EndpointFamily.RESPONSES, responses), 300))
                .get("max_output_tokens").asLong()).isEqualTo(300);
        String messages = "{\"model\":\"m\",\"max_tokens\":400,\"stream\":true,\"messages\":[]}";
        JsonNode sentMessages = JSON.readTree(Admission.rewrite(inspect(EndpointFamily.MESSAGES, messages), planFor(EndpointFamily.MESSAGES, messages), 300));
        assertThat(sentMessages.get("max_tokens").asLong()).isEqualTo(300);
        assertThat(sentMessages.has("stream_options")).isFalse();
        String embeddings = "{\"model\":\"m\",\"input\":\"x\"}";
        assertThat(Admission.rewrite(inspect(EndpointFamily.EMBEDDINGS, embeddings), planFor(EndpointFamily.EMBEDDINGS, embeddings), 1)).isNull();
    }

    @Test
    void rewriteLowersTheCapAndAddsUsageTogether() throws IOException {
        String body = "{\"model\":\"m\",\"stream\":true,\"max_tokens\":800,\"messages\":[{\"role\":\"user\",\"content\":\"é\"}]}";
        InspectedRequest request = inspect(EndpointFamily.CHAT_COMPLETIONS, body);
        JsonNode sent = JSON.readTree(Admission.rewrite(request, ADMISSION.plan(request, ROW), 100));
        assertThat(sent.get("max_tokens").asLong()).isEqualTo(100);
        assertThat(sent.get("stream_options").get("include_usage").asBoolean()).isTrue();
        assertThat(sent.get("messages").get(0).get("content").asText()).isEqualTo("é");
        assertThat(sent.get("model").asText()).isEqualTo("m");
    }

    private static Admission.Plan planFor(EndpointFamily family, String body) {
        ModelRow row = family == EndpointFamily.MESSAGES ? TestRows.claudeHaiku()
                : family == EndpointFamily.EMBEDDINGS ? TestRows.embeddingSmall() : ROW;
        return ADMISSION.plan(inspect(family, body), row);
    }

    /** What the proxy's ledger does with a plan: hold the worst case, or as much as there is above the minimum. */
    private static Reservation reserve(Balances balances, Admission.Plan plan) {
        return Reservation.tryReserve(balances, 0, plan.minimumMicros(), plan.worstCaseMicros());
    }
}
