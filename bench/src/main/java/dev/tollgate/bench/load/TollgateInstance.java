package dev.tollgate.bench.load;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tollgate.metering.ApiKeys;
import java.io.IOException;
import java.net.InetSocketAddress;
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
import java.util.List;
import java.util.Map;

/**
 * One Tollgate node run by the harness exactly as an operator runs it ({@code java -jar tollgate.jar
 * serve --config FILE}), with a generated configuration: the two providers (OpenAI and Anthropic
 * protocols) pointing at the mock, a fresh journal directory ({@code periodic} durability unless told), and
 * one funded account whose key only the harness knows.
 */
final class TollgateInstance implements AutoCloseable {

    static final String ACCOUNT = "load";
    static final long OPENING_CREDIT_MICROS = 1_000_000_000_000L;
    private static final String PROVIDER_KEY_ENV = "TOLLGATE_LOAD_PROVIDER_KEY";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** How the harness starts JVMs: the java binary, the flags Agrona and Chronicle need, extra options. */
    record Jvm(String java, List<String> flags, List<String> extraOptions) {
        List<String> command(String... rest) {
            List<String> command = new ArrayList<>();
            command.add(java);
            command.addAll(flags);
            command.addAll(extraOptions);
            command.addAll(List.of(rest));
            return command;
        }
    }

    private final String name;
    private final Path jar;
    private final Jvm jvm;
    private final Path journal;
    private final String key;
    private final int port;
    private final ManagedProcess process;

    private TollgateInstance(String name, Path jar, Jvm jvm, Path journal, String key, int port, ManagedProcess process) {
        this.name = name;
        this.jar = jar;
        this.jvm = jvm;
        this.journal = journal;
        this.key = key;
        this.port = port;
        this.process = process;
    }

    /**
     * Writes {@code directory/tollgate.yaml} and starts the node; returns once it is listening.
     *
     * @param maxIdleUpstream kept-alive idle upstream connections per provider per event loop (nginx's
     *                        {@code keepalive} is per worker, so the same number makes the two comparable)
     * @param journalParent   where the journal directory goes (null: in {@code directory}); a diagnostic
     *                        run puts it on tmpfs to take the disk out of the picture
     */
    static TollgateInstance start(String name, Path jar, Jvm jvm, Path directory, int mockPort, String providerKey, int maxIdleUpstream,
                                  String durability, Path journalParent) throws IOException, InterruptedException {
        Files.createDirectories(directory);
        Path journal = journalParent == null ? directory.resolve("journal") : journalParent.resolve(name + "-journal-" + ProcessHandle.current().pid());
        if (Files.exists(journal)) {
            throw new IllegalStateException("the journal directory must be fresh: " + journal);
        }
        String key = ApiKeys.newRawKey(new SecureRandom());
        int port = Ports.free();
        String config = """
                # Written by the load harness: the providers point at the mock, the journal is fresh.
                listeners:
                  proxy: { host: 127.0.0.1, port: %d }
                catalog: builtin
                providers:
                  - name: openai
                    protocol: openai
                    baseUrl: http://127.0.0.1:%d/v1
                    apiKeyEnv: %s
                  - name: anthropic
                    protocol: anthropic
                    baseUrl: http://127.0.0.1:%d/v1
                    apiKeyEnv: %s
                limits:
                  maxIdleUpstreamConnections: %d
                journal:
                  directory: %s
                  durability: %s
                  syncIntervalMs: 100
                accounts:
                  - id: %s
                    openingCreditMicros: %d
                    keys:
                      - { sha256: %s, label: load-harness }
                """.formatted(port, mockPort, PROVIDER_KEY_ENV, mockPort, PROVIDER_KEY_ENV, maxIdleUpstream, journal, durability, ACCOUNT,
                OPENING_CREDIT_MICROS, ApiKeys.sha256Hex(key));
        Path configFile = directory.resolve("tollgate.yaml");
        Files.writeString(configFile, config, StandardCharsets.UTF_8);
        ManagedProcess process = ManagedProcess.start(name, jvm.command("-jar", jar.toString(), "serve", "--config", configFile.toString()),
                Map.of(PROVIDER_KEY_ENV, providerKey), directory.resolve("tollgate.log"));
        try {
            process.awaitLine("tollgate: listening on", Duration.ofSeconds(60));
            process.awaitPort(new InetSocketAddress("127.0.0.1", port), Duration.ofSeconds(10));
        } catch (RuntimeException | InterruptedException e) {
            process.close();
            throw e;
        }
        return new TollgateInstance(name, jar, jvm, journal, key, port, process);
    }

    String key() {
        return key;
    }

    int port() {
        return port;
    }

    long pid() {
        return process.pid();
    }

    Path journal() {
        return journal;
    }

    ManagedProcess process() {
        return process;
    }

    /** The live counters of the account, from {@code GET /tollgate/v1/balance}. */
    record Balance(long availableMicros, long reservedMicros, long creditedMicros, long debitedMicros) {
    }

    Balance balance() throws IOException, InterruptedException {
        try (HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()) {
            HttpResponse<String> response = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/tollgate/v1/balance"))
                    .header("Authorization", "Bearer " + key).timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString());
            if (response.statusCode() != 200) {
                throw new IllegalStateException("balance: status " + response.statusCode() + ": " + response.body());
            }
            JsonNode body = JSON.readTree(response.body());
            return new Balance(body.path("available_micros").asLong(-1), body.path("reserved_micros").asLong(-1),
                    body.path("credited_micros").asLong(-1), body.path("debited_micros").asLong(-1));
        }
    }

    /** Runs {@code jcmd PID ARGS...} and returns its output; throws if it fails. */
    String jcmd(String... arguments) throws IOException, InterruptedException {
        Path jcmd = Path.of(jvm.java()).resolveSibling("jcmd");
        List<String> command = new ArrayList<>(List.of(jcmd.toString(), Long.toString(pid())));
        command.addAll(List.of(arguments));
        return Exec.run(command, Duration.ofSeconds(60)).requireSuccess("jcmd");
    }

    /** SIGTERM: the node closes its listener, lets the reconciler catch up and snapshot, and closes the journal. */
    int stop() throws InterruptedException {
        return process.stop(Duration.ofSeconds(60));
    }

    /** {@code tollgate journal ARGS --dir JOURNAL}, offline (run after {@link #stop}). */
    Exec.Output journalCommand(String subcommand, String... arguments) throws IOException, InterruptedException {
        List<String> command = jvm.command("-jar", jar.toString(), "journal", subcommand, "--dir", journal.toString());
        command.addAll(List.of(arguments));
        return Exec.run(command, Duration.ofMinutes(10));
    }

    @Override
    public void close() {
        process.close();
    }

    String name() {
        return name;
    }
}
