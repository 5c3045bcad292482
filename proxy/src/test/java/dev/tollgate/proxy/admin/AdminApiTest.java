package dev.tollgate.proxy.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tollgate.config.AccountConfig;
import dev.tollgate.config.CatalogLoader;
import dev.tollgate.config.Durability;
import dev.tollgate.config.JournalConfig;
import dev.tollgate.config.Limits;
import dev.tollgate.config.ListenerConfig;
import dev.tollgate.config.Protocol;
import dev.tollgate.config.ProviderConfig;
import dev.tollgate.config.Secret;
import dev.tollgate.config.TollgateConfig;
import dev.tollgate.journal.Journal;
import dev.tollgate.journal.LedgerState;
import dev.tollgate.metering.ApiKeys;
import dev.tollgate.proxy.TollgateNode;
import dev.tollgate.proxy.Transport;
import dev.tollgate.proxy.sim.SimulatedProvider;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The admin API over real HTTP on a real node, with real traffic through the simulated provider: funding an
 * account, issuing a key, spending with it, reading usage, statements, exports and the audit trail, and every
 * refusal; then a restart, which must give back exactly the state before it.
 */
class AdminApiTest {
    private static final String WRITE_TOKEN = AdminTestNode.WRITE_TOKEN;
    private static final String READ_TOKEN = AdminTestNode.READ_TOKEN;
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private SimulatedProvider sim;
    private TollgateNode node;
    private final String configKey = ApiKeys.newRawKey(new SecureRandom());
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();

    @BeforeEach
    void start() throws Exception {
        sim = SimulatedProvider.start(SimulatedProvider.Settings.defaults());
        node = startNode(new ListenerConfig("127.0.0.1", 0));
    }

    private TollgateNode startNode(ListenerConfig admin) throws InterruptedException {
        return AdminTestNode.start(sim, dir, configKey);
    }

    @AfterEach
    void stop() {
        if (node != null) {
            node.close();
        }
        if (sim != null) {
            sim.close();
        }
    }

    // --- helpers ----------------------------------------------------------------------------------

