package dev.tollgate.proxy.exchange;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tollgate.config.CatalogLoader;
import dev.tollgate.config.ModelRow;
import dev.tollgate.config.PriceCatalog;
import dev.tollgate.proxy.admin.AdminTestNode;
import dev.tollgate.proxy.admin.AdminTestNode.Billed;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Service tiers through the proxy: the simulated provider reports the tier that served each request in the real wire
 * field, and the request is billed at that tier's percent of its exact cost, rounded once, to the micro-unit, on the
 * chat, Responses and Messages surfaces, JSON and streamed; a request with no tier of the row is billed at its prices,
 * and the reservation of a request that names no tier covers the dearest.
 */
class ServiceTierPricingTest {
    /** gpt-4o-mini: $0.15 in, $0.075 cached, $0.60 out. claude-haiku-4-5: $1 in, $0.10 cache read, $1.25 cache write, $5 out. */
    private static final Map<String, Integer> OPENAI_TIERS = Map.of("flex", 50, "priority", 200);
    private static final Map<String, Integer> ANTHROPIC_TIERS = Map.of("priority", 200, "batch", 50);

    @TempDir
    Path dir;

    private AdminTestNode.Running running;

    private static PriceCatalog catalogWithServiceTiers() {
        PriceCatalog shipped = CatalogLoader.loadBuiltin();
        List<ModelRow> rows = new ArrayList<>();
        for (ModelRow row : shipped.rows()) {
            if (row.model().equals("gpt-4o-mini")) {
                row = withServiceTiers(row, OPENAI_TIERS);
            } else if (row.model().equals("claude-haiku-4-5")) {
                row = withServiceTiers(row, ANTHROPIC_TIERS);
            }
            rows.add(row);
        }
        return new PriceCatalog(shipped.currency(), shipped.microsPerUnit(), rows);
    }

    private static ModelRow withServiceTiers(ModelRow row, Map<String, Integer> serviceTiers) {
        return new ModelRow(row.provider(), row.model(), row.endpoints(), row.encoding(), row.contextWindowTokens(), row.maxOutputTokens(),
                row.inputMicrosPerMillionTokens(), row.cacheReadMicrosPerMillionTokens(), row.cacheWriteMicrosPerMillionTokens(),
                row.outputMicrosPerMillionTokens(), row.asOf(), row.source(), row.tiers(), row.timeWindows(), serviceTiers);
    }

    @BeforeEach
    void start() throws Exception {
        running = AdminTestNode.Running.start(dir, catalogWithServiceTiers());
        running.fund(50_000_000, "fund");
    }

    @AfterEach
    void stop() {
        if (running != null) {
            running.close();
        }
    }

    private enum Surface {
        CHAT("/v1/chat/completions", "gpt-4o-mini"), RESPONSES("/v1/responses", "gpt-4o-mini"), MESSAGES("/v1/messages", "claude-haiku-4-5");

        final String path;
        final String model;

        Surface(String path, String model) {
            this.path = path;
            this.model = model;
        }
    }

    /** A request that asks for {@code askedTier} (null: none) and that the simulator answers as served at {@code servedTier}. */
    private static String body(Surface surface, boolean stream, String askedTier, String servedTier) {
        String text = "Hello there [sim:events=9] [sim:cached=4]" + (surface == Surface.MESSAGES ? " [sim:cache-write=3]" : "")
                + (servedTier == null ? "" : " [sim:service-tier=" + servedTier + "]");
        String asked = askedTier == null ? "" : "\"service_tier\":\"" + askedTier + "\",";
        return switch (surface) {
            case CHAT -> "{\"model\":\"gpt-4o-mini\",\"stream\":" + stream + ",\"max_tokens\":64," + asked
                    + "\"messages\":[{\"role\":\"user\",\"content\":\"" + text + "\"}]}";
            case RESPONSES -> "{\"model\":\"gpt-4o-mini\",\"stream\":" + stream + ",\"max_output_tokens\":64," + asked + "\"input\":\"" + text + "\"}";
            case MESSAGES -> "{\"model\":\"claude-haiku-4-5\",\"stream\":" + stream + ",\"max_tokens\":64," + asked
                    + "\"messages\":[{\"role\":\"user\",\"content\":\"" + text + "\"}]}";
        };
    }

    private Billed send(Surface surface, String body) throws Exception {
        Billed billed = running.billed(surface.path, body);
        assertThat(billed.entry().path("model").asText()).isEqualTo(surface.model);
        assertThat(billed.tokens("cache_read_tokens")).isEqualTo(4);
        assertThat(billed.tokens("output_tokens")).isEqualTo(9);
        return billed;
    }

