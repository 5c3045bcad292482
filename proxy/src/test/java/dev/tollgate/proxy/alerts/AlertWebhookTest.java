package dev.tollgate.proxy.alerts;

import static dev.tollgate.proxy.admin.AdminTestNode.admin;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import dev.tollgate.config.AlertsConfig;
import dev.tollgate.config.ListenerConfig;
import dev.tollgate.config.Secret;
import dev.tollgate.config.TollgateConfig;
import dev.tollgate.metering.ApiKeys;
import dev.tollgate.proxy.TollgateNode;
import dev.tollgate.proxy.admin.AdminTestNode;
import dev.tollgate.proxy.sim.SimulatedProvider;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Soft alerts through the whole node: set over the admin API, raised once by the requests that cross them, and delivered
 * to a webhook receiver here, signed, retried after failures with the same event id, and neither lost nor sent again
 * across a restart.
 */
class AlertWebhookTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String SECRET = "whsec-test-0123456789";

    @TempDir
    Path dir;

    private SimulatedProvider sim;
    private TollgateNode node;
    private HttpServer receiver;
    /** Every delivery attempt the receiver saw. */
    private final List<Delivery> deliveries = new CopyOnWriteArrayList<>();
    /** How many of the next attempts the receiver refuses with 503. */
    private final AtomicInteger refuseNext = new AtomicInteger();
    /** A status the receiver answers every attempt with while set (0: none). */
    private final AtomicInteger refuseWith = new AtomicInteger();
    private final String configKey = ApiKeys.newRawKey(new SecureRandom());
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();

    private record Delivery(String eventId, String signature, byte[] body, int answered) {
        JsonNode json() throws Exception {
            return JSON.readTree(body);
        }
    }

    @BeforeEach
    void start() throws Exception {
        sim = SimulatedProvider.start(SimulatedProvider.Settings.defaults());
        receiver = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        receiver.createContext("/hooks/tollgate", exchange -> {
            byte[] body = exchange.getRequestBody().readAllBytes();
            int status = refuseWith.get() != 0 ? refuseWith.get() : refuseNext.getAndUpdate(n -> Math.max(0, n - 1)) > 0 ? 503 : 204;
            deliveries.add(new Delivery(exchange.getRequestHeaders().getFirst("Tollgate-Event-Id"),
                    exchange.getRequestHeaders().getFirst("Tollgate-Signature"), body, status));
            exchange.sendResponseHeaders(status, -1);
            exchange.close();
        });
        receiver.start();
        node = startNode();
    }

    private TollgateNode startNode() throws Exception {
        return startNode(4, 20);
    }

    private TollgateNode startNode(int maxAttempts, int initialBackoffMs) throws Exception {
        URI url = URI.create("http://127.0.0.1:" + receiver.getAddress().getPort() + "/hooks/tollgate");
        TollgateConfig config = AdminTestNode.config(sim, dir, configKey, new ListenerConfig("127.0.0.1", 0))
                .withAlerts(new AlertsConfig(new AlertsConfig.Webhook(url, new Secret(SECRET), maxAttempts, initialBackoffMs, 200, 2_000)));
        return AdminTestNode.start(config);
    }

    @AfterEach
    void stop() {
        if (node != null) {
            node.close();
        }
        receiver.stop(0);
        sim.close();
    }

    private JsonNode admin(String method, String path, String body, int status, String... headers) throws Exception {
        return AdminTestNode.admin(http, node, method, path, body, status, headers);
    }

    /** One chat request that must succeed; returns what its reservation held (its worst case). */
    private long chat(String key) throws Exception {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + node.port() + "/v1/chat/completions"))
                .timeout(Duration.ofSeconds(60)).header("Authorization", "Bearer " + key).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"gpt-4o-mini\",\"max_tokens\":100,\"messages\":[{\"role\":\"user\","
                        + "\"content\":\"hello [sim:events=20]\"}]}")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        return Long.parseLong(response.headers().firstValue("x-tollgate-reserved-micros").orElseThrow());
    }

    private long debited(String account) throws Exception {
        node.gateway().ledger().writer().awaitWritten();
        return admin("GET", "/admin/v1/accounts/" + account, null, 200).path("debited_micros").asLong();
    }

    private List<Delivery> awaitDelivered(int count) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (deliveries.stream().filter(d -> d.answered() == 204).count() < count && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        List<Delivery> delivered = deliveries.stream().filter(d -> d.answered() == 204).toList();
        assertThat(delivered).as("deliveries so far: %s", deliveries).hasSize(count);
        return delivered;
    }

    private static void assertSigned(Delivery delivery) throws Exception {
        String[] parts = delivery.signature().split(",");
        assertThat(parts[0]).startsWith("t=");
        assertThat(parts[1]).startsWith("v1=");
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(SECRET.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
        mac.update((parts[0].substring(2) + ".").getBytes(StandardCharsets.US_ASCII));
        assertThat(parts[1].substring(3)).isEqualTo(HexFormat.of().formatHex(mac.doFinal(delivery.body())));
        assertThat(Math.abs(Long.parseLong(parts[0].substring(2)) - System.currentTimeMillis() / 1000)).isLessThan(120);
    }

    @Test
    void aKeysCapAlertIsDeliveredSignedOnceAfterRetriesWithOneEventId() throws Exception {
        admin("POST", "/admin/v1/accounts", "{\"id\":\"acme\"}", 201);
        admin("POST", "/admin/v1/accounts/acme/credits", "{\"amount_micros\":100000000}", 201, "Idempotency-Key", "fund");
        JsonNode issued = admin("POST", "/admin/v1/keys", "{\"account\":\"acme\",\"label\":\"ci\",\"limits\":{\"alert_percent\":50}}", 201);
        assertThat(issued.path("limits").path("alert_percent").asInt()).isEqualTo(50);
        String secret = issued.path("key").asText();
        String keyPath = "/admin/v1/keys/" + issued.path("id").asText();

        long worstCase = chat(secret);
        long cost = debited("acme");
        assertThat(cost).isPositive();
        // The first request spent cost; a cap of cost + worstCase admits one more, and an alert percentage just under what
        // two requests spend is reached by the second one only.
        long cap = cost + worstCase;
        int percent = (int) (200 * cost / cap);
        admin("PATCH", keyPath, "{\"limits\":{\"day_micros\":" + cap + ",\"alert_percent\":" + percent + "}}", 200);
        assertThat(admin("GET", "/admin/v1/audit?limit=2", null, 200).path("data").findValuesAsText("action")).contains("key.alert_set");
        refuseNext.set(2);
        chat(secret);
        Delivery delivery = awaitDelivered(1).getFirst();
        assertThat(deliveries).hasSize(3).extracting(Delivery::eventId).containsOnly(delivery.eventId());
        assertThat(deliveries).extracting(Delivery::answered).containsExactly(503, 503, 204);
        assertThat(delivery.eventId()).matches("alrt_[0-9a-f]{24}");
        assertSigned(delivery);
        JsonNode body = delivery.json();
        assertThat(body.path("id").asText()).isEqualTo(delivery.eventId());
        assertThat(body.path("type").asText()).isEqualTo("key.spend_alert");
        assertThat(body.path("account").asText()).isEqualTo("acme");
        assertThat(body.path("key").path("id").asText()).isEqualTo(issued.path("id").asText());
        assertThat(body.path("key").path("label").asText()).isEqualTo("ci");
        assertThat(body.path("window").asText()).isEqualTo("day");
        assertThat(body.path("period_start").asText()).endsWith("T00:00:00Z");
        assertThat(body.path("cap_micros").asLong()).isEqualTo(cap);
        assertThat(body.path("threshold_micros").asLong()).isEqualTo(Math.ceilDiv(cap * percent, 100)).isGreaterThan(cost);
        assertThat(body.path("used_micros").asLong()).as("held plus debited, nothing held now").isEqualTo(debited("acme"));
        assertThat(body.toString()).doesNotContain(secret).doesNotContain(ApiKeys.sha256Hex(secret));

        String metrics = AdminTestNode.metrics(http, node);
        assertThat(metrics).contains("tollgate_alerts_raised_total{window=\"day\"} 1.0")
                .contains("tollgate_alert_webhook_deliveries_total{outcome=\"delivered\"} 1.0")
                .contains("tollgate_alert_webhook_failed_attempts_total 2.0");

        // The same window does not alert again, nor does a restart: the crossing is in the journal.
        node.close();
        node = startNode();
        Thread.sleep(500); // time enough for a wrongly redelivered alert to arrive
        assertThat(deliveries).hasSize(3);
        assertThat(admin("GET", keyPath, null, 200).path("limits").path("alert_percent").asInt()).isEqualTo(percent);
    }

    @Test
    void aRefusedBodyIsGivenUpAtOnceAndAnUnreadableCursorDeliversAgainWithTheSameIds() throws Exception {
        admin("POST", "/admin/v1/accounts", "{\"id\":\"acme\",\"low_balance_threshold_micros\":9999999}", 201);
        admin("POST", "/admin/v1/accounts/acme/credits", "{\"amount_micros\":10000000}", 201, "Idempotency-Key", "fund");
        String secret = admin("POST", "/admin/v1/keys", "{\"account\":\"acme\"}", 201).path("key").asText();
        refuseWith.set(400);
        chat(secret); // below: raised, and refused with 400
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!AdminTestNode.metrics(http, node).contains("tollgate_alert_webhook_deliveries_total{outcome=\"given_up\"} 1.0")
                && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertThat(deliveries).as("400 is not tried again").hasSize(1);
        assertThat(deliveries.getFirst().answered()).isEqualTo(400);
        refuseWith.set(0);
        admin("POST", "/admin/v1/accounts/acme/credits", "{\"amount_micros\":1000000}", 201, "Idempotency-Key", "top-up");
        admin("PATCH", "/admin/v1/accounts/acme", "{\"low_balance_threshold_micros\":20000000}", 200);
        chat(secret);
        String second = awaitDelivered(1).getFirst().eventId();
        assertThat(second).isNotEqualTo(deliveries.getFirst().eventId());

        node.close();
        java.nio.file.Files.writeString(dir.resolve("journal").resolve(AlertWebhook.CURSOR_FILE), "not a position\n");
        node = startNode();
        List<Delivery> again = awaitDelivered(3);
        assertThat(again.subList(1, 3)).extracting(Delivery::eventId).as("the journal's alerts again, with their ids")
                .containsExactly(deliveries.getFirst().eventId(), second);
    }

    @Test
    void aLowBalanceAlertRaisedWhileTheReceiverIsDownIsDeliveredAfterARestart() throws Exception {
        node.close();
        node = startNode(100, 200); // patient: it must still be trying when the node stops
        admin("POST", "/admin/v1/accounts", "{\"id\":\"acme\"}", 201);
        admin("POST", "/admin/v1/accounts/acme/credits", "{\"amount_micros\":10000000}", 201, "Idempotency-Key", "fund");
        String secret = admin("POST", "/admin/v1/keys", "{\"account\":\"acme\",\"label\":\"batch\"}", 201).path("key").asText();
        JsonNode account = admin("PATCH", "/admin/v1/accounts/acme", "{\"low_balance_threshold_micros\":9999999}", 200);
        assertThat(account.path("low_balance_threshold_micros").asLong()).isEqualTo(9_999_999);
        assertThat(admin("GET", "/admin/v1/audit?limit=1", null, 200).path("data").get(0).path("action").asText())
                .isEqualTo("account.low_balance_threshold_set");

        refuseNext.set(Integer.MAX_VALUE); // the receiver is down for now
        chat(secret);
        chat(secret); // still below: no second alert
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (deliveries.isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        node.close(); // while the webhook waits to try again
        String eventId = deliveries.getFirst().eventId();
        refuseNext.set(0);
        node = startNode();
        Delivery delivery = awaitDelivered(1).getFirst();
        assertThat(delivery.eventId()).isEqualTo(eventId);
        assertThat(deliveries).extracting(Delivery::eventId).containsOnly(eventId);
        assertSigned(delivery);
        JsonNode body = delivery.json();
        assertThat(body.path("type").asText()).isEqualTo("account.low_balance");
        assertThat(body.path("threshold_micros").asLong()).isEqualTo(9_999_999);
        assertThat(body.path("balance_micros").asLong()).isLessThan(9_999_999).isPositive();
        assertThat(body.path("key").path("label").asText()).isEqualTo("batch");

        // A top-up above the threshold re-arms it: the next debit below raises a second alert, with a new id.
        admin("POST", "/admin/v1/accounts/acme/credits", "{\"amount_micros\":1000000}", 201, "Idempotency-Key", "top-up");
        chat(secret);
        admin("PATCH", "/admin/v1/accounts/acme", "{\"low_balance_threshold_micros\":20000000}", 200);
        chat(secret);
        List<Delivery> both = awaitDelivered(2);
        assertThat(both.get(1).eventId()).isNotEqualTo(eventId);
        assertThat(admin("PATCH", "/admin/v1/accounts/acme", "{\"low_balance_threshold_micros\":null}", 200)
                .path("low_balance_threshold_micros").isNull()).isTrue();
        JsonNode refused = admin("PATCH", "/admin/v1/accounts/acme", "{\"low_balance_threshold_micros\":-5}", 400);
        assertThat(refused.path("error").path("message").asText()).contains("low_balance_threshold_micros");
    }
}
