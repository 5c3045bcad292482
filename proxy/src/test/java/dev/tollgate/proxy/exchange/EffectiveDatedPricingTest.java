package dev.tollgate.proxy.exchange;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tollgate.config.CatalogLoader;
import dev.tollgate.config.ModelRow;
import dev.tollgate.config.PriceCatalog;
import dev.tollgate.journal.JournalEvent;
import dev.tollgate.proxy.TollgateNode;
import dev.tollgate.proxy.admin.AdminTestNode;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A promotion that ends, through the proxy: gpt-4o-mini's output at half price ($0.30) until {@link #promotionEnd},
 * at its list price ($0.60) from then on. A request admitted in each period is billed to the micro-unit at that
 * period's prices, JSON and streamed; the journal's facts name the price set; the statement shows a line per period;
 * a re-rating under the same catalog reproduces every debit; and a model with no price set in force yet is refused as
 * a model Tollgate does not know.
 */
class EffectiveDatedPricingTest {
    @TempDir
    Path dir;

    private AdminTestNode.Running running;
    private TollgateNode node;
    /** The gateway's clock: the instant each request is admitted at. */
    private final AtomicLong clockMs = new AtomicLong();
    /** Relative to the system's clock (to the second), so the journal's own timestamps stay near the admission times. */
    private final Instant promotionEnd = Instant.ofEpochSecond(System.currentTimeMillis() / 1000).plus(Duration.ofHours(1));

    /** The shipped catalog with gpt-4o-mini promoted until {@link #promotionEnd}, and gpt-4o priced only from a day after it. */
    private PriceCatalog promotedCatalog() {
        PriceCatalog shipped = CatalogLoader.loadBuiltin();
        List<ModelRow> rows = new ArrayList<>();
        for (ModelRow row : shipped.rows()) {
            if (row.model().equals("gpt-4o-mini")) {
                rows.add(new ModelRow(row.provider(), row.model(), row.endpoints(), row.encoding(), row.contextWindowTokens(), row.maxOutputTokens(),
                        row.inputMicrosPerMillionTokens(), row.cacheReadMicrosPerMillionTokens(), row.cacheWriteMicrosPerMillionTokens(), 300_000,
                        row.asOf(), row.source()).withEffectivePeriod(null, promotionEnd));
                rows.add(row.withEffectivePeriod(promotionEnd, null));
            } else if (row.model().equals("gpt-4o")) {
                rows.add(row.withEffectivePeriod(promotionEnd.plus(Duration.ofDays(1)), null));
            } else {
                rows.add(row);
            }
        }
        return new PriceCatalog(shipped.currency(), shipped.microsPerUnit(), rows);
    }

    @BeforeEach
    void start() throws Exception {
        running = AdminTestNode.Running.start(dir, promotedCatalog());
        node = running.node();
        node.gateway().useClock(clockMs::get);
    }

    @AfterEach
    void stop() {
        if (running != null) {
            running.close();
        }
    }

