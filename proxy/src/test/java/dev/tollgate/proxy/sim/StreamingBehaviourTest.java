package dev.tollgate.proxy.sim;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tollgate.proxy.sim.SimTestSupport.SseEvent;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static dev.tollgate.proxy.sim.SimTestSupport.await;
import static dev.tollgate.proxy.sim.SimTestSupport.chat;
import static dev.tollgate.proxy.sim.SimTestSupport.messages;
import static dev.tollgate.proxy.sim.SimTestSupport.openAi;
import static dev.tollgate.proxy.sim.SimTestSupport.parseSse;
import static dev.tollgate.proxy.sim.SimTestSupport.send;
import static org.assertj.core.api.Assertions.assertThat;

/** Chunking, delays, cancellation, backpressure and connection reuse: the transport side of streams. */
class StreamingBehaviourTest {

    private static final Map<String, String> OPENAI_AUTH = Map.of("Authorization", "Bearer k");

    private static String chatStream(String prompt) {
        return chat("gpt-4o-mini", prompt).put("stream", true).toString();
    }

    @Test
    void eachEventIsFlushedAsItsOwnChunk() throws IOException {
        try (SimulatedProvider sim = SimulatedProvider.start(SimulatedProvider.Settings.defaults());
             RawHttp http = new RawHttp(sim.port())) {
            ObjectNode body = chat("gpt-4o-mini", "[sim:events=5]").put("stream", true);
            body.putObject("stream_options").put("include_usage", true);
            http.sendPost("/v1/chat/completions", OPENAI_AUTH, body.toString());
            RawHttp.Response response = http.readChunked();

            assertThat(response.headers()).containsEntry("transfer-encoding", "chunked")
                    .containsEntry("content-type", "text/event-stream; charset=utf-8");
            assertThat(response.terminated()).isTrue();
            assertThat(response.chunks()).hasSize(1 + 5 + 1 + 1 + 1);
            assertThat(response.chunks()).allSatisfy(chunk -> {
                assertThat(chunk).startsWith("data: ").endsWith("\n\n");
                assertThat(chunk.substring(0, chunk.length() - 2)).doesNotContain("\n");
            });
        }
    }

    @Test
    void firstByteDelayFromSettingsAndFromDirective() {
        try (SimulatedProvider sim = SimulatedProvider.start(SimulatedProvider.Settings.defaults().withFirstByteDelayMs(150))) {
            long start = System.nanoTime();
            HttpResponse<String> response = send(openAi(sim, "/chat/completions", chat("gpt-4o", "[sim:events=1]")));
            assertThat(response.statusCode()).isEqualTo(200);
            assertThat(elapsedMs(start)).isGreaterThanOrEqualTo(150);

            start = System.nanoTime();
            send(openAi(sim, "/chat/completions", chat("gpt-4o", "[sim:events=1] [sim:first-byte-ms=0]").put("stream", true)));
            assertThat(elapsedMs(start)).isLessThan(150);

            // Errors are immediate, whatever the delays.
            start = System.nanoTime();
            assertThat(send(openAi(sim, "/chat/completions", chat("gpt-4o", "[sim:error=429]"))).statusCode()).isEqualTo(429);
            assertThat(elapsedMs(start)).isLessThan(150);
        }
    }

    @Test
    void interEventDelaySpacesEveryEvent() throws IOException {
        try (SimulatedProvider sim = SimulatedProvider.start(SimulatedProvider.Settings.defaults());
             RawHttp http = new RawHttp(sim.port())) {
            http.sendPost("/v1/messages", Map.of("x-api-key", "k"),
                    messages("claude-haiku-4-5", "[sim:events=3] [sim:delay-ms=40]", 50).put("stream", true).toString());
            http.readHead();
            List<Long> arrivalsMs = new ArrayList<>();
            long start = System.nanoTime();
            while (http.readChunk() != null) {
                arrivalsMs.add(elapsedMs(start));
            }
            assertThat(arrivalsMs).hasSize(3 + 3 + 3);
            for (int i = 1; i < arrivalsMs.size(); i++) {
                // Scheduler granularity lets a gap come in a little early, never much.
                assertThat(arrivalsMs.get(i) - arrivalsMs.get(i - 1)).as("gap before event %d", i).isGreaterThanOrEqualTo(30);
            }
        }
    }

    @Test
    void settingsDelayAppliesWhenNoDirectiveOverridesIt() {
        try (SimulatedProvider sim = SimulatedProvider.start(SimulatedProvider.Settings.defaults().withInterEventDelayMs(20))) {
            long start = System.nanoTime();
            List<SseEvent> events = parseSse(send(openAi(sim, "/chat/completions", chat("gpt-4o", "[sim:events=5]").put("stream", true))).body());
            assertThat(events).hasSize(1 + 5 + 1 + 1);
            assertThat(elapsedMs(start)).isGreaterThanOrEqualTo(7 * 20 - 10);
        }
    }

    @Test
    void clientClosingMidStreamIsCountedAsCancelled() throws IOException {
        try (SimulatedProvider sim = SimulatedProvider.start(SimulatedProvider.Settings.defaults())) {
            try (RawHttp http = new RawHttp(sim.port())) {
                http.sendPost("/v1/chat/completions", OPENAI_AUTH, chatStream("[sim:events=500] [sim:delay-ms=10]"));
                http.readHead();
                for (int i = 0; i < 3; i++) {
                    assertThat(http.readChunk()).isNotNull();
                }
                assertThat(sim.openStreams()).isEqualTo(1);
                assertThat(sim.streamsCancelledByPeer()).isZero();
            }
            await("the cancelled stream to be counted", () -> sim.streamsCancelledByPeer() == 1);
            await("no open stream", () -> sim.openStreams() == 0);
        }
    }

