package dev.tollgate.proxy.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tollgate.config.Limits;
import dev.tollgate.config.ListenerConfig;
import dev.tollgate.config.Protocol;
import dev.tollgate.config.ProviderConfig;
import dev.tollgate.config.RouteConfig;
import dev.tollgate.config.RoutingConfig;
import dev.tollgate.journal.JournalEvent;
import dev.tollgate.metering.CostRule;
import dev.tollgate.proxy.TestGateways;
import dev.tollgate.proxy.Transport;
import dev.tollgate.proxy.credentials.ProviderCredentials;
import dev.tollgate.proxy.listener.TollgateServer;
import dev.tollgate.proxy.sim.SimulatedProvider;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A direct route ({@code billing: direct}): served on the account's own provider credential, its cost journaled as
 * billed by the provider, the prepaid balance moved by the platform fee only, and the credential nowhere but its
 * encrypted file and the upstream request.
 */
class DirectBillingTest {
    private static final long BALANCE_MICROS = 50_000_000;
    private static final String CREDENTIAL = "sk-own-account-key-4242";
    private static final RouteConfig.PlatformFee FEE = new RouteConfig.PlatformFee(100, 200);

    @TempDir
    Path credentialsDirectory;
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
    private final List<AutoCloseable> open = new ArrayList<>();
    private TestGateways test;
    private TollgateServer server;

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable closeable : open.reversed()) {
            closeable.close();
        }
    }

    private void start() throws Exception {
        SimulatedProvider sim = SimulatedProvider.start(SimulatedProvider.Settings.defaults());
        open.add(sim);
        List<ProviderConfig> providers = List.of(
                new ProviderConfig("openai", Protocol.OPENAI, URI.create(sim.baseUrl()), null, TestGateways.PROVIDER_KEY, null),
                new ProviderConfig("google", Protocol.OPENAI, URI.create(sim.baseUrl()), null, TestGateways.PROVIDER_KEY, null),
                new ProviderConfig("anthropic", Protocol.ANTHROPIC, URI.create(sim.baseUrl()), null, TestGateways.PROVIDER_KEY, null));
        RouteConfig direct = new RouteConfig("mine", List.of(new RouteConfig.Target("google", "gemini-2.5-flash", 1, 1)),
                RouteConfig.Billing.DIRECT, FEE);
        test = new TestGateways(providers, BALANCE_MICROS, Limits.defaults(), List.of(direct), RoutingConfig.DEFAULT);
        open.add(test);
        byte[] masterKey = new byte[32];
        new java.security.SecureRandom().nextBytes(masterKey);
        test.gateway.useCredentials(ProviderCredentials.open(credentialsDirectory,
                Map.of(ProviderCredentials.MASTER_KEY_ENV, Base64.getEncoder().encodeToString(masterKey))::get));
        server = TollgateServer.start(test.gateway, new ListenerConfig("127.0.0.1", 0), 2, Transport.best());
        open.add(server::close);
    }

    private HttpResponse<String> post() throws Exception {
        String json = "{\"model\":\"mine\",\"max_tokens\":40,\"messages\":[{\"role\":\"user\",\"content\":\"Say hello [sim:events=5]\"}]}";
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/v1/chat/completions"))
                .header("authorization", "Bearer " + test.key).header("content-type", "application/json")
                .timeout(Duration.ofSeconds(30)).POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private List<JournalEvent> journal() {
        test.gateway.ledger().writer().awaitWritten();
        List<JournalEvent> events = new ArrayList<>();
        test.journal.readAfter(-1, (index, event) -> events.add(event));
        return events;
    }

    @Test
    void withoutTheAccountsCredentialADirectRouteIsRefusedAndNothingIsHeld() throws Exception {
        start();
        HttpResponse<String> response = post();
        assertThat(response.statusCode()).isEqualTo(403);
        assertThat(response.body()).contains("provider_credential_missing").contains("google");
        assertThat(test.reserved()).isZero();
        assertThat(test.available()).isEqualTo(BALANCE_MICROS);
        assertThat(journal()).noneMatch(event -> event instanceof JournalEvent.ReservationMade);
    }

    @Test
    void aDirectRouteDebitsOnlyThePlatformFeeAndJournalsTheProvidersCostWithoutTheCredential() throws Exception {
        start();
        test.gateway.ledger().recordCredentialChange(TestGateways.ACCOUNT, "google", false, new dev.tollgate.journal.Ledger.Author("ops", ""));
        test.gateway.credentials().set(TestGateways.ACCOUNT, "google", CREDENTIAL, System.currentTimeMillis());
        for (int i = 0; i < 3; i++) {
            assertThat(post().statusCode()).isEqualTo(200);
        }
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (test.outcomes.size() < 3 && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        List<JournalEvent> events = journal();
        List<JournalEvent.Settled> settled = events.stream().filter(JournalEvent.Settled.class::isInstance).map(JournalEvent.Settled.class::cast).toList();
        assertThat(settled).hasSize(3);
        long fees = 0;
        var row = test.gateway.routing().routes().find("google", "gemini-2.5-flash").pricedAt(System.currentTimeMillis()).row();
        for (JournalEvent.Settled s : settled) {
            assertThat(s.request().direct()).isTrue();
            assertThat(s.request().billedBy()).isEqualTo("provider");
            long cost = CostRule.costMicros(row, s.usage());
            assertThat(cost).isPositive();
            assertThat(s.request().directCostMicros()).isEqualTo(cost);
            assertThat(s.costMicros()).isEqualTo(FEE.feeMicros(cost)).isEqualTo(100 + cost * 200 / 10_000);
            assertThat(s.debitedMicros()).isEqualTo(s.costMicros());
            fees += s.debitedMicros();
        }
        assertThat(test.reserved()).as("nothing left held").isZero();
        assertThat(test.available()).as("the balance paid the fees and nothing else").isEqualTo(BALANCE_MICROS - fees);
        assertThat(test.outcomes).allMatch(outcome -> outcome.direct() && outcome.directCostMicros() > 0);
        // The credential: in no journal record (the audit names only the account and provider), and only encrypted on disk.
        assertThat(events).anyMatch(event -> event.change() instanceof JournalEvent.CredentialSet set && set.provider().equals("google"));
        assertThat(events).noneMatch(event -> event.toString().contains(CREDENTIAL));
        for (Path file : Files.list(test.journalDirectory).toList()) {
            if (Files.isRegularFile(file)) {
                assertThat(new String(Files.readAllBytes(file), StandardCharsets.ISO_8859_1)).doesNotContain(CREDENTIAL);
            }
        }
        Path kept = credentialsDirectory.resolve(ProviderCredentials.FILE_NAME);
        assertThat(Files.readString(kept)).doesNotContain(CREDENTIAL).contains("ciphertext");
    }

    @Test
    void credentialsReopenUnderTheirMasterKeyAndNotUnderAnother() {
        byte[] key = new byte[32];
        String encoded = Base64.getEncoder().encodeToString(key);
        ProviderCredentials first = ProviderCredentials.open(credentialsDirectory, Map.of(ProviderCredentials.MASTER_KEY_ENV, encoded)::get);
        first.set("acme", "openai", CREDENTIAL, 1);
        ProviderCredentials again = ProviderCredentials.open(credentialsDirectory, Map.of(ProviderCredentials.MASTER_KEY_ENV, encoded)::get);
        assertThat(again.get("acme", "openai").reveal()).isEqualTo(CREDENTIAL);
        assertThat(again.get("acme", "openai").toString()).doesNotContain(CREDENTIAL);
        key[0] = 1;
        String other = Base64.getEncoder().encodeToString(key);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> ProviderCredentials.open(credentialsDirectory,
                Map.of(ProviderCredentials.MASTER_KEY_ENV, other)::get)).isInstanceOf(IllegalStateException.class).hasMessageNotContaining(CREDENTIAL);
        assertThat(ProviderCredentials.open(credentialsDirectory, Map.<String, String>of()::get).available()).isFalse();
    }
}