    private HttpResponse<String> chat(String model, boolean stream) throws Exception {
        return running.http().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + node.port() + "/v1/chat/completions"))
                .timeout(Duration.ofSeconds(60)).header("Authorization", "Bearer " + running.key()).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"" + model + "\",\"stream\":" + stream + ",\"max_tokens\":64,"
                        + "\"messages\":[{\"role\":\"user\",\"content\":\"Hello there [sim:events=9] [sim:cached=4]\"}]}")).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** The journal's settlements by request id. */
    private Map<String, JournalEvent.Settled> settlements() {
        node.gateway().ledger().writer().awaitWritten();
        Map<String, JournalEvent.Settled> byId = new HashMap<>();
        node.journal().readAfter(-1, (index, event) -> {
            if (event instanceof JournalEvent.Settled settled) {
                byId.put(settled.request().requestId(), settled);
            }
        });
        return byId;
    }

    /** gpt-4o-mini's cost worked out by hand: $0.15 in, $0.075 cached, {@code outputMicros} out, rounded up once. */
    private static long byHand(JournalEvent.Settled settled, long outputMicros) {
        return Math.ceilDiv(settled.usage().inputTokens() * 150_000 + settled.usage().cacheReadTokens() * 75_000
                + settled.usage().outputTokens() * outputMicros, 1_000_000);
    }

    @Test
    void eachRequestIsBilledAtThePricesInForceWhenItWasAdmittedAndTheStatementHasALinePerPeriod() throws Exception {
        Map<String, Long> outputPriceById = new HashMap<>();
        Map<String, String> rowVersionById = new HashMap<>();
        for (boolean stream : new boolean[] {false, true}) {
            for (long admittedMs : new long[] {promotionEnd.toEpochMilli() - 1, promotionEnd.toEpochMilli()}) {
                clockMs.set(admittedMs);
                HttpResponse<String> response = chat("gpt-4o-mini", stream);
                assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
                String id = response.headers().firstValue("x-tollgate-request-id").orElseThrow();
                boolean promoted = admittedMs < promotionEnd.toEpochMilli();
                outputPriceById.put(id, promoted ? 300_000L : 600_000L);
                rowVersionById.put(id, promoted ? "" : promotionEnd.toString());
            }
        }
        Map<String, JournalEvent.Settled> settled = settlements();
        Map<String, Long> costByRowVersion = new HashMap<>();
        TreeSet<YearMonth> months = new TreeSet<>();
        for (Map.Entry<String, Long> expected : outputPriceById.entrySet()) {
            JournalEvent.Settled debit = settled.get(expected.getKey());
            assertThat(debit.usage().outputTokens()).isEqualTo(9);
            assertThat(debit.usage().cacheReadTokens()).isEqualTo(4);
            assertThat(debit.costMicros()).as("%s at output %d", expected.getKey(), expected.getValue()).isEqualTo(byHand(debit, expected.getValue()));
            assertThat(debit.request().rowVersion()).isEqualTo(rowVersionById.get(expected.getKey()));
            assertThat(debit.request().catalogVersion()).isEqualTo(node.gateway().catalog().version());
            costByRowVersion.merge(debit.request().rowVersion(), debit.costMicros(), Long::sum);
            months.add(YearMonth.from(Instant.ofEpochMilli(debit.timestampMs()).atZone(ZoneOffset.UTC)));
        }
        assertThat(costByRowVersion.get("")).as("the two periods cost differently").isNotEqualTo(costByRowVersion.get(promotionEnd.toString()));

        // Re-rated under the catalog that priced them, each at the version in force at its admission: exactly as billed.
        AdminTestNode.assertRerateReproducesTheDebits(node);

        // The statement (of every month the debits fell in, normally one) has a line per price set, each its period's cost.
        node.reconciler().awaitCaughtUp(Duration.ofSeconds(20));
        Map<String, Long> statementByRowVersion = new HashMap<>();
        for (YearMonth month : months) {
            JsonNode statement = AdminTestNode.admin(running.http(), node, "GET", "/admin/v1/accounts/bootstrap/statements/" + month, null, 200);
            for (JsonNode line : statement.path("debits")) {
                assertThat(line.path("model").asText()).isEqualTo("gpt-4o-mini");
                statementByRowVersion.merge(line.path("row_version").asText(), line.path("cost_micros").asLong(), Long::sum);
            }
        }
        assertThat(statementByRowVersion).isEqualTo(costByRowVersion);
    }

    @Test
    void aModelWithNoPriceInForceWhenTheRequestArrivesIsRefusedAsUnknown() throws Exception {
        clockMs.set(promotionEnd.toEpochMilli());
        HttpResponse<String> refused = chat("gpt-4o", false);
        assertThat(refused.statusCode()).as(refused.body()).isEqualTo(404);
        assertThat(refused.body()).contains("model_not_found").contains("The model `gpt-4o` does not exist");
        assertThat(settlements()).isEmpty();
        clockMs.set(promotionEnd.plus(Duration.ofDays(1)).toEpochMilli());
        assertThat(chat("gpt-4o", false).statusCode()).as("once its first price set has begun").isEqualTo(200);
    }
}
