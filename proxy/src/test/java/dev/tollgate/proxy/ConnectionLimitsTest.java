package dev.tollgate.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tollgate.config.Limits;
import dev.tollgate.proxy.sim.SimulatedProvider;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

/**
 * Client connections cannot hold the listener: silent and slow sockets are closed at the head-read timeout
 * (slowloris), kept-alive idle ones at the idle timeout but never a slow stream, one over a cap gets a clean
 * 503, many idle ones are held while others are served, and nothing of it touches a balance.
 */
class ConnectionLimitsTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String CHAT = "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

    @Test
    void silentAndSlowSocketsAreClosedAtTheHeadTimeoutWhileOthersAreServed() throws Exception {
        Limits limits = Limits.defaults().withClientConnections(800, 30_000, 10_000, 10_000);
        int silentCount = 40;
        int slowCount = 40;
        try (ProxyStack stack = new ProxyStack(50_000_000, limits, SimulatedProvider.Settings.defaults())) {
            long before = stack.test.available();
            List<Socket> silent = new ArrayList<>();
            List<Socket> slow = new ArrayList<>();
            for (int i = 0; i < silentCount; i++) {
                silent.add(open(stack));
            }
            for (int i = 0; i < slowCount; i++) {
                Socket socket = open(stack);
                socket.getOutputStream().write("POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n".getBytes(StandardCharsets.US_ASCII));
                slow.add(socket);
            }
            // Slowloris: a header byte every 100 ms keeps each socket "active" for ever, unless the whole request is timed.
            Thread dripper = Thread.ofPlatform().start(() -> {
                try {
                    for (int round = 0; round < 40; round++) {
                        for (Socket socket : slow) {
                            try {
                                socket.getOutputStream().write('x');
                            } catch (IOException closed) {
                                // closed by the proxy: what the test waits for
                            }
                        }
                        Thread.sleep(100); // the attacker's pace, not synchronisation
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            assertThat(stack.postOpenAi("/v1/chat/completions", CHAT).statusCode()).as("an ordinary request is served meanwhile").isEqualTo(200);
            for (Socket socket : silent) {
                assertThat(readToEnd(socket)).as("a socket that never spoke is closed without an answer").isEmpty();
            }
            for (Socket socket : slow) {
                String answer = readToEnd(socket);
                assertThat(answer).startsWith("HTTP/1.1 408 ");
                JsonNode error = JSON.readTree(answer.substring(answer.indexOf("\r\n\r\n") + 4));
                assertThat(error.at("/error/code").asText()).isEqualTo("request_timeout");
            }
            dripper.interrupt();
            dripper.join();
            // The JDK client keeps its own connection alive (30 s by default): only that one may stay open.
            await(() -> stack.server.connections().open() <= 1);
            assertThat(stack.server.connections().timedOut()).isGreaterThanOrEqualTo(silentCount + slowCount);
            assertThat(stack.postOpenAi("/v1/chat/completions", CHAT).statusCode()).isEqualTo(200);
            assertThat(stack.test.reserved()).isZero();
            assertThat(stack.test.available()).isLessThan(before); // the two real requests, and nothing for the sockets
            assertThat(stack.test.conservationError()).isZero();
            ReliabilityLog.row("connections", "slowloris", silentCount + " silent sockets and " + slowCount
                            + " sending a header byte every 100 ms, head-read timeout 800 ms",
                    "every one closed at the timeout (408 JSON once a request began); ordinary requests served; nothing reserved",
                    silentCount + slowCount + 2, 0, ReliabilityLog.proxyTest("ConnectionLimitsTest"));
        }
    }

    @Test
    void aConnectionOverTheAddressCapGetsA503AndServiceResumesWhenOthersClose() throws Exception {
        Limits limits = Limits.defaults().withClientConnections(30_000, 30_000, 10_000, 5);
        try (ProxyStack stack = new ProxyStack(50_000_000, limits, SimulatedProvider.Settings.defaults())) {
            long before = stack.test.available();
            List<Socket> held = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                held.add(open(stack));
            }
            await(() -> stack.server.connections().open() == 5);
            Socket refused = open(stack);
            String answer = readToEnd(refused);
            assertThat(answer).startsWith("HTTP/1.1 503 ").containsIgnoringCase("connection: close");
            JsonNode error = JSON.readTree(answer.substring(answer.indexOf("\r\n\r\n") + 4));
            assertThat(error.at("/error/code").asText()).isEqualTo("too_many_connections");
            assertThat(error.at("/error/type").asText()).isEqualTo("server_error");
            assertThat(stack.server.connections().refused()).isEqualTo(1);
            for (Socket socket : held) {
                socket.close();
            }
            await(() -> stack.server.connections().open() == 0);
            assertThat(stack.postOpenAi("/v1/chat/completions", CHAT).statusCode()).isEqualTo(200);
            assertThat(stack.test.reserved()).isZero();
            assertThat(before - stack.test.available()).as("only the one real request was charged").isEqualTo(stack.test.outcomes.peek().debitedMicros());
            ReliabilityLog.row("connections", "connection cap", "6 connections from one address with a cap of 5",
                    "the 6th gets 503 too_many_connections and is closed; served again once the others close; nothing reserved",
                    7, 0, ReliabilityLog.proxyTest("ConnectionLimitsTest"));
        }
    }

    @Test
    void anIdleKeptAliveConnectionIsClosedButASlowStreamIsNot() throws Exception {
        Limits limits = Limits.defaults().withClientConnections(2_000, 400, 10_000, 10_000);
        try (ProxyStack stack = new ProxyStack(50_000_000, limits, SimulatedProvider.Settings.defaults())) {
            // A stream that takes ~2 s, five times the idle timeout: it must arrive whole.
            String stream = "{\"model\":\"gpt-4o-mini\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi [sim:events=20] [sim:delay-ms=100]\"}]}";
            Socket socket = open(stack);
            send(socket, stack, stream);
            String streamed = readUntil(socket, "data: [DONE]\n\n0\r\n\r\n");
            assertThat(streamed).startsWith("HTTP/1.1 200 ").contains("data: [DONE]");
            // Then the connection sits idle: it is closed at the idle timeout, without a byte.
            assertThat(readToEnd(socket)).isEmpty();
            await(() -> stack.server.connections().open() == 0);
            assertThat(stack.server.connections().timedOut()).isEqualTo(1);
            assertThat(stack.test.reserved()).isZero();
        }
    }

    @Test
    void manyIdleConnectionsAreHeldWhileOrdinaryRequestsAreServed() throws Exception {
        int count = Integer.getInteger("tollgate.idleConnections", 2_000);
        Limits limits = Limits.defaults().withClientConnections(300_000, 300_000, count + 100, count + 100);
        try (ProxyStack stack = new ProxyStack(50_000_000, limits, SimulatedProvider.Settings.defaults())) {
            List<Socket> idle = new ArrayList<>(count);
            try {
                for (int i = 0; i < count; i++) {
                    idle.add(open(stack));
                }
                await(() -> stack.server.connections().open() == count);
                for (int i = 0; i < 5; i++) {
                    assertThat(stack.postOpenAi("/v1/chat/completions", CHAT).statusCode()).isEqualTo(200);
                }
                assertThat(stack.server.connections().refused()).isZero();
            } finally {
                for (Socket socket : idle) {
                    socket.close();
                }
            }
            await(() -> stack.server.connections().open() <= 1); // the JDK client's own kept-alive connection may stay
            assertThat(stack.test.reserved()).isZero();
            ReliabilityLog.row("connections", "idle connections", count + " idle client connections held open",
                    "all accepted and held, none refused; ordinary requests served meanwhile; all released on close",
                    count + 5L, 0, ReliabilityLog.proxyTest("ConnectionLimitsTest") + " -Dtollgate.idleConnections=" + count);
        }
    }

    private static Socket open(ProxyStack stack) throws IOException {
        Socket socket = new Socket("127.0.0.1", stack.server.port());
        socket.setSoTimeout(20_000);
        return socket;
    }

    private static void send(Socket socket, ProxyStack stack, String json) throws IOException {
        byte[] body = json.getBytes(StandardCharsets.UTF_8);
        OutputStream out = socket.getOutputStream();
        out.write(("POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer " + stack.test.key
                + "\r\ncontent-type: application/json\r\ncontent-length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.write(body);
        out.flush();
    }

    /** Everything the peer sends until it closes; fails the test if it never closes. */
    private static String readToEnd(Socket socket) throws IOException {
        ByteArrayOutputStream received = new ByteArrayOutputStream();
        InputStream in = socket.getInputStream();
        byte[] buffer = new byte[4096];
        try {
            for (int n; (n = in.read(buffer)) >= 0; ) {
                received.write(buffer, 0, n);
            }
        } catch (SocketTimeoutException e) {
            throw new AssertionError("the proxy kept the connection open; it had sent: " + received.toString(StandardCharsets.UTF_8), e);
        } catch (IOException reset) {
            // closed by the proxy with data unread on its side: a close all the same
        }
        socket.close();
        return received.toString(StandardCharsets.UTF_8);
    }

    private static String readUntil(Socket socket, String end) throws IOException {
        ByteArrayOutputStream received = new ByteArrayOutputStream();
        InputStream in = socket.getInputStream();
        while (!received.toString(StandardCharsets.UTF_8).contains(end)) {
            int b = in.read();
            if (b < 0) {
                break;
            }
            received.write(b);
        }
        return received.toString(StandardCharsets.UTF_8);
    }

    private static void await(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("the condition did not hold within 30 s").isLessThan(deadline);
            Thread.sleep(10);
        }
    }
}
