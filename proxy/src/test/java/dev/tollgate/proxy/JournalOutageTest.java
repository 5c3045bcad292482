package dev.tollgate.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tollgate.config.Limits;
import dev.tollgate.proxy.sim.SimulatedProvider;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.DataPointSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import java.net.http.HttpResponse;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The journal's disk fills: new requests are refused with a 503 in each surface's shape before anything is
 * reserved, and service resumes by itself once there is room again.
 */
class JournalOutageTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String CHAT = "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    private static final String MESSAGES = "{\"model\":\"claude-haiku-4-5\",\"max_tokens\":64,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

    @Test
    void aFullDiskRefusesNewRequestsWith503AndServiceResumesWhenSpaceReturns() throws Exception {
        try (ProxyStack stack = new ProxyStack(50_000_000, Limits.defaults(), SimulatedProvider.Settings.defaults())) {
            assertThat(stack.postOpenAi("/v1/chat/completions", CHAT).statusCode()).isEqualTo(200);
            stack.awaitOutcomes(1);
            long available = stack.test.available();
            // No file system has this much free: to the health check the disk is as full as it gets.
            stack.test.gateway.ledger().writer().health().requireFreeBytes(Long.MAX_VALUE);

            HttpResponse<String> openAi = stack.postOpenAi("/v1/chat/completions", CHAT);
            assertThat(openAi.statusCode()).isEqualTo(503);
            JsonNode error = JSON.readTree(openAi.body());
            assertThat(error.at("/error/code").asText()).isEqualTo("service_unavailable");
            assertThat(error.at("/error/message").asText()).contains("nothing was charged");
            HttpResponse<String> anthropic = stack.postAnthropic("/v1/messages", MESSAGES);
            assertThat(anthropic.statusCode()).isEqualTo(503);
            assertThat(JSON.readTree(anthropic.body()).at("/type").asText()).isEqualTo("error");
            assertThat(JSON.readTree(anthropic.body()).at("/error/type").asText()).isEqualTo("api_error");
            assertThat(stack.test.reserved()).isZero();
            assertThat(stack.test.available()).isEqualTo(available);
            assertThat(stack.sim.requestsReceived()).as("nothing reached the provider").isEqualTo(1);
            assertThat(metric(stack, "tollgate_journal_accepting_records", Map.of())).isZero();
            assertThat(metric(stack, "tollgate_refusals", Map.of("surface", "openai", "reason", "journal_unavailable"))).isEqualTo(1);
            assertThat(metric(stack, "tollgate_refusals", Map.of("surface", "anthropic", "reason", "journal_unavailable"))).isEqualTo(1);

            stack.test.gateway.ledger().writer().health().requireFreeBytes(0); // space is back
            assertThat(stack.postOpenAi("/v1/chat/completions", CHAT).statusCode()).isEqualTo(200);
            assertThat(stack.postAnthropic("/v1/messages", MESSAGES).statusCode()).isEqualTo(200);
            stack.awaitOutcomes(3);
            assertThat(stack.test.reserved()).isZero();
            assertThat(stack.test.conservationError()).isZero();
            assertThat(stack.test.replayJournal().account(TestGateways.ACCOUNT).availableMicros()).isEqualTo(stack.test.available());
            ReliabilityLog.row("journal", "disk full", "free space on the journal's disk below journal.minFreeBytes, then back",
                    "503 in each surface's shape, nothing reserved or sent upstream; served again once space returns; journal == counters",
                    5, 0, ReliabilityLog.proxyTest("JournalOutageTest"));
        }
    }

    /** One data point of the node's metrics, read from its registry (a counter's name without {@code _total}). */
    private static double metric(ProxyStack stack, String name, Map<String, String> labels) {
        for (MetricSnapshot snapshot : stack.test.gateway.metrics().registry().scrape()) {
            if (!snapshot.getMetadata().getName().equals(name)) {
                continue;
            }
            for (DataPointSnapshot point : snapshot.getDataPoints()) {
                if (labels.entrySet().stream().allMatch(label -> label.getValue().equals(point.getLabels().get(label.getKey())))) {
                    return point instanceof CounterSnapshot.CounterDataPointSnapshot counter ? counter.getValue()
                            : ((GaugeSnapshot.GaugeDataPointSnapshot) point).getValue();
                }
            }
        }
        throw new AssertionError("no " + name + labels);
    }
}
