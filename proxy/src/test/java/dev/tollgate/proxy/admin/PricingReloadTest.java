package dev.tollgate.proxy.admin;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tollgate.config.CatalogLoader;
import dev.tollgate.config.ModelRow;
import dev.tollgate.config.PriceCatalog;
import dev.tollgate.journal.JournalEvent;
import dev.tollgate.journal.LedgerState;
import dev.tollgate.metering.ApiKeys;
import dev.tollgate.metering.CostRule;
import dev.tollgate.metering.Usage;
import dev.tollgate.proxy.TollgateNode;
import dev.tollgate.proxy.cli.CatalogReloadSignal;
import dev.tollgate.proxy.sim.SimulatedProvider;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code POST /admin/v1/pricing/reload} over real HTTP on a real node whose catalog is a file the test rewrites: a
 * request admitted before a reload pays the price it was admitted with, one admitted after pays the new one, and the
 * journal names the catalog version of every debit, through a restart and a replay from empty.
 */
class PricingReloadTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** gpt-4o-mini's prices in the built-in catalog, and ten times them. */
    private static final String OLD_PRICES = "    inputMicrosPerMillionTokens: 150000\n    cacheReadMicrosPerMillionTokens: 75000\n"
            + "    cacheWriteMicrosPerMillionTokens: 150000\n    outputMicrosPerMillionTokens: 600000\n";
    private static final String NEW_PRICES = "    inputMicrosPerMillionTokens: 1500000\n    cacheReadMicrosPerMillionTokens: 750000\n"
            + "    cacheWriteMicrosPerMillionTokens: 1500000\n    outputMicrosPerMillionTokens: 6000000\n";

    @TempDir
    Path dir;

    private SimulatedProvider sim;
    private TollgateNode node;
    private Path catalogFile;
    private String builtinText;
    private final String configKey = ApiKeys.newRawKey(new SecureRandom());
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
    /** The gateway's clock: requests are admitted, and reloads judged, at the instant it holds. */
    private final java.util.concurrent.atomic.AtomicLong clockMs = new java.util.concurrent.atomic.AtomicLong();
    /** An hour after the clock's start: where the catalog's new gpt-4o-mini prices begin. */
    private java.time.Instant changeAt;

    /**
     * The built-in catalog with gpt-4o-mini at ten times its prices from {@link #changeAt} on: its row in force now ends
     * there (it may, the end is still ahead), and a row with the new prices begins there. A price in force up to now
     * cannot change, so a new price is always a new version that begins after now.
     */
    private String withNewPricesFromChangeAt() {
        java.util.regex.Matcher mini = GPT_4O_MINI_ROW.matcher(builtinText);
        assertThat(mini.find()).isTrue();
        String current = mini.group() + "    effectiveUntil: " + changeAt + "\n";
        String next = mini.group().replace(OLD_PRICES, NEW_PRICES) + "    effectiveFrom: " + changeAt + "\n";
        return builtinText.replace(mini.group(), current + next);
    }

    private static final java.util.regex.Pattern GPT_4O_MINI_ROW = java.util.regex.Pattern.compile("  - provider: openai\n    model: gpt-4o-mini\n(?:    .*\n)*");

    @BeforeEach
    void start() throws Exception {
        sim = SimulatedProvider.start(SimulatedProvider.Settings.defaults());
        try (InputStream in = CatalogLoader.class.getResourceAsStream(CatalogLoader.BUILTIN_RESOURCE)) {
            builtinText = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        assertThat(builtinText).containsOnlyOnce(OLD_PRICES); // gpt-4o-mini's row: the test edits it
        catalogFile = dir.resolve("prices.yaml");
        Files.writeString(catalogFile, builtinText);
        node = AdminTestNode.start(sim, dir, configKey, CatalogLoader.load(catalogFile));
        // Relative to the system's clock (its start, to the second), so the journal's own timestamps stay near it.
        clockMs.set(System.currentTimeMillis() / 1000 * 1000);
        changeAt = java.time.Instant.ofEpochMilli(clockMs.get()).plus(Duration.ofHours(1));
        node.gateway().useClock(clockMs::get);
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

    private HttpResponse<String> admin(String method, String path, String token, String body) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + node.adminPort() + path)).timeout(Duration.ofSeconds(20))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (token != null) {
            request.header("Authorization", "Bearer " + token);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static JsonNode ok(HttpResponse<String> response, int status) throws Exception {
        assertThat(response.statusCode()).as(response.body()).isEqualTo(status);
        return JSON.readTree(response.body());
    }

    private HttpRequest chat(String prompt, boolean stream) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + node.port() + "/v1/chat/completions")).timeout(Duration.ofSeconds(30))
                .header("Authorization", "Bearer " + configKey).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"gpt-4o-mini\",\"max_tokens\":64,\"stream\":" + stream
                        + ",\"messages\":[{\"role\":\"user\",\"content\":\"" + prompt + "\"}]}")).build();
    }

    private String chatOnce(String prompt) throws Exception {
        HttpResponse<String> response = http.send(chat(prompt, false), HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        return response.headers().firstValue("x-tollgate-request-id").orElseThrow();
    }

    /** The request log's entries by request id, once the reconciler has read every debit. */
    private Map<String, JsonNode> requestLog() throws Exception {
        node.gateway().ledger().writer().awaitWritten();
        node.reconciler().awaitCaughtUp(Duration.ofSeconds(20));
        Map<String, JsonNode> byId = new HashMap<>();
        for (JsonNode entry : ok(admin("GET", "/admin/v1/requests?limit=100", AdminTestNode.READ_TOKEN, null), 200).path("data")) {
            byId.put(entry.path("request_id").asText(), entry);
        }
        return byId;
    }

    /** What the row charges for the usage the request log shows: the debit must be exactly this. */
    private static long cost(ModelRow row, JsonNode entry) {
        return CostRule.costMicros(row, new Usage(entry.path("input_tokens").asLong(), entry.path("cache_read_tokens").asLong(),
                entry.path("cache_write_tokens").asLong(), entry.path("output_tokens").asLong(), entry.path("reasoning_tokens").asLong()));
    }

    private record Journaled(long index, JournalEvent event) {
    }

    private List<Journaled> journal() {
        List<Journaled> records = new ArrayList<>();
        node.journal().readAfter(-1, (index, event) -> records.add(new Journaled(index, event)));
        return records;
    }

    private static List<Journaled> catalogRecords(List<Journaled> records) {
        return records.stream().filter(r -> r.event().change() instanceof JournalEvent.CatalogLoaded).toList();
    }

    @Test
    void aReloadPricesOnlyTheRequestsAdmittedAfterItAndTheJournalNamesEachDebitsCatalog() throws Exception {
        PriceCatalog oldCatalog = CatalogLoader.load(catalogFile);
        String oldVersion = oldCatalog.version();
        JsonNode pricing = ok(admin("GET", "/admin/v1/pricing", AdminTestNode.READ_TOKEN, null), 200);
        assertThat(pricing.path("version").asText()).isEqualTo(oldVersion).hasSize(16);
        assertThat(pricing.path("source").asText()).isEqualTo("prices.yaml");
        assertThat(pricing.path("loaded_at").asText()).isNotEmpty();
        // The file's catalog is the built-in one, so it is the same version wherever it was read from.
        assertThat(oldVersion).isEqualTo(CatalogLoader.loadBuiltin().version());

        String before = chatOnce("before the reload");
        // A stream admitted now, read to its first content event (so it is in flight), runs on across the reload.
        HttpResponse<InputStream> stream = http.send(chat("a long answer [sim:events=40] [sim:delay-ms=50]", true), HttpResponse.BodyHandlers.ofInputStream());
        assertThat(stream.statusCode()).isEqualTo(200);
        String streamed = stream.headers().firstValue("x-tollgate-request-id").orElseThrow();
        BufferedReader reader = new BufferedReader(new InputStreamReader(stream.body(), StandardCharsets.UTF_8));
        for (String line; (line = reader.readLine()) != null && !line.contains("\"content\""); ) {
            // up to the first content delta
        }

        Files.writeString(catalogFile, withNewPricesFromChangeAt());
        PriceCatalog newCatalog = CatalogLoader.load(catalogFile);
        JsonNode reload = ok(admin("POST", "/admin/v1/pricing/reload", AdminTestNode.WRITE_TOKEN, null), 200);
        assertThat(reload.path("changed").asBoolean()).isTrue();
        assertThat(reload.path("version").asText()).isEqualTo(newCatalog.version()).isNotEqualTo(oldVersion);
        assertThat(reload.path("previous_version").asText()).isEqualTo(oldVersion);
        assertThat(reload.path("rows").asInt()).isEqualTo(newCatalog.rows().size());
        String stillOld = chatOnce("after the reload, before the new prices begin");
        clockMs.set(changeAt.toEpochMilli());
        String after = chatOnce("after the reload, when the new prices have begun");

        StringBuilder rest = new StringBuilder();
        for (String line; (line = reader.readLine()) != null; ) {
            rest.append(line).append('\n');
        }
        reader.close();
        assertThat(rest).contains("[DONE]");

        ModelRow oldRow = oldCatalog.find("openai", "gpt-4o-mini");
        ModelRow newRow = newCatalog.find("openai", "gpt-4o-mini", changeAt.toEpochMilli());
        assertThat(newRow.rowVersion()).isEqualTo(changeAt.toString());
        Map<String, JsonNode> log = requestLog();
        for (String id : List.of(before, streamed, stillOld, after)) {
            assertThat(log.get(id).path("status").asText()).as(id).isEqualTo("settled");
            assertThat(cost(oldRow, log.get(id))).as("the prices differ for %s's usage", id).isNotEqualTo(cost(newRow, log.get(id)));
        }
        assertThat(log.get(before).path("debited_micros").asLong()).isEqualTo(cost(oldRow, log.get(before)));
        assertThat(log.get(streamed).path("debited_micros").asLong()).as("admitted before the reload").isEqualTo(cost(oldRow, log.get(streamed)));
        assertThat(log.get(stillOld).path("debited_micros").asLong()).as("admitted before the new prices began").isEqualTo(cost(oldRow, log.get(stillOld)));
        assertThat(log.get(stillOld).path("catalog_version").asText()).isEqualTo(newCatalog.version());
        assertThat(log.get(after).path("debited_micros").asLong()).isEqualTo(cost(newRow, log.get(after)));
        assertThat(log.get(before).path("catalog_version").asText()).isEqualTo(oldVersion);
        assertThat(log.get(streamed).path("catalog_version").asText()).isEqualTo(oldVersion);
        assertThat(log.get(after).path("catalog_version").asText()).isEqualTo(newCatalog.version());

        // In the journal: the start's catalog, then the reload's (authored), and the stream settled after the reload.
        List<Journaled> records = journal();
        List<Journaled> catalogs = catalogRecords(records);
        assertThat(catalogs).hasSize(2);
        assertThat(catalogs.get(0).event()).isInstanceOf(JournalEvent.CatalogLoaded.class);
        assertThat(((JournalEvent.CatalogLoaded) catalogs.get(0).event()).version()).isEqualTo(oldVersion);
        JournalEvent.Authored authored = (JournalEvent.Authored) catalogs.get(1).event();
        assertThat(authored.actor()).isEqualTo("ops");
        assertThat(authored.change()).isEqualTo(new JournalEvent.CatalogLoaded(authored.timestampMs(), newCatalog.version(), "prices.yaml",
                newCatalog.rows().size()));
        Map<String, Journaled> settled = new HashMap<>();
        for (Journaled record : records) {
            if (record.event() instanceof JournalEvent.Settled s) {
                settled.put(s.request().requestId(), record);
                // Every debit names the version in force when it was admitted: the last one journaled before its reservation.
                assertThat(s.request().catalogVersion()).isIn(oldVersion, newCatalog.version());
            }
        }
        long reloadIndex = catalogs.get(1).index();
        assertThat(settled.get(streamed).index()).as("the stream was still in flight at the reload").isGreaterThan(reloadIndex);
        assertThat(((JournalEvent.Settled) settled.get(streamed).event()).request().catalogVersion()).isEqualTo(oldVersion);
        assertThat(((JournalEvent.Settled) settled.get(after).event()).request().catalogVersion()).isEqualTo(newCatalog.version());
        // And the price set that billed it: the new one for the request admitted once it began, the undated one before.
        assertThat(((JournalEvent.Settled) settled.get(after).event()).request().rowVersion()).isEqualTo(changeAt.toString());
        assertThat(((JournalEvent.Settled) settled.get(stillOld).event()).request().rowVersion()).isEmpty();
        assertThat(((JournalEvent.Settled) settled.get(streamed).event()).request().rowVersion()).isEmpty();

        // The audit shows who reloaded.
        JsonNode audit = ok(admin("GET", "/admin/v1/audit", AdminTestNode.READ_TOKEN, null), 200).path("data").get(0);
        assertThat(audit.path("action").asText()).isEqualTo("pricing.reloaded");
        assertThat(audit.path("actor").asText()).isEqualTo("ops");
        assertThat(audit.path("version").asText()).isEqualTo(newCatalog.version());
        assertThat(audit.path("source").asText()).isEqualTo("prices.yaml");

        pricing = ok(admin("GET", "/admin/v1/pricing", AdminTestNode.READ_TOKEN, null), 200);
        assertThat(pricing.path("version").asText()).isEqualTo(newCatalog.version());
        JsonNode mini = null;
        for (JsonNode row : pricing.path("data")) {
            if (row.path("model").asText().equals("gpt-4o-mini")) {
                mini = row;
            }
        }
        assertThat(mini.path("output_micros_per_million_tokens").asLong()).as("the last gpt-4o-mini row: the new version").isEqualTo(6_000_000);
        assertThat(mini.path("effective_from").asText()).isEqualTo(changeAt.toString());
        assertThat(mini.path("row_version").asText()).isEqualTo(changeAt.toString());
        assertThat(mini.path("effective_until").isNull()).isTrue();

        // The debit export names each debit's catalog, then its lane's price multiplier, in its last columns.
        String csv = admin("GET", "/admin/v1/exports/debits", AdminTestNode.READ_TOKEN, null).body();
        String[] lines = csv.split("\n");
        assertThat(lines[0]).endsWith(",catalog_version,price_multiplier_bps");
        for (String line : lines) {
            if (line.contains(after)) {
                assertThat(line).endsWith("," + newCatalog.version() + ",10000");
            }
            if (line.contains(streamed) || line.contains(before)) {
                assertThat(line).endsWith("," + oldVersion + ",10000");
            }
        }

        // A reload of the same file changes and journals nothing.
        long lastIndex = node.journal().lastIndex();
        JsonNode again = ok(admin("POST", "/admin/v1/pricing/reload", AdminTestNode.WRITE_TOKEN, "{\"note\":\"again\"}"), 200);
        assertThat(again.path("changed").asBoolean()).isFalse();
        assertThat(again.path("version").asText()).isEqualTo(newCatalog.version());
        assertThat(node.journal().lastIndex()).isEqualTo(lastIndex);

        // After a restart the log still names each debit's catalog, and nothing new is journaled for the same catalog.
        node.close();
        node = AdminTestNode.start(sim, dir, configKey, CatalogLoader.load(catalogFile));
        assertThat(catalogRecords(journal())).hasSize(2);
        log = requestLog();
        assertThat(log.get(before).path("catalog_version").asText()).isEqualTo(oldVersion);
        assertThat(log.get(streamed).path("catalog_version").asText()).isEqualTo(oldVersion);
        assertThat(log.get(after).path("catalog_version").asText()).isEqualTo(newCatalog.version());
        assertThat(ok(admin("GET", "/admin/v1/pricing", AdminTestNode.READ_TOKEN, null), 200).path("version").asText()).isEqualTo(newCatalog.version());
        String afterRestart = chatOnce("after the restart");
        assertThat(requestLog().get(afterRestart).path("catalog_version").asText()).isEqualTo(newCatalog.version());

        // A replay from empty is the live state, catalog included.
        LedgerState replayed = new LedgerState();
        node.journal().readAfter(-1, replayed::apply);
        assertThat(replayed.catalogVersion()).isEqualTo(newCatalog.version()).isEqualTo(node.gateway().ledger().catalogVersion());
        for (LedgerState.Account account : replayed.accounts()) {
            JsonNode live = ok(admin("GET", "/admin/v1/accounts/" + account.id(), AdminTestNode.READ_TOKEN, null), 200);
            assertThat(new long[] {account.availableMicros(), account.creditedMicros(), account.debitedMicros()}).as(account.id())
                    .containsExactly(live.path("available_micros").asLong(), live.path("credited_micros").asLong(), live.path("debited_micros").asLong());
        }
        assertThat(replayed.account("bootstrap").debitedMicros()).isPositive();
    }

    @Test
    void aCatalogWithProblemsIsRefusedWithThemAndChangesNothing() throws Exception {
        String version = CatalogLoader.load(catalogFile).version();
        long lastIndex = node.journal().lastIndex();

        Files.writeString(catalogFile, builtinText.replace("    outputMicrosPerMillionTokens: 600000\n", "    outputMicrosPerMillionTokens: -5\n"));
        JsonNode error = ok(admin("POST", "/admin/v1/pricing/reload", AdminTestNode.WRITE_TOKEN, null), 400).path("error");
        assertThat(error.path("type").asText()).isEqualTo("invalid_request_error");
        assertThat(error.path("message").asText()).contains("outputMicrosPerMillionTokens");
        assertThat(error.path("problems")).hasSize(1);
        assertThat(error.path("problems").get(0).asText()).contains("prices.yaml").contains("outputMicrosPerMillionTokens");

        // Valid on its own, but the provider "anthropic" is configured with the Anthropic protocol.
        Files.writeString(catalogFile, builtinText.replace("  - provider: openai\n    model: gpt-4o-mini\n", "  - provider: anthropic\n    model: gpt-4o-mini\n"));
        error = ok(admin("POST", "/admin/v1/pricing/reload", AdminTestNode.WRITE_TOKEN, null), 400).path("error");
        assertThat(error.path("problems").get(0).asText()).contains("providers[1].protocol").contains("gpt-4o-mini");

        // Balances are held in the currency: a reload cannot change it.
        Files.writeString(catalogFile, builtinText.replaceFirst("(?m)^currency: USD$", "currency: EUR"));
        error = ok(admin("POST", "/admin/v1/pricing/reload", AdminTestNode.WRITE_TOKEN, null), 400).path("error");
        assertThat(error.path("message").asText()).contains("currency");

        Files.delete(catalogFile);
        error = ok(admin("POST", "/admin/v1/pricing/reload", AdminTestNode.WRITE_TOKEN, null), 400).path("error");
        assertThat(error.path("message").asText()).contains("cannot read");

        // A read token may not reload, even a good catalog.
        Files.writeString(catalogFile, builtinText.replace(OLD_PRICES, NEW_PRICES));
        JsonNode forbidden = ok(admin("POST", "/admin/v1/pricing/reload", AdminTestNode.READ_TOKEN, null), 403).path("error");
        assertThat(forbidden.path("type").asText()).isEqualTo("permission_error");
        assertThat(ok(admin("GET", "/admin/v1/pricing/reload", AdminTestNode.WRITE_TOKEN, null), 405).path("error").path("message").asText())
                .contains("POST");

        assertThat(ok(admin("GET", "/admin/v1/pricing", AdminTestNode.READ_TOKEN, null), 200).path("version").asText()).isEqualTo(version);
        assertThat(node.journal().lastIndex()).as("nothing journaled").isEqualTo(lastIndex);
        String id = chatOnce("still the old price");
        JsonNode entry = requestLog().get(id);
        assertThat(entry.path("catalog_version").asText()).isEqualTo(version);
        assertThat(entry.path("debited_micros").asLong()).isEqualTo(cost(CatalogLoader.loadBuiltin().find("openai", "gpt-4o-mini"), entry));
    }

    @Test
    void sighupReloadsAsTheSighupActor() throws Exception {
        String before = node.gateway().catalog().version();
        assertThat(CatalogReloadSignal.reload(node.gateway())).contains("unchanged").contains(before);

        Files.writeString(catalogFile, withNewPricesFromChangeAt());
        String reloaded = CatalogReloadSignal.reload(node.gateway());
        String after = CatalogLoader.load(catalogFile).version();
        assertThat(reloaded).contains(after).contains("replaces " + before);
        assertThat(node.gateway().catalog().version()).isEqualTo(after);
        JsonNode audit = ok(admin("GET", "/admin/v1/audit", AdminTestNode.READ_TOKEN, null), 200).path("data").get(0);
        assertThat(audit.path("action").asText()).isEqualTo("pricing.reloaded");
        assertThat(audit.path("actor").asText()).isEqualTo(CatalogReloadSignal.ACTOR);

        Files.writeString(catalogFile, "currency: USD\n");
        assertThat(CatalogReloadSignal.reload(node.gateway())).contains("not reloaded").contains(after + " stays").contains("models");
        assertThat(node.gateway().catalog().version()).isEqualTo(after);
    }

    /** One refused reload: 400 with the problem, counted as invalid, nothing journaled and the catalog in force kept. */
    private void refusedAsAPastPriceChange(String catalogText, String expectedProblem) throws Exception {
        String version = node.gateway().catalog().version();
        long lastIndex = node.journal().lastIndex();
        double invalidBefore = invalidReloads();
        Files.writeString(catalogFile, catalogText);
        JsonNode error = ok(admin("POST", "/admin/v1/pricing/reload", AdminTestNode.WRITE_TOKEN, null), 400).path("error");
        assertThat(error.path("type").asText()).isEqualTo("invalid_request_error");
        assertThat(error.path("problems")).hasSize(1);
        assertThat(error.path("problems").get(0).asText()).isEqualTo("prices.yaml: " + expectedProblem);
        assertThat(error.path("message").asText()).startsWith("The price catalog was not reloaded; the one in force stays: ");
        assertThat(invalidReloads()).isEqualTo(invalidBefore + 1);
        assertThat(node.gateway().catalog().version()).isEqualTo(version);
        assertThat(node.journal().lastIndex()).as("nothing journaled").isEqualTo(lastIndex);
    }

    private double invalidReloads() throws Exception {
        java.util.regex.Matcher line = java.util.regex.Pattern.compile("(?m)^tollgate_catalog_reloads_total\\{[^}]*result=\"invalid\"[^}]*} (\\S+)$")
                .matcher(AdminTestNode.metrics(http, node));
        return line.find() ? Double.parseDouble(line.group(1)) : 0;
    }

    @Test
    void aReloadThatWouldChangeAPriceAlreadyAppliedIsRefusedAndTheCatalogInForceStays() throws Exception {
        String id = chatOnce("priced by the catalog in force");
        refusedAsAPastPriceChange(builtinText.replace(OLD_PRICES, NEW_PRICES), "openai/gpt-4o-mini (the version in force since always): "
                + "inputMicrosPerMillionTokens (150000 to 1500000), cacheReadMicrosPerMillionTokens (75000 to 750000), cacheWriteMicrosPerMillionTokens "
                + "(150000 to 1500000), outputMicrosPerMillionTokens (600000 to 6000000) changed, but it priced requests up to now; add a version with "
                + "an effectiveFrom after now instead");
        java.util.regex.Matcher mini = GPT_4O_MINI_ROW.matcher(builtinText);
        assertThat(mini.find()).isTrue();
        refusedAsAPastPriceChange(builtinText.replace(mini.group(), mini.group() + "    effectiveFrom: " + changeAt + "\n"),
                "openai/gpt-4o-mini (the version in force since always): removed, but it priced requests up to now");
        java.time.Instant anHourAgo = changeAt.minus(Duration.ofHours(2));
        refusedAsAPastPriceChange(builtinText.replace(mini.group(), mini.group() + mini.group().replace(OLD_PRICES, NEW_PRICES)
                        + "    effectiveFrom: " + anHourAgo + "\n"),
                "openai/gpt-4o-mini (a new version from " + anHourAgo + "): begins at or before now, so it would reprice requests already priced;"
                        + " a new version must begin after now");
        refusedAsAPastPriceChange(builtinText.replace(mini.group(), ""),
                "openai/gpt-4o-mini: removed, but it priced requests up to now; its rows must stay so their debits keep a price");

        // The same change as a version that begins after now is accepted; the request before it kept its price.
        Files.writeString(catalogFile, withNewPricesFromChangeAt());
        assertThat(ok(admin("POST", "/admin/v1/pricing/reload", AdminTestNode.WRITE_TOKEN, null), 200).path("changed").asBoolean()).isTrue();
        JsonNode entry = requestLog().get(id);
        assertThat(entry.path("debited_micros").asLong()).isEqualTo(cost(CatalogLoader.loadBuiltin().find("openai", "gpt-4o-mini"), entry));
    }
}
