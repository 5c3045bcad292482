package dev.tollgate.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class ConfigLoaderTest {
    static final String SHA_A = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    static final String SHA_B = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752";
    /** The listener and journal sections every valid configuration has; most cases below start with them. */
    static final String LISTENERS = "listeners:\n  proxy: { host: 127.0.0.1, port: 8080 }\njournal:\n  directory: data/journal\n";
    static final String JOURNAL = "journal:\n  directory: data/journal\n";
    static final String ONE_PROVIDER = "providers:\n  - name: openai\n    protocol: openai\n    baseUrl: https://api.openai.com/v1\n";
    static final Function<String, String> NO_ENV = name -> null;

    @TempDir
    Path dir;

    Path write(String name, String text) throws IOException {
        Path file = dir.resolve(name);
        Files.writeString(file, text, StandardCharsets.UTF_8);
        return file;
    }

    ConfigException loadFails(Path file, Function<String, String> env) {
        ConfigException e = catchThrowableOfType(ConfigException.class, () -> ConfigLoader.load(file, env));
        assertThat(e).as("expected the config to be refused").isNotNull();
        return e;
    }

    @Test
    void validConfigLoadsWhatTheFileSays() throws IOException {
        write("ca.pem", "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n");
        write("prices.yaml", CatalogLoaderTest.HEADER + CatalogLoaderTest.row("openai", "gpt-4o-mini")
                + CatalogLoaderTest.row("anthropic", "claude-haiku-4-5", "endpoints: [messages]"));
        Path file = write("tollgate.yaml", """
                listeners:
                  proxy: { host: 0.0.0.0, port: 18080 }
                journal:
                  directory: ledger
                  durability: per_debit
                catalog: prices.yaml
                providers:
                  - name: openai
                    protocol: openai
                    baseUrl: https://api.openai.com/v1/
                    apiKeyEnv: OPENAI_API_KEY
                  - name: anthropic
                    protocol: anthropic
                    baseUrl: http://127.0.0.1:9999/anthropic/v1
                    caCertFile: ca.pem
                limits:
                  maxRequestBodyBytes: 65536
                  minOutputTokens: 32
                accounts:
                  - id: acme.prod
                    openingCreditMicros: 25000000
                    keys:
                      - { sha256: %s, label: ci }
                      - { sha256: %s, label: laptop }
                  - id: idle
                    openingCreditMicros: 0
                """.formatted(SHA_A, SHA_B));
        List<String> asked = new ArrayList<>();
        TollgateConfig config = ConfigLoader.load(file, name -> {
            asked.add(name);
            return Map.of("OPENAI_API_KEY", "  sk-test-123\n").get(name);
        });

        assertThat(asked).containsExactly("OPENAI_API_KEY");
        assertThat(config.proxyListener()).isEqualTo(new ListenerConfig("0.0.0.0", 18080));

        assertThat(config.providers()).hasSize(2);
        ProviderConfig openai = config.provider("openai");
        assertThat(openai.protocol()).isEqualTo(Protocol.OPENAI);
        assertThat(openai.baseUrl()).isEqualTo(URI.create("https://api.openai.com/v1/"));
        assertThat(openai.tls()).isTrue();
        assertThat(openai.port()).isEqualTo(443);
        assertThat(openai.basePath()).isEqualTo("/v1");
        assertThat(openai.apiKeyEnv()).isEqualTo("OPENAI_API_KEY");
        assertThat(openai.apiKey().reveal()).as("the key is stripped of the whitespace an env file leaves").isEqualTo("sk-test-123");
        assertThat(openai.apiKey().toString()).doesNotContain("sk-test");
        assertThat(openai.toString()).doesNotContain("sk-test");
        assertThat(openai.caCertFile()).isNull();

        ProviderConfig anthropic = config.provider("anthropic");
        assertThat(anthropic.protocol()).isEqualTo(Protocol.ANTHROPIC);
        assertThat(anthropic.tls()).isFalse();
        assertThat(anthropic.port()).isEqualTo(9999);
        assertThat(anthropic.basePath()).isEqualTo("/anthropic/v1");
        assertThat(anthropic.apiKey()).isNull();
        assertThat(anthropic.apiKeyEnv()).isNull();
        assertThat(anthropic.caCertFile()).isEqualTo(dir.toAbsolutePath().resolve("ca.pem"));
        assertThat(config.provider("google")).isNull();

        assertThat(config.catalog().rows()).extracting(ModelRow::model).containsExactly("gpt-4o-mini", "claude-haiku-4-5");

        Limits d = Limits.defaults();
        assertThat(config.limits()).isEqualTo(new Limits(65536, d.maxSseEventBytes(), 32, d.promptTokensPerImage(),
                d.upstreamConnectTimeoutMs(), d.upstreamResponseTimeoutMs(), d.upstreamIdleTimeoutMs(), d.maxAccounts(),
                d.maxIdleUpstreamConnections()));

        assertThat(config.accounts()).containsExactly(
                new AccountConfig("acme.prod", 25_000_000, List.of(new AccountConfig.KeyConfig(SHA_A, "ci"), new AccountConfig.KeyConfig(SHA_B, "laptop"))),
                new AccountConfig("idle", 0, List.of()));
    }

    @Test
    void omittedSectionsTakeTheirDefaults() throws IOException {
        Path file = write("tollgate.yaml", LISTENERS + ONE_PROVIDER);
        TollgateConfig config = ConfigLoader.load(file, NO_ENV);
        assertThat(config.limits()).isEqualTo(Limits.defaults());
        assertThat(config.accounts()).isEmpty();
        // catalog: builtin is the default: the shipped catalog, row for row.
        assertThat(config.catalog().rows()).isEqualTo(CatalogLoader.loadBuiltin().rows());
        assertThat(config.provider("openai").apiKey()).isNull();
        assertThat(config.provider("openai").port()).isEqualTo(443);
        assertThat(config.adminListener()).isEqualTo(new ListenerConfig("127.0.0.1", 8081));
        assertThat(config.lanes()).containsExactly(LaneConfig.BUILT_IN);
    }

    @Test
    void lanesAreDeclaredInOrderWithTheirDefaultsAndKeysAreBoundToThem() throws IOException {
        Path file = write("tollgate.yaml", LISTENERS + ONE_PROVIDER + """
                lanes:
                  - { name: interactive, maxConcurrent: 512, queueDepth: 1024, queueTimeoutMs: 2000, upstreamConnections: 256 }
                  - { name: batch, maxConcurrent: 16, queueDepth: 10000, queueTimeoutMs: 600000, upstreamConnections: 16, priceMultiplierBps: 5000, priority: 5 }
                  - { name: probe.v2, maxConcurrent: 4 }
                accounts:
                  - id: acme
                    openingCreditMicros: 0
                    keys:
                      - { sha256: %s, label: nightly, lane: batch }
                      - { sha256: %s, label: ci, lanes: [batch, probe.v2] }
                """.formatted(SHA_A, SHA_B));
        TollgateConfig config = ConfigLoader.load(file, NO_ENV);
        assertThat(config.lanes()).containsExactly(
                new LaneConfig("interactive", 512, 1024, 2000, 256, 0, 10_000),
                new LaneConfig("batch", 16, 10_000, 600_000, 16, 5, 5_000),
                new LaneConfig("probe.v2", 4, 0, LaneConfig.DEFAULT_QUEUE_TIMEOUT_MS, 4, 0, LaneConfig.LIST_PRICE_BPS));
        assertThat(config.accounts().getFirst().keys()).containsExactly(
                new AccountConfig.KeyConfig(SHA_A, "nightly", "batch", List.of()),
                new AccountConfig.KeyConfig(SHA_B, "ci", null, List.of("batch", "probe.v2")));
    }

    @Test
    void everyLaneMistakeIsReportedWithItsPath() throws IOException {
        Path file = write("tollgate.yaml", LISTENERS + ONE_PROVIDER + """
                lanes:
                  - { name: Batch, maxConcurrent: 1 }
                  - { name: batch, maxConcurrent: 0, queueDepth: -1, priceMultiplierBps: 100001, weight: 3 }
                  - { name: bulk, maxConcurrent: 2, priority: 101, queueTimeoutMs: 0, upstreamConnections: 0 }
                  - { name: bulk, maxConcurrent: 2 }
                  - { maxConcurrent: 2 }
                accounts:
                  - id: acme
                    openingCreditMicros: 0
                    keys:
                      - { sha256: %s, label: nightly, lane: nightly }
                      - { sha256: %s, label: ci, lanes: [bulk, bulk, 3] }
                """.formatted(SHA_A, SHA_B));
        String f = file.toString();
        assertThat(loadFails(file, NO_ENV).problems()).containsExactly(
                f + ": lanes[0].name: expected 1 to 32 lower-case letters, digits or _ . -, starting with a letter or digit, found \"Batch\"",
                f + ": lanes[1].maxConcurrent: must be between 1 and 1000000, found 0",
                f + ": lanes[1].queueDepth: must not be negative, found -1",
                f + ": lanes[1].priceMultiplierBps: must be between 1 and 100000, found 100001",
                f + ": lanes[1].weight: unknown field (known fields: name, maxConcurrent, queueDepth, queueTimeoutMs, upstreamConnections, priority, "
                        + "priceMultiplierBps)",
                f + ": lanes[2].queueTimeoutMs: must be between 1 and 3600000, found 0",
                f + ": lanes[2].upstreamConnections: must be between 1 and 1000000, found 0",
                f + ": lanes[2].priority: must be between 0 and 100, found 101",
                f + ": lanes[3].name: duplicate lane name \"bulk\"",
                f + ": lanes[4].name: missing",
                f + ": accounts[0].keys[0].lane: no lane named \"nightly\" is declared (lanes: batch, bulk)",
                f + ": accounts[0].keys[1].lanes[1]: \"bulk\" is listed twice",
                f + ": accounts[0].keys[1].lanes[2]: expected the name of a lane, found 3");
    }

    @Test
    void withoutLanesAKeyMayNameOnlyTheBuiltInLane() throws IOException {
        Path file = write("tollgate.yaml", LISTENERS + ONE_PROVIDER + "lanes: []\naccounts:\n  - id: a\n    openingCreditMicros: 0\n    keys:\n"
                + "      - { sha256: " + SHA_A + ", label: x, lane: default }\n      - { sha256: " + SHA_B + ", label: y, lane: batch }\n");
        String f = file.toString();
        assertThat(loadFails(file, NO_ENV).problems()).containsExactly(
                f + ": lanes: must not be empty",
                f + ": accounts[0].keys[1].lane: no lane named \"batch\" is declared (lanes: default)");
    }

    @Test
    void theAdminListenerIsWhereTheFileSaysOrOff() throws IOException {
        String proxy = "listeners:\n  proxy: { host: 127.0.0.1, port: 8080 }\n";
        String rest = "journal:\n  directory: data/journal\n" + ONE_PROVIDER;
        assertThat(ConfigLoader.load(write("a.yaml", proxy + "  admin: { host: 0.0.0.0, port: 9001 }\n" + rest), NO_ENV).adminListener())
                .isEqualTo(new ListenerConfig("0.0.0.0", 9001));
        assertThat(ConfigLoader.load(write("b.yaml", proxy + "  admin: off\n" + rest), NO_ENV).adminListener()).isNull();
        assertThat(ConfigLoader.load(write("c.yaml", proxy + "  admin: false\n" + rest), NO_ENV).adminListener()).isNull();
        assertThat(new ListenerConfig("127.0.0.1", 1).isLoopback()).isTrue();
        assertThat(new ListenerConfig("0.0.0.0", 1).isLoopback()).isFalse();
        assertThat(new ListenerConfig("localhost", 1).isLoopback()).isTrue();
        assertThat(new ListenerConfig("[::1]", 1).isLoopback()).isTrue();
        assertThat(new ListenerConfig("127.example.invalid", 1).isLoopback()).isFalse();
    }

    @Test
    void theAccessLogIsOffUnlessTurnedOnAndItsPathIsRelativeToTheFile() throws IOException {
        String base = LISTENERS + ONE_PROVIDER;
        assertThat(ConfigLoader.load(write("none.yaml", base), NO_ENV).accessLog()).isEqualTo(AccessLogConfig.DISABLED);
        AccessLogConfig off = ConfigLoader.load(write("off.yaml", base + "accessLog:\n  enabled: false\n  path: x.jsonl\n"), NO_ENV).accessLog();
        assertThat(off.enabled()).isFalse();
        AccessLogConfig on = ConfigLoader.load(write("on.yaml", base + "accessLog:\n  enabled: true\n  path: logs/requests.jsonl\n"), NO_ENV).accessLog();
        assertThat(on).isEqualTo(new AccessLogConfig(true, dir.toAbsolutePath().resolve("logs/requests.jsonl")));
        AccessLogConfig defaultPath = ConfigLoader.load(write("default.yaml", base + "accessLog: { enabled: true }\n"), NO_ENV).accessLog();
        assertThat(defaultPath.file()).isEqualTo(dir.toAbsolutePath().resolve("logs/access.jsonl"));
        AccessLogConfig stdout = ConfigLoader.load(write("stdout.yaml", base + "accessLog: { enabled: true, path: \"-\" }\n"), NO_ENV).accessLog();
        assertThat(stdout.enabled()).isTrue();
        assertThat(stdout.toStandardOutput()).isTrue();
        assertThat(stdout.destination()).isEqualTo("standard output");
    }

    @Test
    void anAlertWebhookIsSignedWithASecretFromTheEnvironmentAndKeyLabelsInMetricsAreOptIn() throws IOException {
        String base = LISTENERS + ONE_PROVIDER;
        TollgateConfig plain = ConfigLoader.load(write("plain.yaml", base), NO_ENV);
        assertThat(plain.alerts()).isEqualTo(AlertsConfig.NONE);
        assertThat(plain.metrics().keyLabels()).isFalse();
        String webhook = "alerts:\n  webhook:\n    url: https://billing.example.com/hooks/tollgate\n    maxAttempts: 3\n";
        TollgateConfig withHook = ConfigLoader.load(write("hook.yaml", base + webhook + "metrics: { keyLabels: true }\n"),
                java.util.Map.of("TOLLGATE_ALERT_WEBHOOK_SECRET", " whsec-1 ")::get);
        AlertsConfig.Webhook hook = withHook.alerts().webhook();
        assertThat(hook.url()).hasToString("https://billing.example.com/hooks/tollgate");
        assertThat(hook.secret().reveal()).isEqualTo("whsec-1");
        assertThat(hook.maxAttempts()).isEqualTo(3);
        assertThat(hook.initialBackoffMs()).isEqualTo(AlertsConfig.Webhook.DEFAULT_INITIAL_BACKOFF_MS);
        assertThat(hook.toString()).doesNotContain("whsec-1");
        assertThat(withHook.metrics().keyLabels()).isTrue();

        assertThatThrownBy(() -> ConfigLoader.load(write("unsigned.yaml", base + webhook), NO_ENV)).isInstanceOf(ConfigException.class)
                .hasMessageContaining("alerts.webhook.secretEnv").hasMessageContaining("TOLLGATE_ALERT_WEBHOOK_SECRET is not set");
        assertThatThrownBy(() -> ConfigLoader.load(write("inline.yaml", base + webhook + "    secret: whsec-in-a-file\n"),
                java.util.Map.of("TOLLGATE_ALERT_WEBHOOK_SECRET", "x")::get)).isInstanceOf(ConfigException.class)
                .hasMessageContaining("secrets are never read from files").hasMessageNotContaining("whsec-in-a-file");
        assertThatThrownBy(() -> ConfigLoader.load(write("backoff.yaml", base + webhook + "    initialBackoffMs: 5000\n    maxBackoffMs: 10\n"),
                java.util.Map.of("TOLLGATE_ALERT_WEBHOOK_SECRET", "x")::get)).isInstanceOf(ConfigException.class)
                .hasMessageContaining("maxBackoffMs");
        assertThatThrownBy(() -> ConfigLoader.load(write("typo.yaml", base + "metrics: { keyLabel: true }\n"), NO_ENV))
                .isInstanceOf(ConfigException.class).hasMessageContaining("keyLabel");
    }

    @Test
    void theDefaultLimitsAreTheDocumentedOnes() {
        Limits d = Limits.defaults();
        assertThat(d.maxRequestBodyBytes()).isEqualTo(32 << 20);
        assertThat(d.maxSseEventBytes()).isEqualTo(1 << 20);
        assertThat(d.minOutputTokens()).isEqualTo(16);
        assertThat(d.promptTokensPerImage()).isEqualTo(3_000);
        assertThat(d.maxAccounts()).isEqualTo(65_536);
    }

    @Test
    void catalogBuiltinNamedExplicitlyIsTheShippedCatalog() throws IOException {
        Path file = write("tollgate.yaml", LISTENERS + "catalog: builtin\n" + ONE_PROVIDER + "limits: {}\naccounts: []\n");
        TollgateConfig config = ConfigLoader.load(file, NO_ENV);
        assertThat(config.catalog().find("openai", "gpt-4o-mini")).isNotNull();
        assertThat(config.limits()).isEqualTo(Limits.defaults());
    }

    @Test
    void severalMistakesAreReportedOneLineEachWithFileAndPath() throws IOException {
        Path catalog = write("prices.yaml", CatalogLoaderTest.HEADER
                + CatalogLoaderTest.row("openai", "gpt-4o-mini", "inputMicrosPerMillionTokens: -150000")
                + CatalogLoaderTest.row("openai", "gpt-4o")
                + CatalogLoaderTest.row("anthropic", "claude-haiku-4-5", "endpoints: [messages]")
                + CatalogLoaderTest.row("openai", "gpt-4o"));
        Path file = write("tollgate.yaml", """
                listeners:
                  proxy: { host: 127.0.0.1, port: 8080 }
                journal: { directory: ledger }
                catalog: prices.yaml
                providers:
                  - name: openai
                    protocol: openai
                    baseUrl: https://api.openai.com/v1
                    apiKeyEnv: OPENAI_API_KEY
                  - name: anthropic
                    protocol: anthropic
                    baseUrl: ftp://api.anthropic.com/v1
                  - name: openai
                    protocol: openai
                    baseUrl: http://127.0.0.1:9000/v1
                    apiKey: sk-live-do-not-log
                  - name: local
                    baseUrl: http://127.0.0.1:1234/v1
                    timeoutMs: 5000
                accounts:
                  - id: acme
                    openingCreditMicros: 1000
                    keys:
                      - { sha256: tg-not-a-hash, label: ci }
                """);
        ConfigException e = loadFails(file, NO_ENV);
        String f = file.toString();
        assertThat(e.problems()).containsExactly(
                f + ": catalog: " + catalog + ": models[0].inputMicrosPerMillionTokens: must not be negative, found -150000",
                f + ": catalog: " + catalog + ": models[3]: duplicate model row (openai, gpt-4o): models[1] [since always, until replaced) and models[3] "
                        + "[since always, until replaced) both have no effectiveFrom; only the first price set of a model may be in force since always",
                f + ": providers[0].apiKeyEnv: environment variable OPENAI_API_KEY is not set",
                f + ": providers[1].baseUrl: expected an absolute http(s) URL with a host and no query, fragment or credentials, found \"ftp://api.anthropic.com/v1\"",
                f + ": providers[2].name: duplicate provider name \"openai\"",
                f + ": providers[2].apiKey: secrets are never read from files: name an environment variable in apiKeyEnv instead",
                f + ": providers[3].protocol: missing",
                f + ": providers[3].timeoutMs: unknown field (known fields: name, protocol, baseUrl, apiKeyEnv, apiKey, caCertFile, pricesAs, extraHeaders, "
                        + "extraHeadersEnv)",
                f + ": accounts[0].keys[0].sha256: expected 64 lower-case hex digits (the output of `tollgate new-key`), not a raw key");
        assertThat(e.getMessage()).doesNotContain("sk-live-do-not-log").doesNotContain("tg-not-a-hash");
    }

    @Test
    void aProviderMayPriceAsAnotherAndSendExtraHeadersSomeFromTheEnvironment() throws IOException {
        Path file = write("tollgate.yaml", LISTENERS + """
                providers:
                  - { name: openai, protocol: openai, baseUrl: "https://api.openai.com/v1", apiKeyEnv: OPENAI_API_KEY }
                  - { name: openai-eu, protocol: openai, baseUrl: "https://eu.example/v1", apiKeyEnv: OPENAI_EU_KEY, pricesAs: openai }
                  - name: gateway
                    protocol: openai
                    baseUrl: https://gateway.example/api/v1
                    pricesAs: deepseek
                    extraHeaders:
                      HTTP-Referer: https://acme.example/app
                      X-Title: "Acme assistant"
                      x-portkey-provider: deepseek
                    extraHeadersEnv:
                      OpenAI-Organization: ACME_ORG
                      X-Gateway-Token: GATEWAY_TOKEN
                """);
        Map<String, String> env = Map.of("OPENAI_API_KEY", "sk-a", "OPENAI_EU_KEY", "sk-b", "ACME_ORG", " org-acme ", "GATEWAY_TOKEN", "gw-secret-1");
        TollgateConfig config = ConfigLoader.load(file, env::get);

        ProviderConfig openai = config.provider("openai");
        assertThat(openai.pricesAs()).isNull();
        assertThat(openai.catalogProvider()).isEqualTo("openai");
        assertThat(openai.extraHeaders()).isEmpty();
        assertThat(openai.extraHeaderSecrets()).isEmpty();
        ProviderConfig eu = config.provider("openai-eu");
        assertThat(eu.pricesAs()).isEqualTo("openai");
        assertThat(eu.catalogProvider()).isEqualTo("openai");
        ProviderConfig gateway = config.provider("gateway");
        assertThat(gateway.catalogProvider()).isEqualTo("deepseek");
        assertThat(gateway.extraHeaders()).containsExactly(Map.entry("HTTP-Referer", "https://acme.example/app"), Map.entry("X-Title", "Acme assistant"),
                Map.entry("x-portkey-provider", "deepseek"));
        assertThat(gateway.extraHeaderSecrets()).containsOnlyKeys("OpenAI-Organization", "X-Gateway-Token");
        assertThat(gateway.extraHeaderSecrets().get("OpenAI-Organization").reveal()).isEqualTo("org-acme");
        assertThat(gateway.extraHeaderSecrets().get("X-Gateway-Token").reveal()).isEqualTo("gw-secret-1");
        assertThat(gateway.toString()).as("a secret header's value is hidden").doesNotContain("gw-secret-1").doesNotContain("org-acme");
        assertThat(ProviderConfig.catalogProviders(config.providers()))
                .isEqualTo(Map.of("openai", "openai", "openai-eu", "openai", "gateway", "deepseek"));
    }

    @Test
    void headersTollgateOwnsAndSecretsInTheFileAreRefusedNamingTheHeaderNeverTheSecret() throws IOException {
        Path file = write("tollgate.yaml", LISTENERS + """
                providers:
                  - name: openai
                    protocol: openai
                    baseUrl: https://api.openai.com/v1
                    extraHeaders:
                      Host: evil.example
                      Authorization: Bearer sk-live-do-not-log
                      Accept-Encoding: gzip
                      Content-Length: "5"
                      X-Api-Key: sk-also-do-not-log
                      x-goog-api-key: AIza-do-not-log
                      "Bad Header": x
                      X-Multi: "line one\\r\\nX-Injected: 1"
                      X-Number: 42
                      X-Title: Acme
                      x-title: Acme again
                    extraHeadersEnv:
                      X-Title: TITLE
                      X-Org: NOT_SET
                      X-Other: "$ORG"
                      X-Control: CONTROL
                """);
        ConfigException e = loadFails(file, Map.of("CONTROL", "a\u0001b")::get);
        String f = file + ": providers[0].";
        assertThat(e.problems()).containsExactly(
                f + "extraHeaders.Host: Tollgate sets this header itself on every upstream request: the host is the baseUrl's",
                f + "extraHeaders.Authorization: Tollgate sets this header itself on every upstream request: it carries the provider key;"
                        + " name its environment variable in apiKeyEnv",
                f + "extraHeaders.Accept-Encoding: Tollgate sets this header itself on every upstream request: Tollgate asks for an unencoded"
                        + " response, which it must read to meter it",
                f + "extraHeaders.Content-Length: Tollgate sets this header itself on every upstream request: it describes Tollgate's own"
                        + " connection to the provider, and Tollgate recomputes it for every request",
                f + "extraHeaders.X-Api-Key: Tollgate sets this header itself on every upstream request: it carries the provider key;"
                        + " name its environment variable in apiKeyEnv",
                f + "extraHeaders.x-goog-api-key: looks like a credential (a word of its name is key, token, secret, password, auth, cookie...);"
                        + " secrets are never read from files: name an environment variable in extraHeadersEnv instead",
                f + "extraHeaders.Bad Header: not an HTTP header name (letters, digits and !#$%&'*+-.^_`|~)",
                f + "extraHeaders.X-Multi: expected printable ASCII without leading or trailing spaces, found \"line one\r\nX-Injected: 1\"",
                f + "extraHeaders.X-Number: expected a non-empty string, found 42",
                f + "extraHeaders.x-title: the header is given twice for this provider (names are case-insensitive)",
                f + "extraHeadersEnv.X-Title: the header is given twice for this provider (names are case-insensitive)",
                f + "extraHeadersEnv.X-Org: environment variable NOT_SET is not set",
                f + "extraHeadersEnv.X-Other: expected the name of an environment variable, found \"$ORG\"",
                f + "extraHeadersEnv.X-Control: environment variable CONTROL does not hold a header value (printable ASCII only)");
        assertThat(e.getMessage()).doesNotContain("do-not-log").doesNotContain("a\u0001b");
    }

    @Test
    void pricesAsMustNameACatalogProviderOfTheSameProtocolInOneStep() throws IOException {
        write("prices.yaml", CatalogLoaderTest.HEADER + CatalogLoaderTest.row("openai", "gpt-4o-mini")
                + CatalogLoaderTest.row("anthropic", "claude-haiku-4-5", "endpoints: [messages]")
                + CatalogLoaderTest.row("vllm", "llama-3.3-70b"));
        Path file = write("tollgate.yaml", LISTENERS + """
                catalog: prices.yaml
                providers:
                  - { name: openai, protocol: openai, baseUrl: "https://api.openai.com/v1" }
                  - { name: anthropic, protocol: anthropic, baseUrl: "https://api.anthropic.com/v1" }
                  - { name: eu, protocol: openai, baseUrl: "https://eu.example/v1", pricesAs: openai }
                  - { name: typo, protocol: openai, baseUrl: "https://t.example/v1", pricesAs: opneai }
                  - { name: crossed, protocol: openai, baseUrl: "https://c.example/v1", pricesAs: anthropic }
                  - { name: chained, protocol: openai, baseUrl: "https://h.example/v1", pricesAs: eu }
                  - { name: vllm, protocol: openai, baseUrl: "http://127.0.0.1:8000/v1", pricesAs: openai }
                  - { name: claude-eu, protocol: openai, baseUrl: "https://ce.example/v1", pricesAs: "Anthropic" }
                """);
        ConfigException e = loadFails(file, NO_ENV);
        String f = file + ": providers";
        assertThat(e.problems()).containsExactly(
                f + "[7].pricesAs: expected a provider name (lower-case letters, digits, '-' or '_'), found \"Anthropic\"",
                f + "[3].pricesAs: the catalog has no rows of provider opneai",
                f + "[4].pricesAs: names anthropic, which is configured as anthropic, but this provider is openai",
                f + "[5].pricesAs: names eu, which is itself priced as openai; name openai here instead",
                f + "[6].pricesAs: the catalog also has rows of vllm itself (llama-3.3-70b), which would serve nothing; remove pricesAs or those rows");

        // An unconfigured provider's rows serve, and their protocol must be this provider's.
        Path unconfigured = write("unconfigured.yaml", LISTENERS + """
                providers:
                  - { name: claude-proxy, protocol: openai, baseUrl: "https://cp.example/v1", pricesAs: anthropic }
                  - { name: deepseek-eu, protocol: openai, baseUrl: "https://de.example/v1", pricesAs: deepseek }
                """);
        assertThat(loadFails(unconfigured, NO_ENV).problems()).singleElement().asString()
                .startsWith(unconfigured + ": providers[0].protocol: is configured as openai but the catalog row claude-")
                .endsWith(" of anthropic (its pricesAs) serves messages");
    }

    @Test
    void aReloadedCatalogMustStillHaveTheRowsAPricesAsNames() throws IOException {
        List<ProviderConfig> providers = List.of(
                new ProviderConfig("openai", Protocol.OPENAI, URI.create("https://api.openai.com/v1"), null, null, null),
                new ProviderConfig("vllm", Protocol.OPENAI, URI.create("http://127.0.0.1:8000/v1"), null, null, null, "deepseek", Map.of(), Map.of()));
        assertThat(ConfigLoader.catalogProblems(CatalogLoader.loadBuiltin(), providers, "pricing.yaml")).isEmpty();
        PriceCatalog withoutDeepseek = new PriceCatalog("USD", 1_000_000,
                CatalogLoader.loadBuiltin().rows().stream().filter(row -> !row.provider().equals("deepseek")).toList());
        assertThat(ConfigLoader.catalogProblems(withoutDeepseek, providers, "next.yaml"))
                .containsExactly("next.yaml: providers[1].pricesAs: the catalog has no rows of provider deepseek");
    }

    static Stream<Arguments> singleMistakes() {
        String provider = "providers:\n  - name: openai\n    protocol: openai\n";
        return Stream.of(
                Arguments.of("unknown top-level field", LISTENERS + ONE_PROVIDER + "serverz: 1\n", "serverz: unknown field"),
                Arguments.of("no listeners", JOURNAL + ONE_PROVIDER, "listeners: missing"),
                Arguments.of("no proxy listener", "listeners: {}\n" + JOURNAL + ONE_PROVIDER, "listeners.proxy: missing"),
                Arguments.of("unknown listener", "listeners:\n  proxy: { host: a, port: 1 }\n  metrics: { host: a, port: 2 }\n" + JOURNAL + ONE_PROVIDER,
                        "listeners.metrics: unknown field"),
                Arguments.of("admin listener without a port", "listeners:\n  proxy: { host: a, port: 1 }\n  admin: { host: a }\n" + JOURNAL + ONE_PROVIDER,
                        "listeners.admin.port: missing"),
                Arguments.of("port out of range", "listeners:\n  proxy: { host: a, port: 70000 }\n" + JOURNAL + ONE_PROVIDER,
                        "listeners.proxy.port: must be between 0 and 65535, found 70000"),
                Arguments.of("negative port", "listeners:\n  proxy: { host: a, port: -1 }\n" + JOURNAL + ONE_PROVIDER,
                        "listeners.proxy.port: must not be negative, found -1"),
                Arguments.of("port as text", "listeners:\n  proxy: { host: a, port: http }\n" + JOURNAL + ONE_PROVIDER,
                        "listeners.proxy.port: expected a whole number, found \"http\""),
                Arguments.of("no providers", LISTENERS, "providers: missing"),
                Arguments.of("empty providers", LISTENERS + "providers: []\n", "providers: must not be empty"),
                Arguments.of("provider not a mapping", LISTENERS + "providers:\n  - openai\n", "providers[0]: expected a mapping"),
                Arguments.of("upper-case provider name", LISTENERS + "providers:\n  - name: OpenAI\n    protocol: openai\n    baseUrl: https://a.example/v1\n",
                        "providers[0].name: expected lower-case letters"),
                Arguments.of("unknown protocol", LISTENERS + "providers:\n  - name: openai\n    protocol: gemini\n    baseUrl: https://a.example/v1\n",
                        "providers[0].protocol: expected one of [openai, anthropic], found \"gemini\""),
                Arguments.of("baseUrl with a query", LISTENERS + provider + "    baseUrl: https://a.example/v1?key=x\n", "providers[0].baseUrl: expected an absolute"),
                Arguments.of("baseUrl with credentials", LISTENERS + provider + "    baseUrl: https://user:pw@a.example/v1\n", "providers[0].baseUrl: expected an absolute"),
                Arguments.of("baseUrl with a fragment", LISTENERS + provider + "    baseUrl: https://a.example/v1#x\n", "providers[0].baseUrl: expected an absolute"),
                Arguments.of("relative baseUrl", LISTENERS + provider + "    baseUrl: /v1\n", "providers[0].baseUrl: expected an absolute"),
                Arguments.of("unparsable baseUrl", LISTENERS + provider + "    baseUrl: \"https://a example/v1\"\n", "providers[0].baseUrl: not a valid URL"),
                Arguments.of("missing baseUrl", LISTENERS + provider, "providers[0].baseUrl: missing"),
                Arguments.of("apiKeyEnv not a variable name", LISTENERS + ONE_PROVIDER + "    apiKeyEnv: $OPENAI_API_KEY\n",
                        "providers[0].apiKeyEnv: expected the name of an environment variable"),
                Arguments.of("apiKey literal", LISTENERS + ONE_PROVIDER + "    apiKey: sk-123\n", "providers[0].apiKey: secrets are never read from files"),
                Arguments.of("unreadable caCertFile", LISTENERS + ONE_PROVIDER + "    caCertFile: missing.pem\n", "providers[0].caCertFile: cannot read"),
                Arguments.of("unknown limit", LISTENERS + ONE_PROVIDER + "limits:\n  maxBodyBytes: 1\n", "limits.maxBodyBytes: unknown field"),
                Arguments.of("limit out of range", LISTENERS + ONE_PROVIDER + "limits:\n  maxRequestBodyBytes: 10\n",
                        "limits.maxRequestBodyBytes: must be between 1024 and 1073741824, found 10"),
                Arguments.of("zero limit that must be positive", LISTENERS + ONE_PROVIDER + "limits:\n  minOutputTokens: 0\n",
                        "limits.minOutputTokens: must be between 1 and 1000000, found 0"),
                Arguments.of("limits not a mapping", LISTENERS + ONE_PROVIDER + "limits: 5\n", "limits: expected a mapping, found 5"),
                Arguments.of("accounts not a list", LISTENERS + ONE_PROVIDER + "accounts: acme\n", "accounts: expected a list"),
                Arguments.of("bad account id", LISTENERS + ONE_PROVIDER + "accounts:\n  - { id: \"acme corp\", openingCreditMicros: 1 }\n",
                        "accounts[0].id: expected letters, digits"),
                Arguments.of("duplicate account id", LISTENERS + ONE_PROVIDER + "accounts:\n  - { id: a, openingCreditMicros: 1 }\n  - { id: a, openingCreditMicros: 2 }\n",
                        "accounts[1].id: duplicate account id \"a\""),
                Arguments.of("negative opening credit", LISTENERS + ONE_PROVIDER + "accounts:\n  - { id: a, openingCreditMicros: -1 }\n",
                        "accounts[0].openingCreditMicros: must not be negative, found -1"),
                Arguments.of("missing opening credit", LISTENERS + ONE_PROVIDER + "accounts:\n  - { id: a }\n",
                        "accounts[0].openingCreditMicros: missing"),
                Arguments.of("upper-case sha256", LISTENERS + ONE_PROVIDER + "accounts:\n  - id: a\n    openingCreditMicros: 1\n    keys:\n      - { sha256: "
                        + SHA_A.toUpperCase(java.util.Locale.ROOT) + ", label: ci }\n", "accounts[0].keys[0].sha256: expected 64 lower-case hex digits"),
                Arguments.of("short sha256", LISTENERS + ONE_PROVIDER + "accounts:\n  - id: a\n    openingCreditMicros: 1\n    keys:\n      - { sha256: "
                        + SHA_A.substring(1) + ", label: ci }\n", "accounts[0].keys[0].sha256: expected 64 lower-case hex digits"),
                Arguments.of("key missing its label", LISTENERS + ONE_PROVIDER + "accounts:\n  - id: a\n    openingCreditMicros: 1\n    keys:\n      - { sha256: "
                        + SHA_A + " }\n", "accounts[0].keys[0].label: missing"),
                Arguments.of("unknown key field", LISTENERS + ONE_PROVIDER + "accounts:\n  - id: a\n    openingCreditMicros: 1\n    keys:\n      - { sha256: "
                        + SHA_A + ", label: ci, raw: tg-x }\n", "accounts[0].keys[0].raw: unknown field"),
                Arguments.of("same key hash on two accounts", LISTENERS + ONE_PROVIDER + "accounts:\n  - id: a\n    openingCreditMicros: 1\n    keys: [{ sha256: "
                        + SHA_A + ", label: x }]\n  - id: b\n    openingCreditMicros: 1\n    keys: [{ sha256: " + SHA_A + ", label: y }]\n",
                        "accounts[1].keys[0].sha256: the same key hash is listed twice"),
                Arguments.of("missing catalog file", LISTENERS + ONE_PROVIDER + "catalog: nope.yaml\n", "catalog: "),
                Arguments.of("provider protocol disagrees with its catalog rows",
                        LISTENERS + "providers:\n  - name: openai\n    protocol: openai\n    baseUrl: https://a.example/v1\n"
                                + "  - name: anthropic\n    protocol: openai\n    baseUrl: https://b.example/v1\n",
                        "providers[1].protocol: is configured as openai but the catalog row"),
                Arguments.of("duplicate YAML key", LISTENERS + ONE_PROVIDER + "    name: other\n", "line "),
                Arguments.of("YAML syntax error", LISTENERS + "providers: [\n", "line "),
                Arguments.of("empty file", "", "the file is empty"),
                Arguments.of("unknown accessLog field", LISTENERS + ONE_PROVIDER + "accessLog:\n  enabled: true\n  file: a.jsonl\n",
                        "accessLog.file: unknown field (known fields: enabled, path)"),
                Arguments.of("accessLog.enabled as text", LISTENERS + ONE_PROVIDER + "accessLog:\n  enabled: \"true\"\n",
                        "accessLog.enabled: expected true or false, found \"true\""),
                Arguments.of("accessLog.enabled as a number", LISTENERS + ONE_PROVIDER + "accessLog:\n  enabled: 1\n",
                        "accessLog.enabled: expected true or false, found 1"),
                Arguments.of("accessLog.path as a number", LISTENERS + ONE_PROVIDER + "accessLog:\n  enabled: true\n  path: 5\n",
                        "accessLog.path: expected a non-empty string, found 5"),
                Arguments.of("empty accessLog.path", LISTENERS + ONE_PROVIDER + "accessLog:\n  enabled: true\n  path: \"\"\n",
                        "accessLog.path: expected a non-empty string"),
                Arguments.of("accessLog not a mapping", LISTENERS + ONE_PROVIDER + "accessLog: logs/access.jsonl\n",
                        "accessLog: expected a mapping, found \"logs/access.jsonl\""));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("singleMistakes")
    void eachMistakeIsExactlyOneProblemNamingFileAndPath(String what, String yaml, String expectedAfterFileName) throws IOException {
        Path file = write("tollgate.yaml", yaml);
        ConfigException e = loadFails(file, NO_ENV);
        assertThat(e.problems()).as(what).hasSize(1);
        assertThat(e.problems().getFirst()).as(what).startsWith(file + ": " + expectedAfterFileName);
    }

    @Test
    void everyProviderWhoseProtocolDisagreesWithTheCatalogIsReported() throws IOException {
        Path file = write("tollgate.yaml", LISTENERS + """
                providers:
                  - name: anthropic
                    protocol: openai
                    baseUrl: https://a.example/v1
                  - name: openai
                    protocol: anthropic
                    baseUrl: https://b.example/v1
                """);
        ConfigException e = loadFails(file, NO_ENV);
        assertThat(e.problems()).hasSize(2);
        assertThat(e.problems().get(0)).startsWith(file + ": providers[0].protocol: is configured as openai but the catalog row claude-");
        assertThat(e.problems().get(1)).startsWith(file + ": providers[1].protocol: is configured as anthropic but the catalog row");
    }

    @Test
    void theJournalSectionIsRequiredAndDefaultsToPeriodicDurability() throws IOException {
        Path withDefaults = write("tollgate.yaml", LISTENERS + ONE_PROVIDER);
        JournalConfig journal = ConfigLoader.load(withDefaults, NO_ENV).journal();
        assertThat(journal.directory()).isEqualTo(dir.resolve("data/journal"));
        assertThat(journal.durability()).isEqualTo(Durability.PERIODIC);
        assertThat(journal.syncIntervalMs()).isEqualTo(JournalConfig.DEFAULT_SYNC_INTERVAL_MS);
        assertThat(journal.snapshotDirectory()).isEqualTo(dir.resolve("data/journal/snapshots"));

        Path missing = write("missing.yaml", "listeners:\n  proxy: { host: 127.0.0.1, port: 8080 }\n" + ONE_PROVIDER);
        assertThat(loadFails(missing, NO_ENV).problems()).containsExactly(missing + ": journal: missing");

        Path wrong = write("wrong.yaml", "listeners:\n  proxy: { host: 127.0.0.1, port: 8080 }\n"
                + "journal: { directory: j, durability: eventually, syncIntervalMs: 0, rotate: daily }\n" + ONE_PROVIDER);
        assertThat(loadFails(wrong, NO_ENV).problems()).containsExactly(
                wrong + ": journal.durability: expected one of [page_cache, periodic, per_debit], found \"eventually\"",
                wrong + ": journal.syncIntervalMs: must be between 1 and 60000, found 0",
                wrong + ": journal.rotate: unknown field (known fields: directory, durability, syncIntervalMs, minFreeBytes)");
    }

    @Test
    void blankEnvironmentValueCountsAsUnset() throws IOException {
        Path file = write("tollgate.yaml", LISTENERS + ONE_PROVIDER + "    apiKeyEnv: OPENAI_API_KEY\n");
        ConfigException e = loadFails(file, name -> "   ");
        assertThat(e.problems()).containsExactly(file + ": providers[0].apiKeyEnv: environment variable OPENAI_API_KEY is not set");
    }

    @Test
    void aMissingConfigFileIsOneProblem() {
        Path missing = dir.resolve("nope.yaml");
        ConfigException e = loadFails(missing, NO_ENV);
        assertThat(e.problems()).singleElement().asString().startsWith(missing + ": cannot read");
    }
}
