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

            // Tollgate stops reading the provider while the client does not read, so the provider's own socket fills
            // and its writer pauses: waited for as that state itself, not as a counter that looks still for a while.
            long written = pausedFor(stack, 40, System.nanoTime() + TimeUnit.SECONDS.toNanos(60));
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
            ReliabilityLog.row("backpressure", "slow reader", "a client with a 4 KB receive window that stops reading a "
                            + EVENTS + "-event stream, then reads again",
                    "the provider's writer pauses and writes nothing more while the client reads nothing (bounded buffering); "
                            + "the whole stream arrives once it reads, billed in full", 1, 0, ReliabilityLog.proxyTest("BackpressureTest"));
        }
    }

    /**
     * The provider's written-event count once its writer has stayed paused for {@code looks} looks in a row, 5 ms
     * apart, without writing one event more. A provider that nobody holds back pauses too, for an instant, whenever it
     * outruns its socket: such a pause ends within a look or two and the wait starts over.
     */
    private static long pausedFor(ProxyStack stack, int looks, long deadlineNanos) throws InterruptedException {
        while (true) {
            assertThat(System.nanoTime()).as("the provider's writer pauses for Tollgate and stays paused").isLessThan(deadlineNanos);
            long written = stack.sim.sseEventsWritten();
            int held = 0;
            while (held < looks && stack.sim.streamsWaitingForReader() == 1 && stack.sim.sseEventsWritten() == written) {
                Thread.sleep(5);
                held++;
            }
            if (held == looks && stack.sim.streamsWaitingForReader() == 1 && stack.sim.sseEventsWritten() == written) {
                return written;
            }
            Thread.sleep(5);
        }
    }
}
