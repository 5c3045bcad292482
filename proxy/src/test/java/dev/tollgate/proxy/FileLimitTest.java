package dev.tollgate.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tollgate.metering.ApiKeys;
import dev.tollgate.proxy.sim.SimulatedProvider;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node at its file limit (a child JVM under {@code ulimit -n}) keeps its listener: accepting backs off while
 * no descriptor is free, the process stays up, and ordinary requests are served again as soon as connections close.
 */
class FileLimitTest {
    private static final int FILE_LIMIT = 1024;
    private static final String KEY = "tg-file-limit-test-key";
    private static final String CHAT = "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

    @TempDir
    Path directory;

    @Test
    void theListenerSurvivesTheFileLimitAndServesAgainOnceConnectionsClose() throws Exception {
        try (SimulatedProvider sim = SimulatedProvider.start(SimulatedProvider.Settings.defaults())) {
            Path log = directory.resolve("node.log");
            Process node = startNode(sim.baseUrl(), log);
            List<Socket> idle = new ArrayList<>();
            try {
                int port = awaitPort(node, log);
                HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
                assertThat(chat(http, port).statusCode()).isEqualTo(200);

                // More connections than the node has descriptors: the kernel queues them, the node cannot accept them all.
                for (int i = 0; i < FILE_LIMIT + 200 && !Files.readString(log).contains("Too many open files"); i++) {
                    Socket socket = new Socket();
                    socket.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
                    idle.add(socket);
                }
                awaitLog(log, "Too many open files", node);
                assertThat(node.isAlive()).as("the node outlived its file limit").isTrue();

                int offered = idle.size();
                for (Socket socket : idle) {
                    socket.close();
                }
                idle.clear();
                // Accepting resumes by itself once descriptors are free: an ordinary request is served again.
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                int status = 0;
                while (status != 200) {
                    assertThat(System.nanoTime()).as("served again within 60 s of the connections closing").isLessThan(deadline);
                    try {
                        status = chat(http, port).statusCode();
                    } catch (IOException refusedMeanwhile) {
                        status = 0;
                    }
                }
                assertThat(node.isAlive()).isTrue();
                ReliabilityLog.row("file-limit", "file limit", "a node under ulimit -n " + FILE_LIMIT + " offered " + offered
                                + " idle connections, past its descriptors",
                        "the process and its listener survive (accepting backs off); requests served again once connections close",
                        offered + 2, 0, ReliabilityLog.proxyTest("FileLimitTest"));
            } finally {
                for (Socket socket : idle) {
                    socket.close();
                }
                node.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
            }
        }
    }

    private static HttpResponse<String> chat(HttpClient http, int port) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/chat/completions"))
                .header("authorization", "Bearer " + KEY).header("content-type", "application/json")
                .timeout(Duration.ofSeconds(10)).POST(HttpRequest.BodyPublishers.ofString(CHAT)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private Process startNode(String upstream, Path log) throws IOException {
        List<String> java = new ArrayList<>();
        java.add(ProcessHandle.current().info().command().orElseThrow());
        for (String argument : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (argument.startsWith("--") || argument.startsWith("-D") || argument.startsWith("-Xmx")) {
                java.add(argument);
            }
        }
        java.addAll(List.of("-cp", System.getProperty("java.class.path"), CrashTestNode.class.getName(), directory.resolve("journal").toString(),
                directory.resolve("port").toString(), upstream, TestGateways.ACCOUNT, "50000000", ApiKeys.sha256Hex(KEY)));
        List<String> command = new ArrayList<>(List.of("bash", "-c", "ulimit -n " + FILE_LIMIT + " && exec \"$@\"", "bash"));
        command.addAll(java);
        return new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    private int awaitPort(Process node, Path log) throws Exception {
        Path portFile = directory.resolve("port");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (!Files.exists(portFile)) {
            assertThat(node.isAlive()).as("the node started:\n" + (Files.exists(log) ? Files.readString(log) : "")).isTrue();
            assertThat(System.nanoTime()).as("the node started within 120 s").isLessThan(deadline);
            Thread.sleep(20);
        }
        return Integer.parseInt(Files.readString(portFile).strip());
    }

    private static void awaitLog(Path log, String text, Process node) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!Files.readString(log).contains(text)) {
            assertThat(node.isAlive()).as("the node is alive").isTrue();
            assertThat(System.nanoTime()).as("the node met its file limit ('" + text + "' in its log)").isLessThan(deadline);
            Thread.sleep(20);
        }
    }
}
