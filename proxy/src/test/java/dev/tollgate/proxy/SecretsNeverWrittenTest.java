package dev.tollgate.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tollgate.journal.reconcile.DebitExport;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Everything Tollgate writes while serving (its logs, the journal's bytes, the debit export, the error
 * bodies it answers) is searched for the client's key, the provider's key and the prompt text: none may
 * appear. The requests take every path that logs: success, refusals, a provider error, a provider that
 * refuses Tollgate's key, a stream cut by the provider and a client that leaves.
 */
class SecretsNeverWrittenTest {
    private static final String PROMPT_MARKER = "zebra-quartz-prompt-7781";

    @Test
    void noKeyAndNoPromptTextIsWrittenAnywhere() throws Exception {
        ByteArrayOutputStream logs = new ByteArrayOutputStream();
        PrintStream originalErr = System.err;
        PrintStream originalOut = System.out;
        List<String> bodies = new ArrayList<>();
        String clientKey;
        byte[] journalBytes;
        String export;
        try (ProxyStack stack = new ProxyStack(1_000_000)) {
            clientKey = stack.test.key;
            System.setErr(new PrintStream(new Tee(originalErr, logs), true, StandardCharsets.UTF_8));
            System.setOut(new PrintStream(new Tee(originalOut, logs), true, StandardCharsets.UTF_8));
            try {
                bodies.add(stack.postOpenAi("/v1/chat/completions", chat(PROMPT_MARKER, false)).body());
                bodies.add(stack.postOpenAi("/v1/chat/completions", chat(PROMPT_MARKER + " [sim:events=9]", true)).body());
                bodies.add(stack.postAnthropic("/v1/messages", "{\"model\":\"claude-haiku-4-5\",\"max_tokens\":50,\"stream\":true,"
                        + "\"messages\":[{\"role\":\"user\",\"content\":\"" + PROMPT_MARKER + "\"}]}").body());
                bodies.add(stack.postOpenAi("/v1/chat/completions", chat(PROMPT_MARKER + " [sim:error=500]", false)).body());
                bodies.add(stack.postOpenAi("/v1/chat/completions", chat(PROMPT_MARKER + " [sim:error=401]", false)).body());
                bodies.add(stack.postOpenAi("/v1/chat/completions", chat(PROMPT_MARKER + " [sim:events=20] [sim:fail-after=3]", true)).body());
                bodies.add(stack.postOpenAi("/v1/chat/completions", "{\"model\":\"no-such-model\",\"messages\":[{\"role\":\"user\",\"content\":\""
                        + PROMPT_MARKER + "\"}]}").body());
                bodies.add(stack.postOpenAi("/v1/chat/completions", "{\"model\":\"gpt-4o-mini\",\"messages\":\"" + PROMPT_MARKER).body());
                bodies.add(stack.http.send(HttpRequest.newBuilder(URI.create(stack.baseUrl() + "/v1/chat/completions"))
                        .header("authorization", "Bearer tg-" + PROMPT_MARKER).header("content-type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(chat(PROMPT_MARKER, false))).build(), HttpResponse.BodyHandlers.ofString()).body());
                HttpResponse<InputStream> leaving = stack.http.send(HttpRequest.newBuilder(URI.create(stack.baseUrl() + "/v1/chat/completions"))
                        .header("authorization", "Bearer " + clientKey).header("content-type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(chat(PROMPT_MARKER + " [sim:events=500] [sim:delay-ms=5]", true))).build(),
                        HttpResponse.BodyHandlers.ofInputStream());
                leaving.body().readNBytes(200);
                leaving.body().close();
                stack.awaitOutcomes(7);
            } finally {
                System.setErr(originalErr);
                System.setOut(originalOut);
            }
            StringBuilder csv = new StringBuilder();
            DebitExport.write(stack.test.journal, 0, Long.MAX_VALUE, Map.of(), csv);
            export = csv.toString();
            journalBytes = readAll(stack.test.journalDirectory);
        }
        assertThat(export).as("the export has rows to search").contains("gpt-4o-mini");
        String journal = new String(journalBytes, StandardCharsets.ISO_8859_1);
        String everything = logs.toString(StandardCharsets.UTF_8) + "\n" + String.join("\n", bodies) + "\n" + export + "\n" + journal;
        assertThat(journalBytes.length).as("the journal was read").isPositive();
        assertThat(logs.toString(StandardCharsets.UTF_8)).as("the logs were captured").contains("refused Tollgate's credentials");
        for (String secret : List.of(clientKey, clientKey.substring(3, 20), TestGateways.PROVIDER_KEY.reveal(), PROMPT_MARKER)) {
            assertThat(everything).as("nothing written contains " + secret.substring(0, 6) + "...").doesNotContain(secret);
        }
        ReliabilityLog.row("secrets", "secrets in what is written", "requests on every path that logs (success, refusals, provider "
                        + "errors, a provider refusing Tollgate's key, a cut stream, a client that leaves) carrying a marked prompt",
                "no client key, provider key or prompt text in the logs, the journal's bytes, the debit export or any error body",
                bodies.size(), 0, ReliabilityLog.proxyTest("SecretsNeverWrittenTest"));
    }

    private static String chat(String prompt, boolean stream) {
        return "{\"model\":\"gpt-4o-mini\",\"stream\":" + stream + ",\"messages\":[{\"role\":\"user\",\"content\":\"" + prompt + "\"}]}";
    }

    private static byte[] readAll(Path directory) throws IOException {
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        try (Stream<Path> files = Files.walk(directory)) {
            for (Path file : files.filter(Files::isRegularFile).toList()) {
                all.write(Files.readAllBytes(file));
            }
        }
        return all.toByteArray();
    }

    /** Writes to the console as before and keeps a copy to search. */
    private static final class Tee extends OutputStream {
        private final OutputStream console;
        private final ByteArrayOutputStream copy;

        Tee(OutputStream console, ByteArrayOutputStream copy) {
            this.console = console;
            this.copy = copy;
        }

        @Override
        public synchronized void write(int b) throws IOException {
            console.write(b);
            copy.write(b);
        }

        @Override
        public synchronized void write(byte[] bytes, int offset, int length) throws IOException {
            console.write(bytes, offset, length);
            copy.write(bytes, offset, length);
        }
    }
}