    /** ceil(sum(tokens * price) * percent / 100,000,000): the cost rule with a tier's percent, by hand. */
    private static long hand(Surface surface, JsonNode entry, int percent) {
        boolean anthropic = surface == Surface.MESSAGES;
        BigInteger numerator = BigInteger.valueOf(entry.path("input_tokens").asLong() * (anthropic ? 1_000_000 : 150_000)
                + entry.path("cache_read_tokens").asLong() * (anthropic ? 100_000 : 75_000)
                + entry.path("cache_write_tokens").asLong() * (anthropic ? 1_250_000 : 150_000)
                + entry.path("output_tokens").asLong() * (anthropic ? 5_000_000 : 600_000)).multiply(BigInteger.valueOf(percent));
        BigInteger[] qr = numerator.divideAndRemainder(BigInteger.valueOf(100_000_000));
        return qr[0].longValue() + (qr[1].signum() > 0 ? 1 : 0);
    }

    /** The reservation by hand: the prompt bound (body bytes + 64) at the dearest input price, 64 output tokens, both at {@code percent}. */
    private static long reservedByHand(Surface surface, String body, int percent) {
        long bound = body.getBytes(StandardCharsets.UTF_8).length + 64;
        boolean anthropic = surface == Surface.MESSAGES;
        return Math.ceilDiv(bound * (anthropic ? 1_250_000 : 150_000) * percent, 100_000_000L)
                + Math.ceilDiv(64L * (anthropic ? 5_000_000 : 600_000) * percent, 100_000_000L);
    }

    @Test
    void eachRequestIsBilledAtThePercentOfTheTierTheProviderSaysServedIt() throws Exception {
        for (Surface surface : Surface.values()) {
            String cheap = surface == Surface.MESSAGES ? "batch" : "flex";
            for (boolean stream : new boolean[] {false, true}) {
                String as = surface + " stream=" + stream;
                Billed half = send(surface, body(surface, stream, null, cheap));
                assertThat(half.costMicros()).as(as + " " + cheap).isEqualTo(hand(surface, half.entry(), 50));

                String dearBody = body(surface, stream, null, "priority");
                Billed dear = send(surface, dearBody);
                assertThat(dear.costMicros()).as(as + " priority").isEqualTo(hand(surface, dear.entry(), 200));
                // Asking no tier, the request could be served at priority: the reservation is the worst case at 200%.
                assertThat(dear.reservedMicros()).as(as + " priority reserved").isEqualTo(reservedByHand(surface, dearBody, 200))
                        .isGreaterThanOrEqualTo(dear.costMicros());

                Billed plain = send(surface, body(surface, stream, null, null)); // "default" / "standard": not a tier of the row
                assertThat(plain.costMicros()).as(as + " no tier").isEqualTo(hand(surface, plain.entry(), 100));
                assertThat(half.costMicros()).isLessThan(plain.costMicros());
                assertThat(dear.costMicros()).isGreaterThan(plain.costMicros());
            }
        }
        // The journal names the tier that served each debit, so re-rating with the same catalog prices each at its tier.
        AdminTestNode.assertRerateReproducesTheDebits(running.node());
    }

    @Test
    void aRequestThatAsksForFlexReservesAtTheDefaultPriceAndIsBilledAtFlex() throws Exception {
        for (boolean stream : new boolean[] {false, true}) {
            String body = body(Surface.CHAT, stream, "flex", "flex");
            Billed flex = send(Surface.CHAT, body);
            // A provider may serve a flex request at its default tier: the reservation must cover that.
            assertThat(flex.reservedMicros()).isEqualTo(reservedByHand(Surface.CHAT, body, 100));
            assertThat(flex.costMicros()).isEqualTo(hand(Surface.CHAT, flex.entry(), 50));
        }
        JsonNode pricing = AdminTestNode.admin(running.http(), running.node(), "GET", "/admin/v1/pricing", null, 200);
        int seen = 0;
        for (JsonNode row : pricing.path("data")) {
            if (row.path("model").asText().equals("gpt-4o-mini")) {
                assertThat(row.path("service_tiers").path("flex").asInt()).isEqualTo(50);
                assertThat(row.path("service_tiers").path("priority").asInt()).isEqualTo(200);
                seen++;
            } else if (row.path("model").asText().equals("gpt-4o")) {
                assertThat(row.path("service_tiers").isObject()).isTrue();
                assertThat(row.path("service_tiers")).isEmpty();
            }
        }
        assertThat(seen).isEqualTo(1);
    }
}
