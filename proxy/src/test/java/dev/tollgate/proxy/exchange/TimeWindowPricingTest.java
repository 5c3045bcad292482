package dev.tollgate.proxy.exchange;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tollgate.config.CatalogLoader;
import dev.tollgate.config.ListenerConfig;
import dev.tollgate.config.ModelRow;
import dev.tollgate.config.PriceCatalog;
import dev.tollgate.config.TimeWindow;
import dev.tollgate.metering.ApiKeys;
import dev.tollgate.proxy.TollgateNode;
import dev.tollgate.proxy.admin.AdminTestNode;
import dev.tollgate.proxy.sim.SimulatedProvider;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.DayOfWeek;
import java.time.Duration;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hours priced differently, through the proxy: a model whose time window holds now is billed at its percentage of every
 * price, to the micro-unit, JSON and streamed; one whose window does not hold now at its own prices.
 */
class TimeWindowPricingTest {
    @TempDir
    Path dir;

    private SimulatedProvider sim;
    private TollgateNode node;
    private final String key = ApiKeys.newRawKey(new SecureRandom());
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();

    /** The shipped catalog with gpt-4o-mini at half price from an hour ago to an hour from now (UTC), and gpt-4o at half price only later. */
    private static PriceCatalog catalogWithWindowsAroundNow() {
        PriceCatalog shipped = CatalogLoader.loadBuiltin();
        ZonedDateTime now = ZonedDateTime.now(ZoneId.of("UTC"));
        int minute = now.getHour() * 60 + now.getMinute();
        List<ModelRow> rows = new ArrayList<>();
        for (ModelRow row : shipped.rows()) {
            if (row.model().equals("gpt-4o-mini")) {
                row = withWindow(row, (minute + 1_440 - 60) % 1_440, (minute + 60) % 1_440);
            } else if (row.model().equals("gpt-4o")) {
                row = withWindow(row, (minute + 120) % 1_440, (minute + 180) % 1_440);
            }
            rows.add(row);
        }
        return new PriceCatalog(shipped.currency(), shipped.microsPerUnit(), rows);
    }

    private static ModelRow withWindow(ModelRow row, int from, int until) {
        return new ModelRow(row.provider(), row.model(), row.endpoints(), row.encoding(), row.contextWindowTokens(), row.maxOutputTokens(),
                row.inputMicrosPerMillionTokens(), row.cacheReadMicrosPerMillionTokens(), row.cacheWriteMicrosPerMillionTokens(),
                row.outputMicrosPerMillionTokens(), row.asOf(), row.source(), row.tiers(),
                List.of(new TimeWindow(ZoneId.of("UTC"), EnumSet.allOf(DayOfWeek.class), from, until, 50)));
    }

    @BeforeEach
    void start() throws Exception {
        sim = SimulatedProvider.start(SimulatedProvider.Settings.defaults());
        node = AdminTestNode.start(AdminTestNode.config(sim, dir, key, new ListenerConfig("127.0.0.1", 0), catalogWithWindowsAroundNow()));
    }

    @AfterEach
    void stop() {
        if (node != null) {
            node.close();
        }
        sim.close();
    }

    private JsonNode billed(String model, boolean stream) throws Exception {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + node.port() + "/v1/chat/completions"))
                .timeout(Duration.ofSeconds(60)).header("Authorization", "Bearer " + key).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"" + model + "\",\"stream\":" + stream + ",\"max_tokens\":64,"
                        + "\"messages\":[{\"role\":\"user\",\"content\":\"Hello there [sim:events=9] [sim:cached=4]\"}]}")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        node.gateway().ledger().writer().awaitWritten();
        JsonNode entry = AdminTestNode.admin(http, node, "GET", "/admin/v1/requests?account=bootstrap&limit=1", null, 200).path("data").get(0);
        assertThat(entry.path("model").asText()).isEqualTo(model);
        return entry;
    }

    private static long hand(JsonNode entry, long input, long cacheRead, long output) {
        long numerator = entry.path("input_tokens").asLong() * input + entry.path("cache_read_tokens").asLong() * cacheRead
                + entry.path("output_tokens").asLong() * output;
        return Math.ceilDiv(numerator, 1_000_000);
    }

    @Test
    void aRequestAdmittedInsideAWindowIsBilledAtItsPercentageAndOneOutsideAtTheRowsPrices() throws Exception {
        for (boolean stream : new boolean[] {false, true}) {
            JsonNode inside = billed("gpt-4o-mini", stream);
            assertThat(inside.path("cache_read_tokens").asLong()).isEqualTo(4);
            assertThat(inside.path("output_tokens").asLong()).isEqualTo(9);
            // gpt-4o-mini is $0.15 in, $0.075 cached, $0.60 out: half of each.
            assertThat(inside.path("cost_micros").asLong()).as("stream=%s inside", stream).isEqualTo(hand(inside, 75_000, 37_500, 300_000));
            JsonNode outside = billed("gpt-4o", stream);
            assertThat(outside.path("cost_micros").asLong()).as("stream=%s outside", stream).isEqualTo(hand(outside, 2_500_000, 1_250_000, 10_000_000));
        }
        // Re-rated under the catalog that priced them, the journal's debits come out exactly as billed.
        AdminTestNode.assertRerateReproducesTheDebits(node);
        JsonNode pricing = AdminTestNode.admin(http, node, "GET", "/admin/v1/pricing", null, 200);
        for (JsonNode row : pricing.path("data")) {
            if (row.path("model").asText().equals("gpt-4o-mini")) {
                assertThat(row.path("time_windows").get(0).path("percent").asInt()).isEqualTo(50);
                assertThat(row.path("time_windows").get(0).path("days")).hasSize(7);
            }
        }
    }
}
