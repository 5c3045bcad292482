package dev.tollgate.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** A client that stops reading stops the provider from writing: Tollgate holds no unbounded buffer in between. */
class BackpressureTest {
    private static final int EVENTS = 120_000;

    @Test
    void aClientThatDoesNotReadPausesTheUpstream() throws Exception {
        try (ProxyStack stack = new ProxyStack(100_000_000); Socket client = new Socket()) {
            client.setReceiveBufferSize(4096);
            client.connect(new InetSocketAddress("127.0.0.1", stack.server.port()));
            String body = "{\"model\":\"gpt-5-mini\",\"stream\":true,\"max_tokens\":" + EVENTS
                    + ",\"messages\":[{\"role\":\"user\",\"content\":\"go [sim:events=" + EVENTS + "]\"}]}";
            byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
            OutputStream out = client.getOutputStream();
            out.write(("POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer " + stack.test.key
                    + "\r\ncontent-type: application/json\r\ncontent-length: " + bytes.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(bytes);
            out.flush();
            InputStream in = client.getInputStream();
            in.readNBytes(512); // the stream has started

            long written = waitUntilStable(stack);
            Thread.sleep(3_000); // a stall of the machine can look like a pause: give a provider that is not held back time to show it
            written = Math.max(written, stack.sim.sseEventsWritten());
            assertThat(written).as("the provider stopped writing while the client did not read").isLessThan(EVENTS / 2);
            assertThat(stack.sim.openStreams()).isEqualTo(1);

            // Reading resumes the flow, all the way to the end.
            byte[] buffer = new byte[65536];
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            String tail = "";
            while (!tail.contains("data: [DONE]") && System.nanoTime() < deadline) {
                int n = in.read(buffer);
                if (n < 0) {
                    break;
                }
                String text = new String(buffer, 0, n, StandardCharsets.US_ASCII);
                tail = (tail + text).substring(Math.max(0, tail.length() + text.length() - 64));
            }
            assertThat(tail).contains("data: [DONE]");
            assertThat(stack.awaitOutcomes(1).get(0).usage().outputTokens()).isEqualTo(EVENTS);
        }
    }

    /** The provider's written-event count once it has not moved for a while. */
    private static long waitUntilStable(ProxyStack stack) throws InterruptedException {
        long previous = -1;
        long current = stack.sim.sseEventsWritten();
        int stableRounds = 0;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (stableRounds < 20 && System.nanoTime() < deadline) {
            Thread.sleep(50);
            previous = current;
            current = stack.sim.sseEventsWritten();
            stableRounds = current == previous ? stableRounds + 1 : 0;
        }
        return current;
    }
}