    private HttpResponse<String> admin(String method, String path, String token, String body, String... headers) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + node.adminPort() + path)).timeout(Duration.ofSeconds(20))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (token != null) {
            request.header("Authorization", "Bearer " + token);
        }
        if (body != null) {
            request.header("Content-Type", "application/json");
        }
        for (int i = 0; i < headers.length; i += 2) {
            request.header(headers[i], headers[i + 1]);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private JsonNode ok(HttpResponse<String> response, int status) throws Exception {
        assertThat(response.statusCode()).as(response.body()).isEqualTo(status);
        assertThat(response.headers().firstValue("content-type")).hasValueSatisfying(type -> assertThat(type).startsWith("application/json"));
        return JSON.readTree(response.body());
    }

    /** A refusal: the status and {"error":{"type":..., "message":...}} naming the problem. */
    private void refused(HttpResponse<String> response, int status, String type, String messagePart) throws Exception {
        JsonNode body = ok(response, status);
        assertThat(body.path("error").path("type").asText()).as(response.body()).isEqualTo(type);
        assertThat(body.path("error").path("message").asText()).as(response.body()).contains(messagePart);
    }

    private HttpResponse<String> chat(String key, String prompt) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + node.port() + "/v1/chat/completions")).timeout(Duration.ofSeconds(20))
                .header("Authorization", "Bearer " + key).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"gpt-4o-mini\",\"max_tokens\":64,\"messages\":[{\"role\":\"user\",\"content\":\""
                        + prompt + "\"}]}")).build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> proxyGet(String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + node.port() + path)).timeout(Duration.ofSeconds(20))
                .header("Authorization", "Bearer " + WRITE_TOKEN).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    private JsonNode account(String id) throws Exception {
        return ok(admin("GET", "/admin/v1/accounts/" + id, READ_TOKEN, null), 200);
    }

    // --- tests --------------------------------------------------------------------------------------

    @Test
    void withoutAValidTokenOfTheRightRoleNothingIsAnsweredOrChanged() throws Exception {
        refused(admin("GET", "/admin/v1/accounts", null, null), 401, "authentication_error", "Authorization: Bearer");
        refused(admin("GET", "/admin/v1/accounts", "ops-secret-0123456789abcdeX", null), 401, "authentication_error", "not valid");
        refused(admin("GET", "/admin/v1/accounts", configKey, null), 401, "authentication_error", "not valid");
        refused(admin("POST", "/admin/v1/accounts", READ_TOKEN, "{\"id\":\"nope\"}"), 403, "permission_error", "may only read");
        refused(admin("POST", "/admin/v1/accounts/bootstrap/credits", READ_TOKEN, "{\"amount_micros\":5}", "Idempotency-Key", "k"), 403,
                "permission_error", "auditor");
        refused(admin("GET", "/metrics", null, null), 401, "authentication_error", "Bearer");
        assertThat(account("bootstrap").path("credited_micros").asLong()).isEqualTo(1_000_000);
        assertThat(ok(admin("GET", "/admin/v1/accounts", READ_TOKEN, null), 200).path("data")).extracting(n -> n.path("id").asText())
                .containsExactly("bootstrap");

        // No admin route answers on the proxy listener, whatever the token.
        HttpResponse<String> onProxy = proxyGet("/admin/v1/accounts");
        assertThat(onProxy.statusCode()).isEqualTo(404);
        assertThat(onProxy.body()).doesNotContain("bootstrap");
        // The probes answer on both, without any token.
        for (int port : new int[] {node.port(), node.adminPort()}) {
            for (String probe : new String[] {"/healthz", "/readyz"}) {
                HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + probe)).GET().build(),
                        HttpResponse.BodyHandlers.ofString());
                assertThat(response.statusCode()).as(port + probe).isEqualTo(200);
                assertThat(JSON.readTree(response.body()).path("status").asText()).isIn("ok", "ready");
            }
        }
    }

    @Test
    void badInputIsRefusedWithItsReasonAndChangesNothing() throws Exception {
        String credits = "/admin/v1/accounts/bootstrap/credits";
        refused(admin("POST", credits, WRITE_TOKEN, "{\"amount_micros\":5000}"), 400, "invalid_request_error", "Idempotency-Key header is required");
        refused(admin("POST", credits, WRITE_TOKEN, "{\"amount_micros\":", "Idempotency-Key", "a"), 400, "invalid_request_error", "not valid JSON");
        refused(admin("POST", credits, WRITE_TOKEN, "[1]", "Idempotency-Key", "a"), 400, "invalid_request_error", "JSON object");
        refused(admin("POST", credits, WRITE_TOKEN, "{\"amount_micros\":1.5}", "Idempotency-Key", "a"), 400, "invalid_request_error", "integer");
        refused(admin("POST", credits, WRITE_TOKEN, "{\"amount_micros\":\"5\"}", "Idempotency-Key", "a"), 400, "invalid_request_error", "integer");
        refused(admin("POST", credits, WRITE_TOKEN, "{\"amount_micros\":-5}", "Idempotency-Key", "a"), 400, "invalid_request_error", "positive");
        refused(admin("POST", credits, WRITE_TOKEN, "{\"amount_micros\":99999999999999999999}", "Idempotency-Key", "a"), 400,
                "invalid_request_error", "integer");
        refused(admin("POST", credits, WRITE_TOKEN, "{\"amount_micros\":5,\"amount\":5}", "Idempotency-Key", "a"), 400, "invalid_request_error",
                "Unknown field amount");
        refused(admin("POST", credits, WRITE_TOKEN, "{\"amount_micros\":5}", "Idempotency-Key", "x".repeat(200)), 400, "invalid_request_error",
                "Idempotency-Key");
        refused(admin("POST", "/admin/v1/accounts/bootstrap/adjustments", WRITE_TOKEN, "{\"amount_micros\":-5}", "Idempotency-Key", "a"), 400,
                "invalid_request_error", "reason: missing");
        refused(admin("POST", "/admin/v1/accounts/ghost/credits", WRITE_TOKEN, "{\"amount_micros\":5}", "Idempotency-Key", "a"), 404,
                "not_found_error", "No account ghost");
        refused(admin("POST", "/admin/v1/accounts", WRITE_TOKEN, "{\"id\":\"has space\"}"), 400, "invalid_request_error", "account id");
        refused(admin("POST", "/admin/v1/accounts", WRITE_TOKEN, "{\"id\":\"bootstrap\"}"), 409, "conflict_error", "already exists");
        refused(admin("POST", "/admin/v1/keys", WRITE_TOKEN, "{\"account\":\"bootstrap\",\"limits\":{\"alert_percent\":0}}"), 400,
                "invalid_request_error", "limits.alert_percent: an integer from 1 to 100");
        refused(admin("POST", "/admin/v1/keys", WRITE_TOKEN, "{\"account\":\"bootstrap\",\"limits\":{\"alert_percent\":80.5}}"), 400,
                "invalid_request_error", "limits.alert_percent: an integer from 1 to 100");
        refused(admin("POST", "/admin/v1/accounts", WRITE_TOKEN, "{\"id\":\"lowball\",\"low_balance_threshold_micros\":\"5\"}"), 400,
                "invalid_request_error", "low_balance_threshold_micros: an integer number of micro-units");
        refused(admin("POST", "/admin/v1/keys", WRITE_TOKEN, "{\"account\":\"ghost\"}"), 404, "not_found_error", "ghost");
        refused(admin("GET", "/admin/v1/keys/key_0000000000000000", READ_TOKEN, null), 404, "not_found_error", "No key");
        refused(admin("GET", "/admin/v1/keys/sk-whatever", READ_TOKEN, null), 404, "not_found_error", "key_0123456789abcdef");
        refused(admin("GET", "/admin/v1/usage?group_by=colour", READ_TOKEN, null), 400, "invalid_request_error", "colour");
        refused(admin("GET", "/admin/v1/usage?from=yesterday", READ_TOKEN, null), 400, "invalid_request_error", "from");
        refused(admin("GET", "/admin/v1/requests?limit=0", READ_TOKEN, null), 400, "invalid_request_error", "limit");
        refused(admin("GET", "/admin/v1/accounts/bootstrap/statements/2026-13", READ_TOKEN, null), 400, "invalid_request_error", "yyyy-mm");
        refused(admin("GET", "/admin/v1/nothing", READ_TOKEN, null), 404, "not_found_error", "No admin route");
        refused(admin("DELETE", "/admin/v1/accounts", WRITE_TOKEN, null), 405, "invalid_request_error", "GET, POST");
        assertThat(account("bootstrap").path("credited_micros").asLong()).isEqualTo(1_000_000);
        assertThat(ok(admin("GET", "/admin/v1/audit", READ_TOKEN, null), 200).path("data")).isEmpty();
    }

    @Test
    void anOperatorFundsAnAccountIssuesAKeyAndReadsWhatItSpent() throws Exception {
        JsonNode opened = ok(admin("POST", "/admin/v1/accounts", WRITE_TOKEN, "{\"id\":\"acme\"}"), 201);
        assertThat(opened.path("available_micros").asLong()).isZero();

        String credit = "{\"amount_micros\":5000000,\"note\":\"invoice 1042\"}";
        HttpResponse<String> first = admin("POST", "/admin/v1/accounts/acme/credits", WRITE_TOKEN, credit, "Idempotency-Key", "inv-1042");
        JsonNode credited = ok(first, 201);
        assertThat(credited.path("amount_micros").asLong()).isEqualTo(5_000_000);
        assertThat(first.headers().firstValue("Idempotent-Replayed")).isEmpty();
        HttpResponse<String> retried = admin("POST", "/admin/v1/accounts/acme/credits", WRITE_TOKEN, credit, "Idempotency-Key", "inv-1042");
        assertThat(retried.statusCode()).isEqualTo(201);
        assertThat(retried.body()).isEqualTo(first.body());
        assertThat(retried.headers().firstValue("Idempotent-Replayed")).hasValue("true");
        refused(admin("POST", "/admin/v1/accounts/acme/credits", WRITE_TOKEN, "{\"amount_micros\":6000000,\"note\":\"invoice 1042\"}",
                "Idempotency-Key", "inv-1042"), 409, "idempotency_error", "inv-1042");
        refused(admin("POST", "/admin/v1/accounts/acme/adjustments", WRITE_TOKEN, "{\"amount_micros\":-9000000,\"reason\":\"too much\"}",
                "Idempotency-Key", "adj-0"), 409, "insufficient_balance", "5000000 micros available");
        ok(admin("POST", "/admin/v1/accounts/acme/adjustments", WRITE_TOKEN, "{\"amount_micros\":-250000,\"reason\":\"refund, ticket T-7\"}",
                "Idempotency-Key", "adj-1"), 201);
        assertThat(account("acme").path("available_micros").asLong()).isEqualTo(4_750_000);

        JsonNode issued = ok(admin("POST", "/admin/v1/keys", WRITE_TOKEN, "{\"account\":\"acme\",\"label\":\"ci\"}"), 201);
        String secret = issued.path("key").asText();
        String keyId = issued.path("id").asText();
        assertThat(secret).startsWith(ApiKeys.KEY_PREFIX);
        assertThat(keyId).matches("key_[0-9a-f]{16}").isEqualTo(AdminApi.keyId(ApiKeys.sha256Hex(secret)));
        HttpResponse<String> shown = admin("GET", "/admin/v1/keys/" + keyId, READ_TOKEN, null);
        assertThat(ok(shown, 200).path("status").asText()).isEqualTo("active");
        assertThat(shown.body()).doesNotContain(secret);
        assertThat(admin("GET", "/admin/v1/keys?account=acme", READ_TOKEN, null).body()).contains(keyId).doesNotContain(secret);

        HttpResponse<String> answer = chat(secret, "Hello [sim:events=6]");
        assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
        String requestId = answer.headers().firstValue("x-tollgate-request-id").orElseThrow();
        JsonNode after = account("acme");
        long debited = after.path("debited_micros").asLong();
        assertThat(debited).isPositive();
        assertThat(after.path("available_micros").asLong()).isEqualTo(4_750_000 - debited);
        assertThat(after.path("reserved_micros").asLong()).isZero();

        JsonNode usage = ok(admin("GET", "/admin/v1/usage?group_by=key,model,status&account=acme", READ_TOKEN, null), 200);
        assertThat(usage.path("data")).hasSize(1);
        JsonNode row = usage.path("data").get(0);
        assertThat(row.path("key").asText()).isEqualTo(keyId);
        assertThat(row.path("model").asText()).isEqualTo("gpt-4o-mini");
        assertThat(row.path("status").asText()).isEqualTo("settled");
        assertThat(row.path("requests").asLong()).isEqualTo(1);
        assertThat(row.path("cost_micros").asLong()).isEqualTo(debited);

        JsonNode requests = ok(admin("GET", "/admin/v1/requests?key=" + keyId, READ_TOKEN, null), 200);
        assertThat(requests.path("data")).hasSize(1);
        assertThat(requests.path("data").get(0).path("request_id").asText()).isEqualTo(requestId);
        assertThat(requests.path("data").get(0).path("debited_micros").asLong()).isEqualTo(debited);
        assertThat(requests.path("has_more").asBoolean()).isFalse();

        String month = YearMonth.now(ZoneOffset.UTC).toString();
        JsonNode statement = ok(admin("GET", "/admin/v1/accounts/acme/statements/" + month, READ_TOKEN, null), 200);
        assertThat(statement.toString()).contains("inv-1042").contains("refund, ticket T-7");
        HttpResponse<String> csv = admin("GET", "/admin/v1/accounts/acme/statements/" + month, READ_TOKEN, null, "Accept", "text/csv");
        assertThat(csv.headers().firstValue("content-type")).hasValueSatisfying(type -> assertThat(type).startsWith("text/csv"));
        // Re-added by a reader of its own: the lines between opening and closing are the balance's movement.
        // Counted from the end (amount_micros, row_version, lane, price_multiplier_bps, billed_by, direct_cost_micros): a quoted description may hold commas.
        assertThat(csv.body().lines().findFirst().orElseThrow()).endsWith(",amount_micros,row_version,lane,price_multiplier_bps,billed_by,direct_cost_micros");
        List<String[]> lines = csv.body().lines().skip(1).map(line -> line.split(",", -1)).toList();
        long opening = Long.parseLong(lines.getFirst()[lines.getFirst().length - 6]);
        long closing = Long.parseLong(lines.getLast()[lines.getLast().length - 6]);
        long movement = lines.subList(1, lines.size() - 1).stream().mapToLong(fields -> Long.parseLong(fields[fields.length - 6])).sum();
        assertThat(opening).isZero();
        assertThat(closing).isEqualTo(after.path("available_micros").asLong());
        assertThat(movement).isEqualTo(closing - opening);

        HttpResponse<String> export = admin("GET", "/admin/v1/exports/debits", READ_TOKEN, null);
        assertThat(export.statusCode()).isEqualTo(200);
        assertThat(export.body().lines().filter(line -> line.contains(requestId))).hasSize(1);
        JsonNode pricing = ok(admin("GET", "/admin/v1/pricing", READ_TOKEN, null), 200);
        assertThat(pricing.path("data")).anySatisfy(model -> assertThat(model.path("model").asText()).isEqualTo("gpt-4o-mini"));

        assertThat(ok(admin("POST", "/admin/v1/keys/" + keyId + "/revoke", WRITE_TOKEN, null), 200).path("status").asText()).isEqualTo("revoked");
        assertThat(chat(secret, "Hello again").statusCode()).isEqualTo(401);

        JsonNode audit = ok(admin("GET", "/admin/v1/audit", READ_TOKEN, null), 200);
        assertThat(audit.path("data")).extracting(entry -> entry.path("action").asText())
                .containsExactly("key.revoked", "key.issued", "account.adjusted", "account.credited", "account.opened");
        assertThat(audit.path("data")).allSatisfy(entry -> assertThat(entry.path("actor").asText()).isEqualTo("ops"));
        assertThat(audit.path("data").get(3).path("note").asText()).isEqualTo("invoice 1042");
        assertThat(audit.toString()).doesNotContain(WRITE_TOKEN).doesNotContain(secret);

        HttpResponse<String> metrics = admin("GET", "/metrics", READ_TOKEN, null);
        assertThat(metrics.statusCode()).isEqualTo(200);
        assertThat(metrics.body()).contains("tollgate_requests_total{").doesNotContain(secret).doesNotContain(requestId);
    }

    @Test
    void aRestartGivesBackEveryAccountKeyAndIdempotencyKeyAndTheAuditTrail() throws Exception {
        ok(admin("POST", "/admin/v1/accounts", WRITE_TOKEN, "{\"id\":\"acme\"}"), 201);
        String credit = "{\"amount_micros\":2000000}";
        ok(admin("POST", "/admin/v1/accounts/acme/credits", WRITE_TOKEN, credit, "Idempotency-Key", "topup-1"), 201);
        JsonNode issued = ok(admin("POST", "/admin/v1/keys", WRITE_TOKEN, "{\"account\":\"acme\",\"label\":\"svc\"}"), 201);
        String secret = issued.path("key").asText();
        JsonNode revoked = ok(admin("POST", "/admin/v1/keys", WRITE_TOKEN, "{\"account\":\"acme\",\"label\":\"old\"}"), 201);
        ok(admin("POST", "/admin/v1/keys/" + revoked.path("id").asText() + "/revoke", WRITE_TOKEN, null), 200);
        assertThat(chat(secret, "Hi [sim:events=3]").statusCode()).isEqualTo(200);
        // A configuration key revoked here (a leak, say) stays revoked though the file still names it.
        JsonNode configKeys = ok(admin("GET", "/admin/v1/keys?account=bootstrap", READ_TOKEN, null), 200).path("data");
        ok(admin("POST", "/admin/v1/keys/" + configKeys.get(0).path("id").asText() + "/revoke", WRITE_TOKEN, null), 200);
        String accountsBefore = admin("GET", "/admin/v1/accounts", READ_TOKEN, null).body();
        String keysBefore = admin("GET", "/admin/v1/keys", READ_TOKEN, null).body();
        String auditBefore = admin("GET", "/admin/v1/audit", READ_TOKEN, null).body();

        node.close();
        node = null;
        node = startNode(new ListenerConfig("127.0.0.1", 0));

        assertThat(admin("GET", "/admin/v1/accounts", READ_TOKEN, null).body()).isEqualTo(accountsBefore);
        assertThat(admin("GET", "/admin/v1/keys", READ_TOKEN, null).body()).isEqualTo(keysBefore);
        assertThat(admin("GET", "/admin/v1/audit", READ_TOKEN, null).body()).isEqualTo(auditBefore);
        HttpResponse<String> retried = admin("POST", "/admin/v1/accounts/acme/credits", WRITE_TOKEN, credit, "Idempotency-Key", "topup-1");
        assertThat(retried.statusCode()).isEqualTo(201);
        assertThat(retried.headers().firstValue("Idempotent-Replayed")).hasValue("true");
        refused(admin("POST", "/admin/v1/accounts/acme/credits", WRITE_TOKEN, "{\"amount_micros\":2000001}", "Idempotency-Key", "topup-1"), 409,
                "idempotency_error", "topup-1");
        assertThat(admin("GET", "/admin/v1/accounts", READ_TOKEN, null).body()).isEqualTo(accountsBefore);
        // The key the admin API issued outlives the configuration's key sync, and still spends.
        assertThat(chat(secret, "Hi again [sim:events=2]").statusCode()).isEqualTo(200);
        assertThat(chat(configKey, "Hi [sim:events=2]").statusCode()).isEqualTo(401);

        // A journal that cannot record (a full disk) refuses the change and applies nothing; the retry applies it once.
        long available = account("acme").path("available_micros").asLong();
        node.journal().failNextAppends(1);
        refused(admin("POST", "/admin/v1/accounts/acme/adjustments", WRITE_TOKEN, "{\"amount_micros\":-1000,\"reason\":\"fee\"}",
                "Idempotency-Key", "fee-1"), 503, "api_error", "nothing was changed");
        assertThat(account("acme").path("available_micros").asLong()).isEqualTo(available);
        ok(admin("POST", "/admin/v1/accounts/acme/adjustments", WRITE_TOKEN, "{\"amount_micros\":-1000,\"reason\":\"fee\"}",
                "Idempotency-Key", "fee-1"), 201);
        assertThat(account("acme").path("available_micros").asLong()).isEqualTo(available - 1000);

        // A replay of the whole journal from empty is exactly the live state.
        node.reconciler().awaitCaughtUp(Duration.ofSeconds(20));
        LedgerState replayed = new LedgerState();
        node.journal().readAfter(-1, replayed::apply);
        for (LedgerState.Account account : replayed.accounts()) {
            JsonNode live = account(account.id());
            assertThat(new long[] {account.availableMicros(), account.creditedMicros(), account.debitedMicros()}).as(account.id())
                    .containsExactly(live.path("available_micros").asLong(), live.path("credited_micros").asLong(), live.path("debited_micros").asLong());
        }
        assertThat(replayed.keys()).filteredOn(LedgerState.Key::revoked).hasSize(2);
    }

    @Test
    void anAdminListenerOffLoopbackRefusesToStartWithoutATokenAndLeavesTheJournalClosed() throws Exception {
        node.close();
        node = null;
        TollgateConfig config = AdminTestNode.config(sim, dir, configKey, new ListenerConfig("0.0.0.0", 0));
        assertThatThrownBy(() -> TollgateNode.start(config, outcome -> { }, 1, Transport.best(), AdminTokens.none()))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("not on a loopback address").hasMessageContaining(AdminTokens.TOKENS_ENV);
        assertThatThrownBy(() -> AdminTokens.fromEnvironment(Map.of(AdminTokens.TOKENS_ENV, "ops:admin:" + WRITE_TOKEN)::get))
                .hasMessageContaining("use read or write").hasMessageNotContaining(WRITE_TOKEN);
        assertThatThrownBy(() -> AdminTokens.fromEnvironment(Map.of(AdminTokens.TOKEN_ENV, "short")::get)).hasMessageContaining("at least 16");
        // The refused start let go of everything: the same journal starts again.
        node = TollgateNode.start(config.withAdminListener(new ListenerConfig("127.0.0.1", 0)), outcome -> { }, 1, Transport.best(), AdminTokens.none());
        refused(admin("GET", "/admin/v1/accounts", WRITE_TOKEN, null), 401, "authentication_error", "No admin token is configured");
        try (Stream<Path> files = Files.list(dir.resolve("journal"))) {
            assertThat(files).isNotEmpty();
        }
        assertThat(Journal.class).isNotNull();
    }
}
