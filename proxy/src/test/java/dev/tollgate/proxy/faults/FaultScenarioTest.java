package dev.tollgate.proxy.faults;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tollgate.config.ListenerConfig;
import dev.tollgate.config.Limits;
import dev.tollgate.proxy.Outcome;
import dev.tollgate.proxy.ReliabilityLog;
import dev.tollgate.proxy.TestGateways;
import dev.tollgate.proxy.Transport;
import dev.tollgate.proxy.listener.TollgateServer;
import dev.tollgate.proxy.sim.SimulatedProvider;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Each fault the simulated provider can inject, on each surface, streamed and not, and clients that leave
 * mid-stream. After each: the client got a well-formed answer or a clean end (never a hang), the reservation
 * has exactly one outcome, nothing is charged for output never produced, and {@link InvariantChecker} finds the
 * money whole. {@code -Dtollgate.faultRounds=N} repeats every scenario N times (the long form).
 */
class FaultScenarioTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int ROUNDS = Integer.getInteger("tollgate.faultRounds", 1);
    private static final long CLIENT_TIMEOUT_MS = 15_000;

    private static SimulatedProvider sim;
    private static TestGateways test;
    private static TollgateServer server;
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
    private static int requests;

    /** A surface: where to send, how to ask, and how its stream ends well. */
    enum Surface {
        CHAT_STREAM("/v1/chat/completions", true), CHAT_JSON("/v1/chat/completions", false), RESPONSES_STREAM("/v1/responses", true),
        RESPONSES_JSON("/v1/responses", false), MESSAGES_STREAM("/v1/messages", true), MESSAGES_JSON("/v1/messages", false);

        final String path;
        final boolean stream;

        Surface(String path, boolean stream) {
            this.path = path;
            this.stream = stream;
        }

        boolean anthropic() {
            return path.equals("/v1/messages");
        }

        String body(String prompt) {
            String text = JSON.valueToTree(prompt).toString();
            return switch (this) {
                case CHAT_STREAM, CHAT_JSON -> "{\"model\":\"gpt-4o-mini\",\"stream\":" + stream + ",\"max_tokens\":64,\"messages\":[{\"role\":\"user\",\"content\":" + text + "}]}";
                case RESPONSES_STREAM, RESPONSES_JSON -> "{\"model\":\"gpt-4o-mini\",\"stream\":" + stream + ",\"max_output_tokens\":64,\"input\":" + text + "}";
                case MESSAGES_STREAM, MESSAGES_JSON -> "{\"model\":\"claude-haiku-4-5\",\"stream\":" + stream + ",\"max_tokens\":64,\"messages\":[{\"role\":\"user\",\"content\":" + text + "}]}";
            };
        }
    }

    /** What a fault should end in: the client's status and whether anything may be charged. */
    enum Expect {
        ANSWERED,
        /** The provider generated 200 tokens past a cap of 64: billed for what it delivered, never more. */
        PAST_THE_CAP,
        REFUSED_UPSTREAM,
        /** The provider's own error event after 5 deltas: billed for those, recorded as upstream_error_event. */
        PROVIDER_ERROR_EVENT,
        ERROR_PASSED_THROUGH,
        CUT_MID_STREAM,
        /** Settled on Tollgate's own count of the 12 deltas the provider sent: its usage said nothing usable. */
        OWN_COUNT,
        /** A 200 whose body is the provider's error object: passed on, released as upstream_error_body, nothing charged. */
        ERROR_BODY,
        /** A well-formed answer although the provider's request id is hostile bytes: the journal keeps at most 256 of them. */
        HOSTILE_ID
    }

    /** A fault; {@code onJson} is what it ends in on a non-streamed surface, null when the fault exists only in streams. */
    record Fault(String name, String directives, Expect expect, Expect onJson) {
        Fault(String name, String directives, Expect expect) {
            this(name, directives, expect, expect);
        }

        static Fault streamsOnly(String name, String directives, Expect expect) {
            return new Fault(name, directives, expect, null);
        }

        Expect on(Surface surface) {
            return surface.stream ? expect : onJson;
        }
    }

    static List<Fault> faults() {
        return List.of(
                new Fault("latency", "[sim:first-byte-ms=300] [sim:events=8]", Expect.ANSWERED),
                new Fault("first byte later than the timeout", "[sim:first-byte-ms=4000]", Expect.REFUSED_UPSTREAM),
                new Fault("hang before the head", "[sim:hang=before-head]", Expect.REFUSED_UPSTREAM),
                Fault.streamsOnly("hang mid-stream", "[sim:events=30] [sim:hang-after=4]", Expect.CUT_MID_STREAM),
                Fault.streamsOnly("closed mid-stream", "[sim:events=30] [sim:fail-after=4]", Expect.CUT_MID_STREAM),
                new Fault("reset (RST) mid-stream, or instead of a JSON answer", "[sim:events=30] [sim:reset-after=4]",
                        Expect.CUT_MID_STREAM, Expect.REFUSED_UPSTREAM),
                Fault.streamsOnly("truncated SSE event", "[sim:events=30] [sim:truncate-event=6]", Expect.CUT_MID_STREAM),
                Fault.streamsOnly("malformed JSON in an event", "[sim:events=12] [sim:malformed-event=5]", Expect.ANSWERED),
                new Fault("a 200 with an error body", "[sim:events=12] [sim:error-body]", Expect.ERROR_BODY),
                new Fault("request id of hostile bytes", "[sim:events=12] [sim:request-id=hostile]", Expect.HOSTILE_ID),
                new Fault("request id of 4,000 bytes", "[sim:events=12] [sim:request-id=long]", Expect.HOSTILE_ID),
                new Fault("request id with control bytes (malformed HTTP)", "[sim:events=12] [sim:request-id=invalid]", Expect.REFUSED_UPSTREAM),
                new Fault("usage without the output count", "[sim:events=12] [sim:usage=missing]", Expect.OWN_COUNT),
                new Fault("usage output count repeated", "[sim:events=12] [sim:usage=repeated]", Expect.OWN_COUNT),
                new Fault("provider 500", "[sim:error=500]", Expect.ERROR_PASSED_THROUGH),
                new Fault("provider 429", "[sim:error=429]", Expect.ERROR_PASSED_THROUGH),
                new Fault("usage missing", "[sim:events=12] [sim:no-usage]", Expect.ANSWERED),
                new Fault("max_tokens ignored", "[sim:events=200] [sim:ignore-max-tokens]", Expect.PAST_THE_CAP),
                Fault.streamsOnly("provider error event mid-stream", "[sim:events=30] [sim:error-event=5]", Expect.PROVIDER_ERROR_EVENT),
                new Fault("usage negative", "[sim:events=12] [sim:usage=negative]", Expect.ANSWERED),
                new Fault("usage huge (1e12 output tokens)", "[sim:events=12] [sim:usage=huge]", Expect.ANSWERED),
                new Fault("usage whose cost overflows (1e14)", "[sim:events=12] [sim:usage=overflow]", Expect.ANSWERED),
                new Fault("usage beyond a long", "[sim:events=12] [sim:usage=beyond-long]", Expect.ANSWERED),
                new Fault("usage as a string", "[sim:events=12] [sim:usage=string]", Expect.ANSWERED),
                new Fault("usage as a fraction", "[sim:events=12] [sim:usage=fraction]", Expect.ANSWERED));
    }

    static Stream<Arguments> scenarios() {
        List<Arguments> all = new ArrayList<>();
        for (Fault fault : faults()) {
            for (Surface surface : Surface.values()) {
                if (fault.on(surface) == null) {
                    continue; // a fault of streams only
                }
                all.add(Arguments.of(fault.name() + " on " + surface, fault, surface));
            }
        }
        return all.stream();
    }

    @BeforeAll
    static void start() throws Exception {
        sim = SimulatedProvider.start(SimulatedProvider.Settings.defaults());
        Limits d = Limits.defaults();
        // Short upstream timeouts, so a hang ends in a second rather than in ten minutes.
        Limits fast = new Limits(d.maxRequestBodyBytes(), d.maxSseEventBytes(), d.minOutputTokens(), d.promptTokensPerImage(), 1_000, 1_000, 800,
                d.maxAccounts(), d.maxIdleUpstreamConnections())
                .withClientConnections(d.headReadTimeoutMs(), 2_000, d.maxClientConnections(), d.maxClientConnectionsPerAddress());
        test = new TestGateways(sim.baseUrl(), 500_000_000, fast);
        server = TollgateServer.start(test.gateway, new ListenerConfig("127.0.0.1", 0), 2, Transport.best());
    }

    @AfterAll
    static void stop() {
        try {
            InvariantChecker.Report report = InvariantChecker.check(test);
            ReliabilityLog.row("faults", "provider faults", "latency, a first byte past the timeout, hang before the head and mid-stream, "
                            + "close and reset (RST) mid-stream, a truncated event, malformed JSON in an event, provider 500/429, a 200 with an error body, "
                            + "a provider error event mid-stream, request ids of hostile bytes, of control bytes and of 4,000 bytes, max_tokens ignored, "
                            + "usage absent / without the output count / repeated / negative / 1e12 / 1e14 / beyond a long / a string / a fraction; "
                            + "on chat, Responses and Messages, streamed and not; " + ROUNDS + " round(s)",
                    "a well-formed answer or clean end; one outcome per reservation; nothing charged without output; conservation; journal == counters",
                    requests, report.violations().size(), ReliabilityLog.proxyTest("FaultScenarioTest"));
            report.assertHolds();
            assertTheDebitExportSaysWhatWasBilled();
        } finally {
            server.close();
            sim.close();
            test.close();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scenarios")
    void aFaultEndsCleanlyWithOneOutcome(String name, Fault fault, Surface surface) throws Exception {
        for (int round = 0; round < ROUNDS; round++) {
            int outcomesBefore = test.outcomes.size();
            long availableBefore = test.available();
            HttpResponse<String> response = send(surface, "Tell me something. " + fault.directives());
            requests++;
            Outcome outcome = awaitOutcome(outcomesBefore);
            assertThat(test.outcomes).as(name + ": exactly one outcome").hasSize(outcomesBefore + 1);
            assertWellFormed(name, surface, response);
            long charged = availableBefore - test.available();
            assertThat(charged).as(name + ": what was charged is what was debited").isEqualTo(outcome.debitedMicros());
            switch (fault.on(surface)) {
                case ANSWERED -> {
                    assertThat(response.statusCode()).as(name).isEqualTo(200);
                    assertThat(outcome.status()).as(name).isEqualTo(Outcome.SETTLED);
                    assertThat(outcome.usage().outputTokens()).as(name + ": never beyond the cap sent").isLessThanOrEqualTo(64);
                }
                case PAST_THE_CAP -> {
                    assertThat(response.statusCode()).as(name).isEqualTo(200);
                    assertThat(outcome.usage().outputTokens()).as(name + ": no more than was generated").isLessThanOrEqualTo(200);
                }
                case PROVIDER_ERROR_EVENT -> {
                    assertThat(response.statusCode()).as(name).isEqualTo(200);
                    assertThat(response.body()).as(name + ": the provider's event reached the client").contains("error");
                    assertThat(outcome.reason()).as(name).isEqualTo("upstream_error_event");
                    assertThat(outcome.usage().outputTokens()).as(name + ": only the output before the error").isBetween(1L, 5L);
                }
                case REFUSED_UPSTREAM -> {
                    assertThat(response.statusCode()).as(name).isIn(502, 504);
                    assertThat(outcome.status()).as(name + ": no output, no charge").isEqualTo(Outcome.RELEASED);
                    assertThat(charged).isZero();
                }
                case ERROR_PASSED_THROUGH -> {
                    assertThat(response.statusCode()).as(name).isGreaterThanOrEqualTo(400);
                    assertThat(outcome.status()).as(name).isEqualTo(Outcome.RELEASED);
                    assertThat(charged).isZero();
                }
                case CUT_MID_STREAM -> {
                    assertThat(response.statusCode()).as(name).isEqualTo(200);
                    assertThat(outcome.usage().outputTokens()).as(name + ": only the output that was produced").isLessThanOrEqualTo(4);
                }
                case OWN_COUNT -> {
                    assertThat(response.statusCode()).as(name).isEqualTo(200);
                    assertThat(outcome.status()).as(name).isEqualTo(Outcome.SETTLED);
                    assertThat(outcome.usage().outputTokens()).as(name + ": the 12 tokens Tollgate counted, not the provider's number").isEqualTo(12);
                }
                case ERROR_BODY -> {
                    assertThat(response.statusCode()).as(name).isEqualTo(200);
                    assertThat(JSON.readTree(response.body()).has("error")).as(name + ": the provider's error reached the client").isTrue();
                    assertThat(outcome.status()).as(name).isEqualTo(Outcome.RELEASED);
                    assertThat(outcome.reason()).as(name).isEqualTo("upstream_error_body");
                    assertThat(charged).isZero();
                }
                case HOSTILE_ID -> {
                    assertThat(response.statusCode()).as(name).isEqualTo(200);
                    assertThat(outcome.status()).as(name).isEqualTo(Outcome.SETTLED);
                    assertThat(outcome.usage().outputTokens()).as(name).isEqualTo(12);
                    assertThat(outcome.upstreamRequestId()).as(name + ": the id kept is visible ASCII, at most 256 bytes, starting as sent")
                            .startsWith("req_%C3%A9").matches("[!-~]{1,256}");
                }
            }
            assertThat(test.reserved()).as(name + ": nothing left held").isZero();
        }
    }

    @ParameterizedTest(name = "client leaves after {1} bytes of a {0} stream")
    @MethodSource("departures")
    void aClientThatLeavesMidStreamPaysOnlyForWhatWasGenerated(Surface surface, int bytesRead) throws Exception {
        int outcomesBefore = test.outcomes.size();
        HttpRequest request = request(surface, "Tell me a long story. [sim:events=400] [sim:delay-ms=5]");
        HttpResponse<InputStream> response = HTTP.send(request, HttpResponse.BodyHandlers.ofInputStream());
        try (InputStream body = response.body()) {
            body.readNBytes(bytesRead);
        } // closed early: the client is gone
        requests++;
        Outcome outcome = awaitOutcome(outcomesBefore);
        // The JDK client may keep a closed stream's connection open without reading: then backpressure stops the
        // upstream reads, and the client idle timeout ends the exchange as stalled (the provider is not to blame).
        // Either way, one outcome within the cap.
        assertThat(outcome.reason()).isIn("client_disconnected", "completed", "client_stalled");
        assertThat(outcome.usage().outputTokens()).as("never beyond the cap sent").isLessThanOrEqualTo(64);
        awaitNothingHeld();
    }

    /**
     * A client that stops reading a long stream: Tollgate stops reading the provider for it (backpressure), and once
     * the client has read nothing for the client idle timeout the stream is cut as the client's stall, not blamed
     * on the provider as an upstream timeout; what was generated is billed and nothing stays held.
     */
    @org.junit.jupiter.api.Test
    void aClientThatStopsReadingIsCutAsStalledNotAsAnUpstreamTimeout() throws Exception {
        int outcomesBefore = test.outcomes.size();
        String body = "{\"model\":\"gpt-4o-mini\",\"stream\":true,\"max_tokens\":200000,"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"[sim:events=200000]\"}]}";
        try (java.net.Socket socket = new java.net.Socket()) {
            socket.setReceiveBufferSize(4 * 1024);
            socket.connect(new java.net.InetSocketAddress("127.0.0.1", server.port()), 5_000);
            socket.getOutputStream().write(("POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer " + test.key
                    + "\r\ncontent-type: application/json\r\ncontent-length: " + body.length() + "\r\n\r\n" + body)
                    .getBytes(StandardCharsets.US_ASCII));
            socket.getOutputStream().flush();
            socket.getInputStream().readNBytes(1); // the stream has begun; from here the client reads nothing
            requests++;
            Outcome outcome = awaitOutcome(outcomesBefore);
            assertThat(outcome.reason()).isEqualTo("client_stalled");
            assertThat(outcome.usage().outputTokens()).as("billed for what was generated before the stall").isBetween(1L, 200_000L);
        }
        awaitNothingHeld();
    }

    static Stream<Arguments> departures() {
        return Stream.of(Surface.CHAT_STREAM, Surface.RESPONSES_STREAM, Surface.MESSAGES_STREAM)
                .flatMap(surface -> Stream.of(0, 1, 200, 2_000).map(bytes -> Arguments.of(surface, bytes)));
    }

    /**
     * Every settled outcome has its row in the debit export, with the usage that was billed (never a provider's
     * number that was replaced) and the same word on whether the provider reported it.
     */
    private static void assertTheDebitExportSaysWhatWasBilled() {
        StringBuilder csv = new StringBuilder();
        dev.tollgate.journal.reconcile.DebitExport.write(test.journal, 0, Long.MAX_VALUE, java.util.Map.of(), csv);
        String[] lines = csv.toString().split("\n");
        List<String> header = List.of(lines[0].split(","));
        java.util.Map<String, String[]> rows = new java.util.HashMap<>();
        for (int i = 1; i < lines.length; i++) {
            String[] fields = lines[i].split(",", -1);
            assertThat(fields).as("a row without quoted commas: " + lines[i]).hasSize(header.size());
            rows.put(fields[header.indexOf("request_id")], fields);
        }
        List<Outcome> settled = test.outcomes.stream().filter(o -> o.status().equals(Outcome.SETTLED)).toList();
        assertThat(rows).as("one export row per settled outcome").hasSize(settled.size());
        for (Outcome outcome : settled) {
            String[] row = rows.get(outcome.requestId());
            assertThat(row).as(outcome.requestId()).isNotNull();
            assertThat(Long.parseLong(row[header.indexOf("output_tokens")])).as(outcome.requestId()).isEqualTo(outcome.usage().outputTokens());
            assertThat(Long.parseLong(row[header.indexOf("input_tokens")])).as(outcome.requestId()).isEqualTo(outcome.usage().inputTokens());
            assertThat(Boolean.parseBoolean(row[header.indexOf("usage_reported_by_provider")])).as(outcome.requestId())
                    .isEqualTo(outcome.usageReportedByProvider());
            assertThat(Long.parseLong(row[header.indexOf("debited_micros")])).as(outcome.requestId()).isEqualTo(outcome.debitedMicros());
            assertThat(outcome.usage().outputTokens()).as(outcome.requestId() + ": no provider number beyond the bound").isLessThanOrEqualTo(200_000);
        }
    }

    private static void assertWellFormed(String name, Surface surface, HttpResponse<String> response) throws Exception {
        String body = response.body();
        if (response.statusCode() != 200 || !surface.stream) {
            JsonNode json = JSON.readTree(body);
            assertThat(json.isObject()).as(name + ": a whole JSON body").isTrue();
            if (response.statusCode() != 200) {
                assertThat(json.has("error")).as(name + ": the provider's error shape").isTrue();
            }
            return;
        }
        boolean endedWell = body.endsWith("data: [DONE]\n\n") || body.contains("event: message_stop") || body.contains("event: response.completed")
                || body.contains("event: response.incomplete");
        boolean endedWithError = body.contains("\"error\"");
        assertThat(endedWell || endedWithError).as(name + ": the stream ends with its own ending or an error event:\n" + tail(body)).isTrue();
    }

    private static String tail(String body) {
        return body.length() <= 600 ? body : body.substring(body.length() - 600);
    }

    private static HttpResponse<String> send(Surface surface, String prompt) throws Exception {
        return HTTP.send(request(surface, prompt), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    }

    private static HttpRequest request(Surface surface, String prompt) {
        HttpRequest.Builder builder = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + surface.path))
                .timeout(Duration.ofMillis(CLIENT_TIMEOUT_MS))
                .header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(surface.body(prompt)));
        if (surface.anthropic()) {
            builder.header("x-api-key", test.key).header("anthropic-version", "2023-06-01");
        } else {
            builder.header("authorization", "Bearer " + test.key);
        }
        return builder.build();
    }

    private static Outcome awaitOutcome(int outcomesBefore) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (test.outcomes.size() <= outcomesBefore) {
            assertThat(System.nanoTime()).as("the exchange got an outcome within 20 s").isLessThan(deadline);
            Thread.sleep(5);
        }
        return new ArrayList<>(test.outcomes).get(outcomesBefore);
    }

    private static void awaitNothingHeld() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (test.reserved() != 0) {
            assertThat(System.nanoTime()).as("nothing held within 20 s").isLessThan(deadline);
            Thread.sleep(5);
        }
    }
}