    @Test
    void httpClientClosingTheBodyIsCountedAsCancelled() throws Exception {
        try (SimulatedProvider sim = SimulatedProvider.start(SimulatedProvider.Settings.defaults())) {
            HttpResponse<InputStream> response = SimTestSupport.CLIENT.send(
                    openAi(sim, "/chat/completions", chat("gpt-4o", "[sim:events=500] [sim:delay-ms=10]").put("stream", true)).build(),
                    HttpResponse.BodyHandlers.ofInputStream());
            try (InputStream body = response.body()) {
                assertThat(body.readNBytes(100)).hasSize(100);
            }
            await("the cancelled stream to be counted", () -> sim.streamsCancelledByPeer() == 1);
            assertThat(sim.openStreams()).isZero();
        }
    }

    @Test
    void closingDuringTheFirstByteDelayIsCountedAsCancelled() throws IOException {
        try (SimulatedProvider sim = SimulatedProvider.start(SimulatedProvider.Settings.defaults())) {
            try (RawHttp http = new RawHttp(sim.port())) {
                http.sendPost("/v1/chat/completions", OPENAI_AUTH, chatStream("[sim:first-byte-ms=5000]"));
                await("the stream to be accepted", () -> sim.openStreams() == 1);
            }
            await("the cancelled stream to be counted", () -> sim.streamsCancelledByPeer() == 1);
            assertThat(sim.openStreams()).isZero();
        }
    }

    @Test
    void finishedAndFailedStreamsAreNotCancellations() throws IOException {
        try (SimulatedProvider sim = SimulatedProvider.start(SimulatedProvider.Settings.defaults())) {
            send(openAi(sim, "/chat/completions", chat("gpt-4o", "[sim:events=3]").put("stream", true)));
            try (RawHttp http = new RawHttp(sim.port())) {
                http.sendPost("/v1/chat/completions", OPENAI_AUTH, chatStream("[sim:events=3] [sim:fail-after=1]"));
                assertThat(http.readChunked().terminated()).isFalse();
            }
            await("no open stream", () -> sim.openStreams() == 0);
            assertThat(sim.streamsCancelledByPeer()).isZero();
        }
    }

    @Test
    void aReaderThatStopsReadingStopsTheWriter() throws IOException {
        int events = 100_000; // ~20 MB of chunks: far more than socket buffers and Netty's high-water mark hold
        try (SimulatedProvider sim = SimulatedProvider.start(SimulatedProvider.Settings.defaults());
             RawHttp http = new RawHttp(sim.port(), 16 * 1024)) {
            http.sendPost("/v1/chat/completions", OPENAI_AUTH, chatStream("[sim:events=" + events + "]"));
            await("the writer to pause for the reader", () -> sim.streamsWaitingForReader() == 1);
            long written = sim.sseEventsWritten();
            // Without backpressure every event would be queued in Netty's outbound buffer by now.
            assertThat(written).as("events written while nobody reads").isLessThan(events / 2);
            assertThat(sim.openStreams()).as("stream still waiting for the reader").isEqualTo(1);

            http.readHead();
            int chunks = 0;
            while (http.readChunk() != null) {
                chunks++;
            }
            assertThat(http.sawLastChunk()).isTrue();
            assertThat(chunks).isEqualTo(1 + events + 1 + 1);
            await("the stream to end", () -> sim.openStreams() == 0);
            assertThat(sim.streamsCancelledByPeer()).isZero();
        }
    }

    @Test
    void keepAliveConnectionsServeRequestAfterRequestAndPipelinedOnesInOrder() throws IOException {
        try (SimulatedProvider sim = SimulatedProvider.start(SimulatedProvider.Settings.defaults());
             RawHttp http = new RawHttp(sim.port())) {
            http.sendPost("/v1/chat/completions", OPENAI_AUTH, chatStream("[sim:events=2]"));
            assertThat(http.readChunked().terminated()).isTrue();

            // Two requests sent back to back: the second waits for the first stream to finish.
            http.sendPost("/v1/chat/completions", OPENAI_AUTH, chatStream("[sim:events=4] [sim:delay-ms=5]"));
            http.sendPost("/v1/chat/completions", OPENAI_AUTH, chatStream("[sim:events=1]"));
            RawHttp.Response first = http.readChunked();
            RawHttp.Response second = http.readChunked();
            assertThat(first.chunks()).hasSize(1 + 4 + 1 + 1);
            assertThat(second.chunks()).hasSize(1 + 1 + 1 + 1);
            assertThat(sim.requestsReceived()).isEqualTo(3);
        }
    }

    @Test
    void manyConcurrentStreamsOnSeveralThreads() throws Exception {
        try (SimulatedProvider sim = SimulatedProvider.start(SimulatedProvider.Settings.defaults().withIoThreads(2))) {
            List<java.util.concurrent.CompletableFuture<HttpResponse<String>>> futures = new ArrayList<>();
            for (int i = 0; i < 50; i++) {
                futures.add(SimTestSupport.CLIENT.sendAsync(
                        openAi(sim, "/chat/completions", chat("gpt-4o", "[sim:events=20] [sim:delay-ms=2]").put("stream", true)).build(),
                        HttpResponse.BodyHandlers.ofString()));
            }
            for (var future : futures) {
                List<SseEvent> events = parseSse(future.get().body());
                assertThat(events).hasSize(1 + 20 + 1 + 1);
            }
            // A client can hold a whole stream a moment before the server's thread counts it closed.
            await("every stream counted closed", () -> sim.openStreams() == 0);
        }
    }


    private static long elapsedMs(long startNanos) {
        return (System.nanoTime() - startNanos) / 1_000_000;
    }
}
