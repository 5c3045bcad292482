package dev.tollgate.proxy.exchange;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tollgate.metering.ApiKeys;
import dev.tollgate.proxy.TollgateNode;
import dev.tollgate.proxy.admin.AdminTestNode;
import dev.tollgate.proxy.sim.SimulatedProvider;
import java.math.BigInteger;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model that reprices long prompts (the shipped claude-sonnet-4-5: above 200,000 prompt tokens every token at $6 in,
 * $0.60 cache read, $7.50 cache write and $22.50 out instead of $3, $0.30, $3.75 and $15), billed through the proxy
 * to the micro-unit at the threshold and one token either side, streamed and not, against the hand-computed cost.
 */
class LongPromptTierTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Bytes a tokenizer never sees (the simulated provider counts only the messages), so the prompt bound is above the tier. */
    private static final String PADDING = "u".repeat(260_000);

    @TempDir
    Path dir;

    private SimulatedProvider sim;
    private TollgateNode node;
    private final String key = ApiKeys.newRawKey(new SecureRandom());
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();

    @BeforeEach
    void start() throws Exception {
        sim = SimulatedProvider.start(SimulatedProvider.Settings.defaults());
        node = AdminTestNode.start(sim, dir, key);
        AdminTestNode.admin(http, node, "POST", "/admin/v1/accounts/bootstrap/credits", "{\"amount_micros\":50000000}", 201, "Idempotency-Key", "fund");
    }

    @AfterEach
    void stop() {
        if (node != null) {
            node.close();
        }
        sim.close();
    }

    /** One request whose provider reports {@code cacheReads} cache reads and 10 cache writes (no plain input); its billed cost. */
    private long billed(long cacheReads, boolean stream, long[] expected) throws Exception {
        String body = "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":50,\"stream\":" + stream + ",\"metadata\":{\"user_id\":\"" + PADDING + "\"},"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"Hi [sim:cached=" + cacheReads + "] [sim:cache-write=10] [sim:events=7]\"}]}";
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + node.port() + "/v1/messages"))
                .timeout(Duration.ofSeconds(60)).header("x-api-key", key).header("anthropic-version", "2023-06-01")
                .header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        node.gateway().ledger().writer().awaitWritten();
        JsonNode entry = AdminTestNode.admin(http, node, "GET", "/admin/v1/requests?account=bootstrap&limit=1", null, 200).path("data").get(0);
        assertThat(entry.path("status").asText()).isEqualTo("settled");
        assertThat(entry.path("cache_read_tokens").asLong()).isEqualTo(cacheReads);
        assertThat(entry.path("cache_write_tokens").asLong()).isEqualTo(10);
        assertThat(entry.path("input_tokens").asLong()).isZero();
        expected[0] = entry.path("output_tokens").asLong();
        assertThat(expected[0]).isPositive();
        return entry.path("cost_micros").asLong();
    }

    /** (cacheReads * cacheRead + 10 * cacheWrite + output * out) / 1,000,000, rounded up: the cost rule by hand. */
    private static long hand(long cacheReads, long output, long cacheRead, long cacheWrite, long out) {
        BigInteger[] qr = BigInteger.valueOf(cacheReads * cacheRead + 10 * cacheWrite + output * out).divideAndRemainder(BigInteger.valueOf(1_000_000));
        return qr[0].longValue() + (qr[1].signum() > 0 ? 1 : 0);
    }

    @Test
    void theWholeRequestIsBilledAtTheTierOncePastTheThresholdAndNotBefore() throws Exception {
        for (boolean stream : new boolean[] {false, true}) {
            long[] output = new long[1];
            long below = billed(199_989, stream, output); // 199,999 prompt tokens
            assertThat(below).as("stream=%s, one below", stream).isEqualTo(hand(199_989, output[0], 300_000, 3_750_000, 15_000_000));
            long at = billed(199_990, stream, output); // exactly 200,000: not above it
            assertThat(at).as("stream=%s, at the threshold", stream).isEqualTo(hand(199_990, output[0], 300_000, 3_750_000, 15_000_000));
            long above = billed(199_991, stream, output); // 200,001: every token at the tier
            assertThat(above).as("stream=%s, one above", stream).isEqualTo(hand(199_991, output[0], 600_000, 7_500_000, 22_500_000));
            assertThat(above).isGreaterThan(2 * at - 100);
        }
        // Re-rated under the catalog that priced them, the journal's debits come out exactly as billed.
        AdminTestNode.assertRerateReproducesTheDebits(node);
        JsonNode pricing = AdminTestNode.admin(http, node, "GET", "/admin/v1/pricing", null, 200);
        JsonNode sonnet = null;
        for (JsonNode row : pricing.path("data")) {
            if (row.path("model").asText().equals("claude-sonnet-4-5")) {
                sonnet = row;
            }
        }
        assertThat(sonnet).isNotNull();
        assertThat(sonnet.path("tiers").get(0).path("above_prompt_tokens").asLong()).isEqualTo(200_000);
        assertThat(sonnet.path("tiers").get(0).path("output_micros_per_million_tokens").asLong()).isEqualTo(22_500_000);
    }
}
